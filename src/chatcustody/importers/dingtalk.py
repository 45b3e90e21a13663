"""``dingtalk``: DingTalk open-platform robot messages (callback / Stream mode), as JSON lines.

DingTalk has no official history export; what organisations keep is the message JSON its
open platform delivers to a robot (HTTP callback or Stream mode), logged one object per
line. A JSON array of such objects is accepted too (streamed, never loaded whole), and so is
a logged Stream-mode frame (``{"type": "CALLBACK", "headers": {...}, "data": "<message JSON>"}``)
whose ``data`` string is the message. ``raw`` keeps each line exactly as written.

Mapping (docs/formats/dingtalk.md has the full table): ``conversationId`` → conversation,
``conversationType`` "1" → direct, "2" → group; ``msgId`` → message id; ``createAt`` (UTC
ms) → time, shown in ``source.tz``; ``senderStaffId`` (the organisation's user id) or, for
people outside the organisation, ``senderId`` → sender id; ``senderNick`` → sender name;
``text.repliedMsg.msgId`` → reply_to. Media carry only a ``downloadCode`` (the bytes must be
fetched with the robot's token), so they are listed as attachments with ``included=False``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from chatcustody.importers._base import (
    ParseResult,
    Rejected,
    SourceInput,
    epoch_ms_with_zone,
    head_bytes,
)
from chatcustody.importers._fields import (
    BadRecord,
    epoch_ms,
    join,
    list_of,
    mime_of,
    obj_of,
    text_of,
)
from chatcustody.importers._json_array import iter_json_records
from chatcustody.model import Attachment, ConversationKind, MessageType, Record

PLATFORM: Final[str] = "dingtalk"
_EXCERPT_CHARS: Final[int] = 500
_KINDS: Final[dict[str, ConversationKind]] = {
    "1": ConversationKind.DIRECT,
    "2": ConversationKind.GROUP,
}
# msgtype → (canonical type, label) for messages whose body lives in ``content``.
_MEDIA: Final[dict[str, tuple[MessageType, str]]] = {
    "picture": (MessageType.IMAGE, "[picture]"),
    "audio": (MessageType.VOICE, "[voice]"),
    "video": (MessageType.VIDEO, "[video]"),
    "file": (MessageType.FILE, "[file]"),
}


def _attachment(kind: str, content: dict[str, Any]) -> Attachment | None:
    """Return the not-included attachment a downloadCode names, or None without one."""
    code = text_of(content.get("downloadCode") or content.get("pictureDownloadCode"))
    if not code:
        return None
    name = text_of(content.get("fileName"))
    if not name:
        video_type = text_of(content.get("videoType"))
        name = f"{kind}.{video_type}" if video_type else kind
    return Attachment(name=name, mime=mime_of(Path(name).suffix.lower()), included=False)


def _body(kind: str, msg: dict[str, Any]) -> tuple[MessageType, str, list[Attachment]]:
    """Return (type, readable text, attachments) of one message."""
    content = obj_of(msg.get("content"))
    if kind == "text":
        text = msg.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("content"), str):
            raise BadRecord("text message has no text.content")
        return MessageType.TEXT, text["content"], []
    if kind == "markdown":
        md = obj_of(msg.get("markdown")) or content
        return (
            MessageType.TEXT,
            join(text_of(md.get("title")), text_of(md.get("text")), sep="\n"),
            [],
        )
    if kind == "richText":
        parts: list[str] = []
        atts: list[Attachment] = []
        for item in list_of(content.get("richText")):
            item = obj_of(item)
            if "text" in item:
                parts.append(text_of(item.get("text")))
            elif (att := _attachment("picture", item)) is not None:
                parts.append("[picture]")
                atts.append(att)
        return MessageType.TEXT, "".join(parts) or "[rich text]", atts
    if kind in _MEDIA:
        mtype, label = _MEDIA[kind]
        att = _attachment(kind, content)
        detail = text_of(content.get("fileName")) or text_of(content.get("recognition"))
        return mtype, join(label, detail), [att] if att else []
    # A msgtype this importer does not know (interactiveCard, …): keep it, readable.
    values = (text_of(v) for v in content.values())
    return MessageType.OTHER, join(f"[{kind}]", *values), []


def _unwrap(obj: dict[str, Any]) -> dict[str, Any]:
    """Return the message inside a logged Stream-mode frame, or the object itself."""
    data = obj.get("data")
    if not (isinstance(data, str) and ("headers" in obj or obj.get("type") == "CALLBACK")):
        return obj
    try:
        inner = json.loads(data)
    except (ValueError, RecursionError):
        raise BadRecord("frame data is not a JSON message") from None
    if not isinstance(inner, dict):
        raise BadRecord("frame data is not a JSON object")
    return inner


def _str(value: Any) -> str:
    return value if type(value) is str else text_of(value)


def build_record(obj: Any, text: str, line: int, tz: ZoneInfo) -> Record:
    """Build the Record of one robot message; raise BadRecord on a defect."""
    if not isinstance(obj, dict):
        raise BadRecord("record is not a JSON object")
    msg = _unwrap(obj) if "data" in obj else obj
    get = msg.get
    conv = get("conversationId")
    if type(conv) is not str or not conv:
        raise BadRecord("conversationId is missing")
    title = _str(get("conversationTitle"))
    ctype = _str(get("conversationType")) or ("2" if title else "1")
    kind = _KINDS.get(ctype)
    if kind is None:
        raise BadRecord(
            f"conversationType {ctype[:20]!r} is neither '1' (one-to-one) nor '2' (group)"
        )
    ms, off = epoch_ms_with_zone(epoch_ms(get("createAt"), "createAt"), tz)
    sender = _str(get("senderStaffId")) or _str(get("senderId"))
    if not sender:
        raise BadRecord("record has no senderStaffId or senderId")
    nick = _str(get("senderNick")) or sender
    msgtype = _str(get("msgtype")) or ("text" if "text" in msg else "")
    if not msgtype:
        raise BadRecord("msgtype is missing")
    mtype, body, atts = _body(msgtype, msg)
    reply_to = None
    if msgtype == "text" and "repliedMsg" in msg["text"]:
        reply_to = _str(obj_of(msg["text"]["repliedMsg"]).get("msgId")) or None
    return Record(
        platform=PLATFORM,
        conversation_id=conv,
        conversation_name=title or (nick if kind is ConversationKind.DIRECT else conv),
        conversation_kind=kind,
        message_id=_str(get("msgId")) or None,
        sender_id=sender,
        sender_name=nick,
        timestamp_ms=ms,
        utc_offset_min=off,
        type=mtype,
        text=body,
        raw=text,
        reply_to=reply_to,
        attachments=tuple(atts),
        line=line,
    )


def _looks_like_dingtalk(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return all(k in text for k in (b'"conversationId"', b'"createAt"', b'"msgtype"'))
    first = text.split(b"\n", 1)[0]
    try:
        obj = json.loads(first)
    except ValueError:  # a first line longer than the head: judge by its keys
        return first.startswith(b"{") and all(
            k in first for k in (b'"conversationId"', b'"createAt"', b'"msgtype"')
        )
    if not isinstance(obj, dict):
        return False
    data = obj.get("data")
    if obj.get("type") == "CALLBACK" and isinstance(data, str):
        return '"conversationId"' in data and '"createAt"' in data
    return {"conversationId", "createAt"} <= obj.keys() and bool({"msgtype", "msgId"} & obj.keys())


class DingTalkImporter:
    """DingTalk open-platform robot messages, one JSON object per line."""

    name = "dingtalk"
    description = "DingTalk open-platform robot messages (callback / Stream mode JSON lines)"
    detect_order = 32

    def detect(self, path: Path) -> bool:
        """Return True when the first message has DingTalk's conversationId / createAt."""
        try:
            return _looks_like_dingtalk(head_bytes(path))
        except Exception:  # detect must never raise, whatever the file holds
            return False

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield one Record per message, or Rejected naming the line and the defect."""
        for item in iter_json_records(source):
            if isinstance(item, Rejected):
                yield item
                continue
            line, text, obj = item
            try:
                yield build_record(obj, text, line, source.tz)
            except BadRecord as exc:
                msg_id = obj.get("msgId") if isinstance(obj, dict) else None
                yield Rejected(line, str(exc), text[:_EXCERPT_CHARS], text_of(msg_id) or None)


IMPORTER = DingTalkImporter()
