"""Synthetic WeChat exports for benchmarks: WeChatMsg CSV and chatlog JSON.

``generate(dest, n, seed)`` writes ``dest/护卫队值班群_utf8.csv`` as WeChatMsg / MemoTrace
does (UTF-8 with BOM, CRLF rows, ``csv`` quoting, numeric ``TalkerId``): a group chat of n
messages from 40 members — ~90 % text (Chinese/English/emoji, 1 in 16 multi-line), images,
voice, video and stickers (XML ``StrContent`` over several lines), links, files, quotes,
red packets, locations, join lines and recall notices. ``generate_chatlog(dest, n, seed)``
writes the same mix as chatlog's ``/api/v1/chatlog?format=json`` array
(``dest/chatlog_护卫队.json``). Deterministic per seed; rows are built from pools and
written in batches, far above 200k messages/s.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import synthetic_text  # noqa: E402

_POOL = 4096
_BATCH = 10_000
_MEMBERS = 40
_START_S = 1_767_196_800  # 2026-01-01 00:00:00 +08:00
_HEADER = (
    "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,"
    "Remark,NickName,Sender\r\n"
)
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_IMAGE = (
    '<?xml version="1.0"?>\n<msg>\n\t<img aeskey="5a1c0e3f9b2d4c6e" encryver="1" '
    'cdnthumblength="3012" length="52413" md5="{md5}" />\n</msg>\n'
)
_VOICE = '<msg><voicemsg endflag="1" voiceformat="4" voicelength="{ms}" length="7168" /></msg>'
_VIDEO = (
    '<?xml version="1.0"?>\n<msg>\n\t<videomsg length="1048576" playlength="{s}" '
    'md5="{md5}" />\n</msg>\n'
)
_STICKER = '<msg><emoji type="2" md5="{md5}" len="10240" width="240" height="240" /></msg>'
_LOCATION = (
    '<?xml version="1.0"?>\n<msg>\n\t<location x="31.230416" y="121.473701" scale="15" '
    'label="上海市黄浦区人民大道200号" poiname="人民广场" />\n</msg>\n'
)
_LINK = (
    '<?xml version="1.0"?>\n<msg>\n\t<appmsg appid="" sdkver="0">\n\t\t<title>{title}</title>\n'
    "\t\t<type>5</type>\n\t\t<url>https://mp.weixin.qq.com/s/{md5}</url>\n\t</appmsg>\n</msg>\n"
)
_FILE = (
    '<?xml version="1.0"?>\n<msg>\n\t<appmsg appid="" sdkver="0">\n'
    "\t\t<title>{title}.xlsx</title>\n\t\t<type>6</type>\n\t\t<md5>{md5}</md5>\n\t</appmsg>\n</msg>\n"
)
_QUOTE = (
    '<?xml version="1.0"?>\n<msg>\n\t<appmsg appid="" sdkver="0">\n\t\t<title>{title}</title>\n'
    "\t\t<type>57</type>\n\t\t<refermsg>\n\t\t\t<type>1</type>\n\t\t\t<displayname>队员07</displayname>"
    "\n\t\t\t<content>{quoted}</content>\n\t\t</refermsg>\n\t</appmsg>\n</msg>\n"
)
_REDPACKET = (
    '<?xml version="1.0"?>\n<msg>\n\t<appmsg appid="" sdkver="0">\n'
    "\t\t<title>辛苦了，大吉大利</title>\n\t\t<type>2001</type>\n\t</appmsg>\n</msg>\n"
)


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _clock(n: int) -> tuple[list[str], list[str]]:
    """Return enough dates from 2026-01-01 for ``n`` messages, and a day's clock times."""
    days: list[str] = []
    needed = n * 32 // 86400 + 2  # messages are at most 32 s apart
    year = 2026
    while len(days) < needed:
        leap = year % 4 == 0
        for month, length in enumerate(_DAYS_IN_MONTH, start=1):
            days.extend(
                f"{year}-{month:02d}-{day:02d}"
                for day in range(1, length + (month == 2 and leap) + 1)
            )
        year += 1
    two = [f"{i:02d}" for i in range(60)]
    clock = [f"{h}:{m}:{s}" for h in two[:24] for m in two for s in two]
    return days, clock


