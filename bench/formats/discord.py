"""Generate a DiscordChatExporter JSON export for the ``discord`` importer.

``generate(dest, n, seed)`` writes ``dest/Guard Ops - 调度 [<id>].json`` (indented like
DCE's ``Utf8JsonWriter``, local times with ``+08:00``, ``messageCount`` at the end) and
its media folder ``….json_Files/`` with a few images and voice notes, and returns the JSON
path. Mix per message: ~84 % text (Chinese / English / emoji), ~5 % replies, ~2 % media
present in the media folder, ~2 % files only linked on the CDN, ~1 % edited, ~1 % stickers,
~1 % link embeds, ~2 % system notifications (joins, pins), ~1 % calls, ~1 % bot commands.
Deterministic per seed; messages are written in chunks (memory flat), from pre-rendered
fragments so writing runs well above 200k messages/s.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import synthetic_text  # noqa: E402

CHANNEL_ID: Final[str] = "1130000000000000001"
GUILD_ID: Final[str] = "1120000000000000000"
_CHUNK: Final[int] = 5_000
_START: Final[date] = date(2026, 3, 1)
_CLOCK: Final[list[str]] = [
    f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
]
_MEDIA: Final[tuple[tuple[str, str], ...]] = tuple(
    [(f"patrol-{k:05X}.jpg", "patrol.jpg") for k in range(6)]
    + [(f"voice-message-{k:05X}.ogg", "voice-message.ogg") for k in range(3)]
)


def _user(i: int, rng: random.Random) -> str:
    zh = ("赵队长", "钱工", "孙保安", "李骑手", "周调度", "吴客服", "郑经理", "王师傅")
    name = f"{zh[i % len(zh)]}{i}" if i % 3 else f"Guard {i}"
    user = {
        "id": str(4_000_000_000_000_000_000 + i),
        "name": f"user{i}",
        "discriminator": "0000",
        "nickname": name,
        "color": rng.choice([None, "#3498DB", "#E67E22"]),
        "isBot": i == 0,
        "roles": [],
        "avatarUrl": f"https://cdn.discordapp.com/avatars/{i}/a{i:05x}.png?size=512",
    }
    return json.dumps(user, ensure_ascii=False, indent=2).replace("\n", "\n      ")


def _message(
    mid: str, kind: str, ts: str, content: str, author: str, extra: str = "", edited: str = "null"
) -> str:
    return (
        f'    {{\n      "id": "{mid}",\n      "type": "{kind}",\n      "timestamp": "{ts}",\n'
        f'      "timestampEdited": {edited},\n      "callEndedTimestamp": null,\n'
        f'      "isPinned": false,\n      "content": {content},\n      "author": {author},\n'
        f"{extra}"
        '      "reactions": [],\n      "mentions": []\n    }'
    )


_EMPTY: Final[str] = '      "attachments": [],\n      "embeds": [],\n      "stickers": [],\n'


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write a realistic DCE export of ``n`` messages under ``dest``; return the JSON path."""
    rng = random.Random(seed)
    stem = f"Guard Ops 护卫行动 - 调度 dispatch [{CHANNEL_ID}].json"
    media = dest / f"{stem}_Files"
    media.mkdir(parents=True, exist_ok=True)
    for file_name, _ in _MEDIA:
        (media / file_name).write_bytes(f"stub {file_name} seed {seed}".encode() * 16)
    authors = [_user(i, rng) for i in range(40)]
    texts = [json.dumps(synthetic_text(rng), ensure_ascii=False)[:-1] for _ in range(256)]
    attachments = [
        (
            '      "attachments": [\n        {\n          "id": "1170000000000000%03d",\n'
            f'          "url": {json.dumps(f"{stem}_Files/{file_name}", ensure_ascii=False)},\n'
            f'          "fileName": "{shown}",\n          "fileSizeBytes": 512\n'
            '        }\n      ],\n      "embeds": [],\n      "stickers": [],\n'
        )
        for file_name, shown in _MEDIA
    ]
    cdn = (
        '      "attachments": [\n        {\n          "id": "1171000000000000%03d",\n'
        '          "url": "https://cdn.discordapp.com/attachments/1130000000000000001/'
        '1171000000000000000/incident_report.pdf",\n'
        '          "fileName": "incident_report.pdf",\n          "fileSizeBytes": 48213\n'
        '        }\n      ],\n      "embeds": [],\n      "stickers": [],\n'
    )
    sticker = (
        '      "attachments": [],\n      "embeds": [],\n      "stickers": [\n        {\n'
        '          "id": "1180000000000000001",\n          "name": "OK 好的",\n'
        '          "format": "Png",\n'
        '          "sourceUrl": "https://media.discordapp.net/stickers/1180000000000000001.png"\n'
        "        }\n      ],\n"
    )
    embed = (
        '      "attachments": [],\n      "embeds": [\n        {\n'
        '          "title": "值班表 Duty roster",\n'
        '          "url": "https://guard.example.com/roster",\n          "timestamp": null,\n'
        '          "description": "Week 12 / 第12周",\n          "images": [],\n'
        '          "fields": []\n        }\n      ],\n      "stickers": [],\n'
    )
    # The common case (a plain text message) is assembled from pre-rendered pieces.
    head, after_id = '    {\n      "id": "', '",\n      "type": "Default",\n      "timestamp": "'
    after_ts = (
        '",\n      "timestampEdited": null,\n      "callEndedTimestamp": null,\n'
        '      "isPinned": false,\n      "content": '
    )
    tails = [
        f',\n      "author": {a},\n{_EMPTY}      "reactions": [],\n      "mentions": []\n    }}'
        for a in authors
    ]
    millis = [f".{k:03d}+08:00" for k in range(1000)]
    path = dest / stem
    second = 6 * 3600
    day, day_end, stamp = -1, 0, ""
    rand = rng.random
    with path.open("wb") as f:  # bytes: text-mode writes cost more than the encoding

        def put(text: str) -> None:
            f.write(text.encode("utf-8"))

        put(
            "{\n"
            f'  "guild": {{\n    "id": "{GUILD_ID}",\n    "name": "Guard Ops 护卫行动",\n'
            '    "iconUrl": "https://cdn.discordapp.com/icons/1120000000000000000/x.png"\n  },\n'
            f'  "channel": {{\n    "id": "{CHANNEL_ID}",\n    "type": "GuildTextChat",\n'
            '    "categoryId": "1125000000000000000",\n    "category": "值班 Duty",\n'
            '    "name": "调度 dispatch",\n    "topic": "Gate dispatch 调度频道"\n  },\n'
            '  "dateRange": {\n    "after": null,\n    "before": null\n  },\n'
            '  "exportedAt": "2026-04-01T10:00:00.000+08:00",\n  "messages": [\n'
        )
        chunk: list[str] = []
        add = chunk.append
        for i in range(n):
            r, step = rand(), rand()
            second += 1 + int(step * 12)
            while second >= day_end:
                day += 1
                day_end = (day + 1) * 86400
                stamp = (_START + timedelta(days=day)).isoformat() + "T"
            ms = int(step * 12_000) % 1000
            clock = _CLOCK[second - day_end + 86400]
            ts = f"{stamp}{clock}{millis[ms]}"
            mid = str(1_160_000_000_000_000_000 + i)
            who = 1 + int(r * 1_000_000_000) % 39
            content = f'{texts[int(r * 1_000_000) % 256]} #{i}"'
            if r < 0.84:
                add(f"{head}{mid}{after_id}{ts}{after_ts}{content}{tails[who]}")
                if len(chunk) >= _CHUNK:
                    put(",\n".join(chunk))
                    put(",\n" if i + 1 < n else "")
                    chunk.clear()
                continue
            author = authors[who]
            if r < 0.89 and i:
                target = int(mid) - 1 - int(rand() * min(i, 20))
                ref = (
                    f'      "reference": {{\n        "messageId": "{target}",\n'
                    f'        "channelId": "{CHANNEL_ID}",\n        "guildId": "{GUILD_ID}"\n'
                    "      },\n"
                )
                chunk.append(_message(mid, "Reply", ts, content, author, _EMPTY + ref))
            elif r < 0.91:
                extra = attachments[i % len(attachments)] % (i % 1000)
                chunk.append(_message(mid, "Default", ts, '""', author, extra))
            elif r < 0.93:
                chunk.append(_message(mid, "Default", ts, '""', author, cdn % (i % 1000)))
            elif r < 0.94:
                edited = f'"{stamp}{clock}.{min(ms + 1, 999):03d}+08:00"'
                chunk.append(_message(mid, "Default", ts, content, author, _EMPTY, edited))
            elif r < 0.95:
                chunk.append(_message(mid, "Default", ts, '""', author, sticker))
            elif r < 0.96:
                chunk.append(
                    _message(
                        mid, "Default", ts, '"https://guard.example.com/roster"', author, embed
                    )
                )
            elif r < 0.98:
                kind, text = (
                    ("GuildMemberJoin", '"Joined the server."')
                    if r < 0.97
                    else (
                        "ChannelPinnedMessage",
                        '"Pinned a message."',
                    )
                )
                chunk.append(_message(mid, kind, ts, text, author, _EMPTY))
            elif r < 0.99:
                text = '"Started a call that lasted 3 minutes."'
                chunk.append(_message(mid, "Call", ts, text, author, _EMPTY))
            else:
                text = f'"/status → gate {i % 7} closed ✅"'
                chunk.append(_message(mid, "20", ts, text, authors[0], _EMPTY))
            if len(chunk) >= _CHUNK:
                put(",\n".join(chunk))
                put(",\n" if i + 1 < n else "")
                chunk.clear()
        put(",\n".join(chunk))
        put(f'\n  ],\n  "messageCount": {n}\n}}\n')
    return path
