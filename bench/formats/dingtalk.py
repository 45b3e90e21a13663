"""Synthetic DingTalk robot-message log (open-platform JSON lines) for benchmarks.

``generate(dest, n, seed)`` writes ``dest/dingtalk_robot_messages.jsonl``: n messages over 40
group conversations and one-to-one robot chats, mostly Chinese/English text, with replies,
pictures, rich text, voice with recognition, files and an unknown card type. Deterministic
per seed; lines are built from pre-escaped pools, so writing stays far above 200k messages/s.
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
_CORP = "dinge19e25c0b3f73fd635c2f4657eb6378f"


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write a log of ``n`` robot messages under ``dest``; return the file to import."""
    rng = random.Random(seed)
    bits = rng.getrandbits
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "dingtalk_robot_messages.jsonl"
    texts = [json.dumps(synthetic_text(rng), ensure_ascii=False) for _ in range(_POOL)]
    text_bodies = [f'"msgtype":"text","text":{{"content":{t}}}}}' for t in texts]
    heads: list[str] = []
    for j in range(_POOL):
        person = rng.randrange(600)
        nick = json.dumps(f"员工{person}号 Staff{person}", ensure_ascii=False)
        staff = f',"senderStaffId":"{person:014d}"' if person < 500 else ""
        if j % 10 < 7:
            conv = f"cidGroup{seed % 1000:03d}x{j % 40:04d}aaaaaaaaaaaaaaaaaa="
            where = f'"conversationType":"2","conversationTitle":"值班群{j % 40}号 duty {j % 40}"'
        else:
            conv = f"cidSingle{seed % 1000:03d}x{person:05d}bbbbbbbbbbbbbbbb="
            where = '"conversationType":"1"'
        heads.append(
            f'"conversationId":"{conv}",{where},"chatbotCorpId":"{_CORP}",'
            f'"senderId":"$:LWCP_v1:${person:020d}==","senderNick":{nick}{staff},'
            f'"robotCode":"dingf0apw4ibx5u5ktba"'
        )
    # Sender and text pairs of plain text messages, pre-joined: one format per line.
    text_tails = [
        f"{heads[rng.randrange(_POOL)]},{text_bodies[rng.randrange(_POOL)]}\n".encode()
        for _ in range(4 * _POOL)
    ]
    prefix = f"msg{seed % 100_000:05d}".encode()
    prev = b""
    lines: list[bytes] = []  # bytes: joining and writing need no re-encoding
    with path.open("wb") as f:
        for i in range(n):
            msgid = b"%s%012d==" % (prefix, i)
            ms = _START_MS + i * 1500 + bits(10)
            roll = bits(7)  # 0..127
            if roll < 104:
                lines.append(b'{"msgId":"%s","createAt":%d,%s' % (msgid, ms, text_tails[bits(14)]))
                prev = msgid
                continue
            start = f'{{"msgId":"{msgid.decode()}","createAt":{ms},{heads[bits(12)]},'
            if roll < 110 and prev:
                body = (
                    f'"msgtype":"text","text":{{"content":{texts[bits(12)]},"isReplyMsg":true,'
                    f'"repliedMsg":{{"msgId":"{prev.decode()}","msgType":"text",'
                    f'"createdAt":{ms - 1500}}}}}}}'
                )
            elif roll < 116:
                body = (
                    f'"msgtype":"picture","content":{{"downloadCode":"dC{bits(64):016x}",'
                    f'"pictureDownloadCode":"pC{bits(64):016x}"}}}}'
                )
            elif roll < 119:
                body = (
                    f'"msgtype":"richText","content":{{"richText":[{{"text":{texts[bits(12)]}}},'
                    f'{{"type":"picture","downloadCode":"dC{bits(64):016x}"}}]}}}}'
                )
            elif roll < 122:
                body = (
                    f'"msgtype":"audio","content":{{"duration":{bits(14)},'
                    f'"downloadCode":"aC{bits(64):016x}","recognition":{texts[bits(12)]}}}}}'
                )
            elif roll < 125:
                body = (
                    f'"msgtype":"file","content":{{"downloadCode":"fC{bits(64):016x}",'
                    f'"fileId":"{bits(36)}","fileName":"巡逻记录{i}.xlsx","spaceId":"28455378906"}}}}'
                )
            elif roll < 126:
                body = (
                    f'"msgtype":"video","content":{{"duration":"{bits(6)}",'
                    f'"downloadCode":"vC{bits(64):016x}","videoType":"mp4"}}}}'
                )
            else:
                body = '"msgtype":"interactiveCard","content":{"title":"工单已结案 ticket closed"}}'
            lines.append((start + body + "\n").encode())
            prev = msgid
            if len(lines) >= _BATCH:
                f.write(b"".join(lines))
                lines.clear()
        f.write(b"".join(lines))
    return path