def _pools(rng: random.Random) -> tuple[list[str], list[tuple[int, int, str]]]:
    """Return text messages and (type, subtype, StrContent) media/app/system messages."""
    texts = [synthetic_text(rng) for _ in range(_POOL)]
    for j in range(0, _POOL, 16):
        texts[j] += "\n" + synthetic_text(rng)
    md5 = [f"{rng.getrandbits(128):032x}" for _ in range(64)]
    other: list[tuple[int, int, str]] = []
    for k in range(256):
        h, title = md5[k % 64], synthetic_text(rng)[:20]
        other += [
            (3, 0, _IMAGE.format(md5=h)),
            (3, 0, _IMAGE.format(md5=h)),
            (34, 0, _VOICE.format(ms=1000 + k * 37)),
            (43, 0, _VIDEO.format(s=3 + k % 50, md5=h)),
            (47, 0, _STICKER.format(md5=h)),
            (48, 0, _LOCATION),
            (49, 5, _LINK.format(title=title, md5=h)),
            (49, 6, _FILE.format(title=title, md5=h)),
            (49, 57, _QUOTE.format(title=synthetic_text(rng), quoted=texts[k])),
            (49, 2001, _REDPACKET),
            (10000, 0, f'"队员{k % _MEMBERS:02d}"邀请"访客{k}"加入了群聊'),
            (10000, 0, f'"队员{k % _MEMBERS:02d}" 撤回了一条消息'),
        ]
    return texts, other


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write a WeChatMsg CSV of ``n`` group messages under ``dest``; return the file."""
    rng = random.Random(seed)
    bits = rng.getrandbits
    days, clock = _clock(n)
    texts, other = _pools(rng)
    text_fields = [_csv_field(t) for t in texts]
    other_fields = [(f",27,{t},{s},0,", f",0,{_csv_field(c)}") for t, s, c in other]
    members = [f",,队员{i:02d},wxid_guard{i:02d}\r\n" for i in range(_MEMBERS)]
    system = ",,,\r\n"
    dates = [f",{d} " for d in days]
    theirs, mine = (",27,1,0,0,", ",0,"), (",27,1,0,1,", ",2,")
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "护卫队值班群_utf8.csv"
    secs = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        f.write(_HEADER)
        buf: list[str] = []
        for i in range(1, n + 1):
            secs += bits(5)
            ts = _START_S + secs
            day, sec = divmod(secs, 86400)
            when = dates[day] + clock[sec]
            who = bits(8) % _MEMBERS
            if bits(4):  # 15 in 16: text
                before, after = mine if who == 0 else theirs
                text = text_fields[bits(12)]
                buf.append(f"{i}{before}{ts}{after}{text}{when}{members[who]}")
            else:
                k = bits(12) % len(other)
                before, after = other_fields[k]
                who_text = system if other[k][0] == 10000 else members[who]
                buf.append(f"{i}{before}{ts}{after}{when}{who_text}")
            if len(buf) >= _BATCH:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    return path


def generate_chatlog(dest: Path, n: int, seed: int = 0) -> Path:
    """Write a chatlog JSON array of ``n`` group messages under ``dest``; return the file."""
    rng = random.Random(seed)
    bits = rng.getrandbits
    days, clock = _clock(n)
    texts = [
        f'"type":1,"subType":0,"content":{json.dumps(t, ensure_ascii=False)}}}'
        for t in _pools(rng)[0]
    ]
    head = '"talker":"45012345678@chatroom","talkerName":"护卫队值班群","isChatRoom":true,'
    senders = [
        head
        + f'"sender":"wxid_guard{i:02d}","senderName":"队员{i:02d}","isSelf":{str(i == 0).lower()},'
        for i in range(_MEMBERS)
    ]
    times = [f'T{c}+08:00",' for c in clock]
    recalls = [f'"\\"队员{i:02d}\\" 撤回了一条消息"}}' for i in range(_MEMBERS)]
    media = [
        '"type":3,"subType":0,"content":"","contents":{"md5":"7c3d2b1a0f9e8d7c6b5a49382716a5b4"}}',
        '"type":34,"subType":0,"content":"","contents":{"voice":"6104851239018573821"}}',
        '"type":49,"subType":6,"content":"","contents":{"title":"排班表.xlsx","md5":"9f86d081"}}',
        '"type":49,"subType":5,"content":"","contents":{"title":"安全须知","url":"https://mp.weixin.qq.com/s/x"}}',
    ]
    system = head + (
        '"sender":"系统消息","senderName":"","isSelf":false,"type":10000,"subType":0,"content":'
    )
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "chatlog_护卫队.json"
    secs = 0
    with path.open("w", encoding="utf-8") as f:
        f.write("[")
        buf: list[str] = []
        for i in range(n):
            secs += bits(5) + 1
            day, sec = divmod(secs, 86400)
            stamp = f'{{"seq":{(_START_S + secs) * 1000},"time":"{days[day]}{times[sec]}'
            roll = bits(5)
            if roll > 3:
                body = senders[bits(8) % _MEMBERS] + texts[bits(12)]
            elif roll > 0:
                body = senders[bits(8) % _MEMBERS] + media[bits(2)]
            else:
                body = system + recalls[bits(8) % _MEMBERS]
            buf.append(("," if i else "") + stamp + body)
            if len(buf) >= _BATCH:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf) + "]")
    return path
