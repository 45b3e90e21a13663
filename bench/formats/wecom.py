"""Synthetic WeCom chat-archive export (decrypted messages, JSON lines) for benchmarks.

``generate(dest, n, seed)`` writes ``dest/wecom_archive.jsonl``: n messages over 50 group
rooms and one-to-one chats, mostly Chinese/English text, with images, files, voice, links,
locations, stickers, chat-record bundles, recalls, consent (agree) and switch records.
Deterministic per seed; lines are built from pre-escaped pools, so writing stays far above
200k messages/s.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import synthetic_text  # noqa: E402

_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_POOL = 4096
_BATCH = 10_000


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write an archive of ``n`` messages under ``dest``; return the file to import."""
    rng = random.Random(seed)
    bits = rng.getrandbits
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "wecom_archive.jsonl"
    texts = [json.dumps(synthetic_text(rng), ensure_ascii=False) for _ in range(_POOL)]
    text_bodies = [f'"msgtype":"text","text":{{"content":{t}}}}}' for t in texts]
    users = [f"guard{i:04d}" for i in range(400)] + [f"wmErxtDgAA{i:022d}" for i in range(112)]
    rooms = [f"wrOgQhDgAA{seed % 10_000:04d}Room{i:012d}" for i in range(50)]
    senders: list[str] = []
    heads: list[str] = []
    for j in range(_POOL):
        sender, peer = users[rng.randrange(len(users))], users[rng.randrange(len(users))]
        room = rooms[j % len(rooms)] if j % 10 < 7 else ""  # 70% group, 30% one-to-one
        senders.append(sender)
        heads.append(f'"from":"{sender}","tolist":["{peer}"],"roomid":"{room}"')
    heads_b = [h.encode() for h in heads]
    text_bodies_b = [b.encode() for b in text_bodies]
    md5s = [f"{rng.getrandbits(128):032x}" for _ in range(_POOL)]
    suffix = f"88464191834368{seed % 100_000:05d}_17739876"
    prev = ""
    lines: list[bytes] = []  # bytes: joining and writing need no re-encoding
    with path.open("wb") as f:
        for i in range(n):
            msgid = f"{i:010d}{suffix}"
            ms = _START_MS + i * 1500 + bits(10)
            who = bits(12)
            roll = bits(7)  # 0..127
            if roll < 100:
                lines.append(
                    b'{"msgid":"%s","action":"send",%s,"msgtime":%d,%s\n'
                    % (msgid.encode(), heads_b[who], ms, text_bodies_b[bits(12)])
                )
                prev = msgid
                continue
            sender = senders[who]
            common = f'{{"msgid":"{msgid}","action":"send",{heads[who]},"msgtime":{ms},'
            md5 = md5s[bits(12)]
            if roll < 106:
                body = (
                    f'"msgtype":"image","image":{{"md5sum":"{md5}","filesize":{bits(20)},'
                    f'"sdkfileid":"CtYBMz{md5}"}}}}'
                )
            elif roll < 109:
                body = (
                    f'"msgtype":"file","file":{{"md5sum":"{md5}","filename":"巡逻记录{i}.xlsx",'
                    f'"fileext":"xlsx","filesize":{bits(20)},"sdkfileid":"CtYBFi{md5}"}}}}'
                )
            elif roll < 111:
                body = (
                    f'"msgtype":"voice","voice":{{"md5sum":"{md5}","voice_size":{bits(14)},'
                    f'"play_length":{bits(5)},"sdkfileid":"CtYBVo{md5}"}}}}'
                )
            elif roll < 113:
                body = (
                    f'"msgtype":"link","link":{{"title":{texts[bits(12)]},"description":"",'
                    f'"link_url":"https://intranet.example.com/a/{i}","image_url":""}}}}'
                )
            elif roll < 114:
                body = (
                    '"msgtype":"location","location":{"longitude":116.58,"latitude":39.91,'
                    '"address":"北京市朝阳区建国路88号","title":"3号门","zoom":15}}'
                )
            elif roll < 115:
                body = (
                    f'"msgtype":"emotion","emotion":{{"type":1,"width":240,"height":240,'
                    f'"imagesize":{bits(14)},"md5sum":"{md5}","sdkfileid":"CtYBEm{md5}"}}}}'
                )
            elif roll < 116:
                inner = json.dumps('{"content":' + texts[bits(12)] + "}", ensure_ascii=False)
                body = (
                    '"msgtype":"chatrecord","chatrecord":{"title":"群聊的聊天记录","item":['
                    f'{{"type":"ChatRecordText","msgtime":{ms // 1000 - 60},"content":{inner},'
                    '"from_chatroom":true}]}}'
                )
            elif roll < 118 and prev:
                common = common.replace('"action":"send"', '"action":"recall"')
                body = f'"msgtype":"revoke","revoke":{{"pre_msgid":"{prev}"}}}}'
            elif roll < 119:
                body = f'"msgtype":"agree","agree":{{"userid":"{sender}","agree_time":{ms}}}}}'
            elif roll < 120:
                lines.append(
                    f'{{"msgid":"{msgid}","action":"switch","time":{ms},"user":"{sender}"}}\n'.encode()
                )
                prev = msgid
                continue
            else:
                body = text_bodies[bits(12)]
            lines.append((common + body + "\n").encode())
            prev = msgid
            if len(lines) >= _BATCH:
                f.write(b"".join(lines))
                lines.clear()
        f.write(b"".join(lines))
    return path
