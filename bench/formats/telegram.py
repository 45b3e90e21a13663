"""Synthetic Telegram Desktop account export (``result.json``) for benchmarks.

``generate(dest, n, seed)`` writes ``dest/telegram_export/result.json``: an account export
(personal information, a contact list, then ``chats.list``) whose n messages are split over
a supergroup (60%), a personal chat (30%) and a basic group (10%). Mostly Chinese/English
text with entity lists, replies, edits, forwards, photos and voice messages "(File not
included…)", stickers, service messages. Laid out as Telegram Desktop writes it (one-space
indentation, ``date`` local to Asia/Shanghai plus ``date_unixtime``). Deterministic per
seed; messages are built from pre-escaped pools, so writing stays above 200k messages/s.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import synthetic_text  # noqa: E402

_START_S = 1_767_196_800  # 2026-01-01T00:00:00+08:00
_SHANGHAI_S = 8 * 3600
_POOL = 4096
_BATCH = 50_000  # pieces of text held before a write
_NOT = json.dumps("(File not included. Change data exporting settings to download.)")
_I = "     "  # a message's fields sit five levels deep in an account export


_CLOCK = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
_DAYS: dict[int, str] = {}


def _local(secs: int) -> str:
    """Return the Asia/Shanghai ISO local time of an epoch (no DST there)."""
    days, rem = divmod(secs + _SHANGHAI_S, 86400)
    day = _DAYS.get(days)
    if day is None:
        y, m, d = _civil(days)
        day = _DAYS[days] = f"{y:04d}-{m:02d}-{d:02d}T"
    return day + _CLOCK[rem]


def _civil(days: int) -> tuple[int, int, int]:
    """Return (year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _text_fields(text: str, rng: random.Random) -> str:
    """Return the text and text_entities fields, sometimes with a bold entity."""
    t = json.dumps(text, ensure_ascii=False)
    if rng.random() < 0.15:
        head = json.dumps("注意：", ensure_ascii=False)
        ent = f'[\n{_I} {{\n{_I}  "type": "bold",\n{_I}  "text": {head}\n{_I} }},\n{_I} {t}\n{_I}]'
        ents = (
            f'[\n{_I} {{\n{_I}  "type": "bold",\n{_I}  "text": {head}\n{_I} }},\n'
            f'{_I} {{\n{_I}  "type": "plain",\n{_I}  "text": {t}\n{_I} }}\n{_I}]'
        )
        return f'{_I}"text": {ent},\n{_I}"text_entities": {ents}\n'
    ents = f'[\n{_I} {{\n{_I}  "type": "plain",\n{_I}  "text": {t}\n{_I} }}\n{_I}]'
    return f'{_I}"text": {t},\n{_I}"text_entities": {ents}\n'


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write an account export of ``n`` messages under ``dest``; return its result.json."""
    rng = random.Random(seed)
    bits = rng.getrandbits
    root = dest / "telegram_export"
    root.mkdir(parents=True, exist_ok=True)
    path = root / "result.json"
    texts = [_text_fields(synthetic_text(rng), rng) for _ in range(_POOL)]
    users = [
        (f"user{1000 + i}", json.dumps(f"队员{i:03d} Guard{i}", ensure_ascii=False))
        for i in range(200)
    ]
    users[0] = ("user111", json.dumps("Li Wei 李伟", ensure_ascii=False))
    customer = ("user5012345678", json.dumps("张三 Zhang", ensure_ascii=False))
    empty_text = f'{_I}"text": "",\n{_I}"text_entities": []\n'
    chats = [
        ("护卫队值班群", "private_supergroup", 1888000002, (n * 6) // 10),
        ("张三 Zhang", "personal_chat", 5012345678, (n * 3) // 10),
    ]
    chats.append(("夜班小组", "private_group", 444000, n - chats[0][3] - chats[1][3]))
    header = (
        "{\n"
        ' "about": "Here is the data you requested from Telegram.",\n'
        ' "personal_information": {\n  "user_id": 111,\n  "first_name": "Li Wei",\n'
        '  "last_name": "李伟",\n  "phone_number": "+86 138 0013 8000"\n },\n'
        ' "contacts": {\n  "about": "Contacts.",\n  "list": [\n   {\n'
        '    "user_id": 5012345678,\n    "first_name": "张三",\n    "last_name": "Zhang",\n'
        '    "phone_number": "+86 139 0000 0000",\n    "date": "2026-01-01T08:00:00",\n'
        '    "date_unixtime": "1767225600"\n   }\n  ]\n },\n'
        ' "chats": {\n  "about": "This page lists all chats from this export.",\n  "list": [\n'
    )
    secs = _START_S
    with path.open("w", encoding="utf-8") as f:
        f.write(header)
        for c, (name, chat_type, chat_id, count) in enumerate(chats):
            f.write(
                ("" if c == 0 else ",\n")
                + f'   {{\n    "name": {json.dumps(name, ensure_ascii=False)},\n'
                f'    "type": "{chat_type}",\n    "id": {chat_id},\n    "messages": ['
            )
            people = [users[0], customer] if chat_type == "personal_chat" else users
            froms = [f'{_I}"from": {w},\n{_I}"from_id": "{wid}",\n' for wid, w in people]
            actors = [
                f'{_I}"actor": {w},\n{_I}"actor_id": "{wid}",\n{_I}"action": "invite_members",\n'
                for wid, w in people
            ]
            message_head = f',\n    {{\n{_I}"id": '
            plain_date = f',\n{_I}"type": "message",\n{_I}"date": "'
            unix = f'",\n{_I}"date_unixtime": "'
            unix_end = '",\n'
            buf: list[str] = []
            for i in range(1, count + 1):
                secs += 1 + bits(5)
                days, rem = divmod(secs + _SHANGHAI_S, 86400)
                date = (_DAYS.get(days) or _local(secs)[:11]) + _CLOCK[rem]
                who = bits(8) % len(people)
                roll = bits(7)  # 0..127
                lead = message_head if i > 1 else message_head[1:]
                if roll > 21:  # the common case, appended in pieces (no formatting)
                    buf += (lead, str(i), plain_date, date, unix, str(secs), unix_end, froms[who])
                    buf += (texts[bits(12)], "    }")
                    if len(buf) >= _BATCH:
                        f.write("".join(buf))
                        buf.clear()
                    continue
                head = (
                    f'{lead}{i},\n{_I}"type": "{"service" if roll == 0 else "message"}",'
                    f'\n{_I}"date": "{date}",\n{_I}"date_unixtime": "{secs}",\n'
                )
                if roll == 0:
                    body = (
                        f'{actors[who]}{_I}"members": [\n'
                        f"{_I} {users[bits(7)][1]}\n{_I}],\n{empty_text}"
                    )
                else:
                    body = froms[who]
                    if roll < 6:
                        body += f'{_I}"edited": "{_local(secs + 60)}",\n'
                        body += f'{_I}"edited_unixtime": "{secs + 60}",\n'
                    if i > 1 and roll % 9 == 1:
                        body += f'{_I}"reply_to_message_id": {i - 1 - bits(4) % (i - 1)},\n'
                    if roll < 10:
                        body += f'{_I}"photo": {_NOT},\n{_I}"width": 1280,\n{_I}"height": 960,\n'
                        body += texts[bits(12)]
                    elif roll < 16:
                        body += (
                            f'{_I}"file": {_NOT},\n{_I}"media_type": "voice_message",\n'
                            f'{_I}"mime_type": "audio/ogg",\n'
                            f'{_I}"duration_seconds": {1 + bits(5)},\n{empty_text}'
                        )
                    elif roll < 19:
                        body += (
                            f'{_I}"file": {_NOT},\n{_I}"thumbnail": {_NOT},\n'
                            f'{_I}"media_type": "sticker",\n{_I}"sticker_emoji": "👍",\n'
                            + empty_text
                        )
                    else:
                        body += f'{_I}"forwarded_from": "骑手调度中心",\n' + texts[bits(12)]
                buf += (head, body, "    }")
                if len(buf) >= _BATCH:
                    f.write("".join(buf))
                    buf.clear()
            f.write("".join(buf))
            f.write("\n    ]\n   }")
        f.write("\n  ]\n }\n}\n")
    return path
