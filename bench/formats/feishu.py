"""Generate saved Feishu ``im/v1/messages`` pages for the ``feishu`` importer.

``generate(dest, n, seed)`` writes ``dest/feishu_messages.json``: a JSON array of API pages
(``{"code": 0, "msg": "success", "data": {"has_more", "page_token", "items": [...]}}``,
50 items a page, one compact item per line, each page one of 12 chats) and returns its
path. ``body.content`` is a JSON string, as the API returns it. Mix per message: ~80 % text
(Chinese / English / emoji, some with ``@_user_1`` mentions), ~4 % rich-text posts, ~7 %
image / file / audio / video / sticker (named by key only), ~2 % system lines, ~1 % app
cards, ~2 % replies, ~1 % merged forwards, ~1 % recalled, ~1 % edited. Deterministic per
seed; pages are written in chunks (memory flat), from pre-rendered fragments.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import synthetic_text  # noqa: E402

_PAGE: Final[int] = 50
_CHUNK_PAGES: Final[int] = 100
_START_MS: Final[int] = 1_772_323_200_000  # 2026-03-01T08:00:00+08:00
_TENANT: Final[str] = "736588c9260f175e"


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _content(value: dict[str, object]) -> str:
    """Return ``"body":{"content":"…"}`` with the content JSON-encoded inside a string."""
    return '"body":{"content":' + _dump(_dump(value)) + "}"


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write ``n`` messages as saved im/v1 pages under ``dest``; return the file's path."""
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    chats = [f"oc_{rng.getrandbits(128):032x}" for _ in range(12)]
    users = [f"ou_{rng.getrandbits(128):032x}" for _ in range(60)]
    senders = [
        f'"sender":{{"id":"{u}","id_type":"open_id","sender_type":"user","tenant_key":"{_TENANT}"}}'
        for u in users
    ]
    app = '"sender":{"id":"cli_a1b2c3d4e5f6a7b8","id_type":"app_id","sender_type":"app"}'
    system = '"sender":{"id":"","id_type":"","sender_type":"","tenant_key":""}'
    # Text bodies end just before the closing quote of the inner text, to append " #i".
    texts = [_content({"text": synthetic_text(rng) + "\ue000"}).split("\ue000") for _ in range(256)]
    mention = _content({"text": "@_user_1 请确认 B区监控 #\ue000"}).split("\ue000")
    fixed = {
        "post": _content(
            {
                "title": "巡逻报告 Patrol report",
                "content": [
                    [{"tag": "text", "text": "Gate 3 "}, {"tag": "at", "user_id": "@_user_1"}],
                    [{"tag": "a", "href": "https://guard.example.com/r/3", "text": "详情"}],
                    [{"tag": "img", "image_key": "img_v2_041b28e3-5680-48c2-9af2-497ace79333g"}],
                ],
            }
        ),
        "image": _content({"image_key": "img_v2_9c1a7b3e-22f0-4d6a-8e1b-2f5c0a9d4e7g"}),
        "file": _content({"file_key": "file_v2_6b0e8a4d", "file_name": "事故报告 incident.pdf"}),
        "audio": _content({"file_key": "file_v3_00ab_4f1e8c2d", "duration": 4200}),
        "media": _content(
            {"file_key": "file_v3_00ab_7e2d", "image_key": "img_v3_00ab", "file_name": "监控.mp4"}
        ),
        "sticker": _content({"file_key": "img_v2_sticker_5f0e9d8c"}),
        "interactive": _content(
            {"title": "告警 Alert", "elements": [[{"tag": "text", "text": "Door 3 forced open"}]]}
        ),
        "system": _content(
            {
                "template": "{from_user} invited {to_chatters} to this group.",
                "from_user": ["赵队长"],
                "to_chatters": ["王保安", "李骑手"],
            }
        ),
    }
    mention_list = (
        f',"mentions":[{{"key":"@_user_1","id":"{users[1]}","id_type":"open_id",'
        f'"name":"王保安","tenant_key":"{_TENANT}"}}]'
    )
    path = dest / "feishu_messages.json"
    rand = rng.random
    ms = _START_MS
    pages = (n + _PAGE - 1) // _PAGE
    with path.open("wb") as f:  # bytes: text-mode writes cost more than the encoding

        def put(text: str) -> None:
            f.write(text.encode("utf-8"))

        put("[\n")
        out: list[str] = []
        i = 0
        for page in range(pages):
            chat = chats[page % len(chats)]
            more = "true" if page + 1 < pages else "false"
            token = f"GxmvlNRvP0NdQZpa7yIqf_{page:08d}==" if page + 1 < pages else ""
            head = (
                f'{{"code":0,"msg":"success","data":{{"has_more":{more},'
                f'"page_token":"{token}","items":[\n'
            )
            items: list[str] = []
            for _ in range(min(_PAGE, n - i)):
                ms += 1000 + int(rand() * 15_000)
                r = rand()
                sender = senders[int(r * 1_000_000) % len(senders)]
                common = f'"chat_id":"{chat}",{sender}'
                mid = f"om_{i:032x}"
                times = f'"create_time":"{ms}","update_time":"{ms}"'
                flags = '"deleted":false,"updated":false'
                extra = ""
                if r < 0.80:
                    pre, post = texts[int(r * 10_000) % 256]
                    kind, body = "text", f"{pre} #{i}{post}"
                elif r < 0.82:
                    kind, body, extra = "text", f"{mention[0]}{i}{mention[1]}", mention_list
                elif r < 0.84 and i:
                    pre, post = texts[i % 256]
                    kind, body = "text", f"{pre} #{i}{post}"
                    extra = f',"parent_id":"om_{i - 1:032x}","root_id":"om_{i - 1:032x}"'
                elif r < 0.88:
                    kind, body, extra = "post", fixed["post"], mention_list
                elif r < 0.95:
                    kind = ("image", "file", "audio", "media", "sticker")[int(r * 1000) % 5]
                    body = fixed[kind]
                elif r < 0.97:
                    kind, body, common = "system", fixed["system"], f'"chat_id":"{chat}",{system}'
                elif r < 0.98:
                    kind, body, common = (
                        "interactive",
                        fixed["interactive"],
                        f'"chat_id":"{chat}",{app}',
                    )
                elif r < 0.99:
                    kind, body = (
                        "merge_forward",
                        '"body":{"content":"Merged and Forwarded Message"}',
                    )
                elif r < 0.995:
                    kind, body = "text", '"body":{"content":"This message was recalled"}'
                    flags = '"deleted":true,"updated":false'
                    times = f'"create_time":"{ms}","update_time":"{ms + 30_000}"'
                else:
                    pre, post = texts[i % 256]
                    kind, body = "text", f"{pre} (edited) #{i}{post}"
                    flags = '"deleted":false,"updated":true'
                    times = f'"create_time":"{ms}","update_time":"{ms + 60_000}"'
                items.append(
                    f'{{"message_id":"{mid}","msg_type":"{kind}",{times},{flags},'
                    f"{common},{body}{extra}}}"
                )
                i += 1
            out.append(head + ",\n".join(items) + "\n]}}")
            if len(out) >= _CHUNK_PAGES:
                put(",\n".join(out))
                put(",\n" if page + 1 < pages else "")
                out.clear()
        put(",\n".join(out))
        put("\n]\n")
    return path
