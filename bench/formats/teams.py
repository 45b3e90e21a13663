"""Generate a Microsoft Graph ``chatMessage`` page for the ``teams`` importer.

``generate(dest, n, seed)`` writes ``dest/teams_messages.json``: one Graph page
``{"@odata.context", "@odata.count", "value": [...]}`` with one compact chatMessage per line
over 10 chats (group ``@thread.v2`` and one-on-one ``@unq.gbl.spaces``), and returns its
path. Mix per message: ~72 % HTML text (Chinese / English / emoji, entities), ~10 % plain
text, ~4 % ``<at>`` mentions, ~3 % quoted replies (``messageReference``), ~3 % SharePoint
file references, ~2 % hosted inline images, ~2 % bot adaptive cards, ~2 % system events,
~1 % edited, ~1 % deleted. Deterministic per seed; written in chunks (memory flat), from
pre-rendered fragments.
"""

from __future__ import annotations

import html
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import synthetic_text  # noqa: E402

_CHUNK: Final[int] = 5_000
_START: Final[datetime] = datetime(2026, 3, 1, tzinfo=UTC)
_TENANT: Final[str] = "2432b57b-0abd-43db-aa7b-16eadd115d34"
_MARK: Final[str] = "\ue000"


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write ``n`` chatMessages as one Graph page under ``dest``; return the file's path."""
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    people = [
        (f"{rng.getrandbits(128):032x}", name)
        for name in (
            "赵队长 Zhao",
            "王保安 Wang",
            "Li Rider 李骑手",
            "周调度",
            "Alice Chen",
            "吴客服",
        )
    ]
    users = [
        '"from":'
        + _dump(
            {
                "application": None,
                "device": None,
                "user": {
                    "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                    "id": f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}",
                    "displayName": name,
                    "userIdentityType": "aadUser",
                    "tenantId": _TENANT,
                },
            }
        )
        for uid, name in people
    ]
    bot = '"from":' + _dump(
        {
            "application": {"id": "28:b1c2d3e4", "displayName": "DispatchBot"},
            "device": None,
            "user": None,
        }
    )
    chats = [
        f"19:{rng.getrandbits(128):032x}@thread.v2"
        if k % 3
        else f"19:{rng.getrandbits(64):016x}_{rng.getrandbits(64):016x}@unq.gbl.spaces"
        for k in range(10)
    ]

    def body(kind: str, content: str) -> str:
        return f'"body":{{"contentType":"{kind}","content":{_dump(content)}}}'

    html_texts = [
        body("html", f"<p>{html.escape(synthetic_text(rng), quote=False)} #{_MARK}</p>").split(
            _MARK
        )
        for _ in range(256)
    ]
    plain_texts = [body("text", f"{synthetic_text(rng)} #{_MARK}").split(_MARK) for _ in range(64)]
    mention = body("html", f'<p><at id="0">王保安 Wang</at>&nbsp;请确认 B区 #{_MARK}</p>').split(
        _MARK
    )
    mentions = (
        '"mentions":[{"id":0,"mentionText":"王保安 Wang","mentioned":{"user":'
        + _dump({"id": "48d31887-5fad-4d73-a9f5-3c356e68a038", "displayName": "王保安 Wang"})
        + "}}]"
    )
    file_ref = body("html", '<p>事故报告见附件</p><attachment id="153fa47d"></attachment>') + (
        ',"attachments":[{"id":"153fa47d","contentType":"reference","contentUrl":'
        '"https://contoso.sharepoint.com/sites/guard/Shared%20Documents/事故报告.docx",'
        '"content":null,"name":"事故报告.docx","thumbnailUrl":null}]'
    )
    image = body(
        "html",
        '<p>Gate photo</p><p><img alt="image" src="https://graph.microsoft.com/v1.0/chats/'
        f'{chats[1]}/messages/1/hostedContents/aWQ9eF8wLXd1cy1kNi1l/$value" '
        'width="250" height="188"></p>',
    )
    card_content = _dump(
        {
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [{"type": "TextBlock", "text": "告警 Alert: Door 3 forced"}],
        }
    )
    card = body("html", '<attachment id="74d20c7f"></attachment>') + (
        ',"attachments":[{"id":"74d20c7f","contentType":"application/vnd.microsoft.card.adaptive",'
        f'"contentUrl":null,"content":{_dump(card_content)},"name":null}}]'
    )
    event = (
        '"eventDetail":{"@odata.type":"#microsoft.graph.membersAddedEventMessageDetail",'
        '"members":[{"id":"5c9f3a1e","displayName":"Li Rider 李骑手"}],'
        f'"initiator":{{"application":null,"device":null,"user":{_dump({"id": "8ea0", "displayName": "赵队长 Zhao"})}}}}}'
    )
    path = dest / "teams_messages.json"
    rand = rng.random
    second = 0
    hour_stamp, hour = "", -1
    with path.open("wb") as f:  # bytes: text-mode writes cost more than the encoding

        def put(text: str) -> None:
            f.write(text.encode("utf-8"))

        put(
            '{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#chats'
            "('19%3A8b0c1d2e3f4a4b5c9d0e1f2a3b4c5d6e%40thread.v2')/messages\","
            f'"@odata.count":{n},"value":[\n'
        )
        chunk: list[str] = []
        clock = [f"{m:02d}:{sec:02d}." for m in range(60) for sec in range(60)]
        millis = [f"{k:03d}" for k in range(1000)]
        tails = [f',"chatId":"{c}","channelIdentity":null,"importance":"normal"}}' for c in chats]
        for i in range(n):
            r, step = rand(), rand()
            second += 1 + int(step * 12)
            if second // 3600 != hour:
                hour = second // 3600
                hour_stamp = (_START + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:")
            ms = millis[int(step * 12_000) % 1000]
            created = f"{hour_stamp}{clock[second % 3600]}{ms}Z"
            mid = f"{1_772_323_200 + second}{ms}{i % 10}"
            tail = tails[int(r * 1_000_000) % len(chats)]
            sender = users[int(r * 10_000) % len(users)]
            head = (
                f'{{"id":"{mid}","replyToId":null,"etag":"{mid}","messageType":"message",'
                f'"createdDateTime":"{created}","lastModifiedDateTime":"{created}",'
            )
            if r < 0.72:  # the common case first, in one piece
                pre, post = html_texts[int(r * 100_000) % 256]
                chunk.append(
                    f'{head}"lastEditedDateTime":null,"deletedDateTime":null,'
                    f"{sender},{pre}{i}{post}{tail}"
                )
                if len(chunk) >= _CHUNK:
                    put(",\n".join(chunk))
                    put(",\n" if i + 1 < n else "")
                    chunk.clear()
                continue
            kind, edited, deleted, extra, who = "message", "null", "null", "", sender
            if r < 0.82:
                pre, post = plain_texts[int(r * 100_000) % 64]
                content = f"{pre}{i}{post}"
            elif r < 0.86:
                content, extra = f"{mention[0]}{i}{mention[1]}", "," + mentions
            elif r < 0.89 and i:
                pre, post = html_texts[i % 256]
                content = (
                    body("html", f'<attachment id="{i - 1}"></attachment>')[:-2]
                    + pre.split('"content":"', 1)[1]
                    + f"{i}{post}"
                )
                extra = (
                    ',"attachments":[{"id":"' + str(i - 1) + '","contentType":"messageReference",'
                    '"contentUrl":null,"content":null,"name":null}]'
                )
            elif r < 0.92:
                content = file_ref
            elif r < 0.94:
                content = image
            elif r < 0.96:
                content, who = card, bot
            elif r < 0.98:
                kind, who = "systemEventMessage", '"from":null'
                content, extra = body("html", "<systemEventMessage/>"), "," + event
            elif r < 0.99:
                pre, post = html_texts[i % 256]
                content, edited = f"{pre}{i} (edited){post}", f'"{created[:-1]}9Z"'
            else:
                content, deleted = body("html", ""), f'"{created[:-1]}9Z"'
            if kind != "message":
                head = head.replace('"messageType":"message"', f'"messageType":"{kind}"')
            chunk.append(
                f'{head}"lastEditedDateTime":{edited},"deletedDateTime":{deleted},'
                f"{who},{content}{extra}{tail}"
            )
            if len(chunk) >= _CHUNK:
                put(",\n".join(chunk))
                put(",\n" if i + 1 < n else "")
                chunk.clear()
        put(",\n".join(chunk))
        put("\n]}\n")
    return path
