"""``chatcustody-jsonl``: the canonical import format, one message per line.

Each line is a JSON object (see docs/formats/chatcustody-jsonl.md)::

    {"platform": "wecom", "conversation_id": "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA",
     "conversation_name": "护卫队值班群", "conversation_kind": "group",
     "message_id": "1001", "sender_id": "zhangsan", "sender_name": "张三",
     "timestamp": "2026-03-01T14:20:00+08:00", "type": "text", "text": "骑手已到店",
     "reply_to": null, "attachments": [{"path": "media/a.jpg", "name": "a.jpg",
     "mime": "image/jpeg"}], "raw": {...}}

``timestamp`` is ISO 8601 with a UTC offset, or epoch milliseconds (an integer; its
display offset then comes from ``--tz`` or the vault's zone). ``message_id`` may be null:
the dedupe key is then a content hash. ``raw`` is optional; without it the line itself is
kept as the raw form.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from chatcustody.importers._base import (
    ParseResult,
    Rejected,
    SourceInput,
    epoch_ms_with_zone,
    head_bytes,
    offset_minutes,
)
from chatcustody.importers._json_array import iter_lines
from chatcustody.model import (
    Attachment,
    ConversationKind,
    MessageType,
    Record,
    canonical_json,
    to_epoch_ms,
)

_REQUIRED: Final[tuple[str, ...]] = (
    "platform",
    "conversation_id",
    "sender_id",
    "timestamp",
    "type",
)
_STRING_FIELDS: Final[tuple[str, ...]] = (
    "platform",
    "conversation_id",
    "conversation_name",
    "message_id",
    "sender_id",
    "sender_name",
    "text",
    "reply_to",
    "target_id",
)
_TYPES: Final[dict[str, MessageType]] = {m.value: m for m in MessageType}
_KINDS: Final[dict[str, ConversationKind]] = {k.value: k for k in ConversationKind}
# Epoch values below this are seconds, not milliseconds: refuse them instead of guessing.
_MIN_EPOCH_MS: Final[int] = 100_000_000_000


class InvalidLine(ValueError):
    """One line's defect (turned into a Rejected)."""


def parse_timestamp(value: Any, source: SourceInput) -> tuple[int, int]:
    """Return (UTC ms, offset minutes) for an ISO 8601 string with offset or epoch ms."""
    if isinstance(value, bool):
        raise InvalidLine(f"timestamp must be ISO 8601 or epoch milliseconds, not {value!r}")
    if isinstance(value, int):
        if value < _MIN_EPOCH_MS:
            raise InvalidLine(
                f"timestamp {value} looks like epoch seconds; epoch milliseconds are required"
            )
        return epoch_ms_with_zone(value, source.tz)
    if not isinstance(value, str):
        raise InvalidLine(f"timestamp must be ISO 8601 or epoch milliseconds, not {value!r}")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidLine(f"timestamp {value!r} is not ISO 8601") from None
    if dt.tzinfo is None:
        raise InvalidLine(f"timestamp {value!r} has no UTC offset (add +08:00, Z, …)")
    return to_epoch_ms(dt), offset_minutes(dt)


def _attachments(value: Any) -> tuple[Attachment, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidLine("attachments must be a list")
    out = []
    for i, a in enumerate(value):
        if not isinstance(a, dict) or not isinstance(a.get("name", a.get("path")), str):
            raise InvalidLine(f"attachment {i} needs a name or a path")
        path = a.get("path")
        if path is not None and not isinstance(path, str):
            raise InvalidLine(f"attachment {i}: path must be a string")
        included = bool(a.get("included", path is not None))
        name = a.get("name") or Path(str(path)).name
        out.append(Attachment(name=str(name), mime=a.get("mime"), path=path, included=included))
    return tuple(out)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def record_from_object(obj: Any, line_text: str, source: SourceInput, line: int) -> Record:
    """Build a Record from one canonical JSON object; raise InvalidLine on any defect."""
    if not isinstance(obj, dict):
        raise InvalidLine("line is not a JSON object")
    missing = [k for k in _REQUIRED if obj.get(k) in (None, "")]
    if missing:
        raise InvalidLine(f"missing field(s): {', '.join(missing)}")
    for key in _STRING_FIELDS:
        value = obj.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise InvalidLine(f"{key} must be a string")
    mtype = _TYPES.get(obj["type"])
    if mtype is None:
        raise InvalidLine(
            f"unknown type {obj['type']!r} (expected one of {', '.join(sorted(_TYPES))})"
        )
    kind = _KINDS.get(obj.get("conversation_kind") or "direct")
    if kind is None:
        raise InvalidLine(
            f"unknown conversation_kind {obj['conversation_kind']!r} (direct, group or channel)"
        )
    ts, off = parse_timestamp(obj["timestamp"], source)
    raw = obj.get("raw")
    raw_text = line_text if raw is None else raw if isinstance(raw, str) else canonical_json(raw)

    get = obj.get
    return Record(
        platform=str(obj["platform"]),
        conversation_id=str(obj["conversation_id"]),
        conversation_name=str(get("conversation_name") or ""),
        conversation_kind=kind,
        message_id=_opt_str(get("message_id")),
        sender_id=str(obj["sender_id"]),
        sender_name=str(get("sender_name") or ""),
        timestamp_ms=ts,
        utc_offset_min=off,
        type=mtype,
        text=str(get("text") or ""),
        raw=raw_text,
        reply_to=_opt_str(get("reply_to")),
        target_id=_opt_str(get("target_id")),
        attachments=_attachments(obj.get("attachments")),
        line=line,
    )


class JsonlImporter:
    """The canonical chatcustody-jsonl format."""

    name = "chatcustody-jsonl"
    description = "chatcustody's canonical JSON lines, one message per line"
    detect_order = 10

    def detect(self, path: Path) -> bool:
        """Return True when the first line is a canonical message object."""
        head = head_bytes(path).lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
        try:
            obj = json.loads(head)
        except (ValueError, RecursionError):
            return False
        return isinstance(obj, dict) and {"platform", "conversation_id", "timestamp"} <= obj.keys()

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield one Record per line, or Rejected naming the line and the defect."""
        for number, text in iter_lines(source):
            if isinstance(text, Rejected):
                yield text
                continue
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError) as exc:  # deep nesting raises RecursionError
                yield Rejected(number, f"malformed JSON: {exc}", text[:500])
                continue
            try:
                yield record_from_object(obj, text, source, number)
            except InvalidLine as exc:
                record = obj.get("message_id") if isinstance(obj, dict) else None
                yield Rejected(
                    number, str(exc), text[:500], None if record is None else str(record)
                )


IMPORTER = JsonlImporter()
