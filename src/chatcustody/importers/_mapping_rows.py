"""Build chat Records from mapped rows (``csv-mapped``, ``jsonl-mapped``).

The chat schema (which fields a mapping may name) and the builder turning one row's values
into a Record, with the memos (types, kinds, attachment files) it keeps bounded.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Final

from chatcustody.importers._base import (
    SourceInput,
)
from chatcustody.importers._mapping import Column, FieldMapping, RowError, Schema, parse_time
from chatcustody.model import (
    Amendment,
    Attachment,
    ConversationKind,
    MessageType,
    Record,
)

_CACHE_ENTRIES: Final[int] = 4096  # bound of each memo (types, kinds, files)
_TYPES: Final[frozenset[str]] = frozenset(m.value for m in MessageType)
_KINDS: Final[frozenset[str]] = frozenset(k.value for k in ConversationKind)
_AMEND: Final[frozenset[str]] = frozenset({"edit", "delete"})
_MAX_PLATFORM: Final[int] = 32  # conversations.platform / participants.platform are VARCHAR(32)
_NO_ATTACHMENTS: Final[tuple[Attachment, ...]] = ()
_MESSAGE_TYPES: Final[dict[str, MessageType]] = {m.value: m for m in MessageType}

CHAT_SCHEMA: Final[Schema] = Schema(
    fields=(
        "platform",
        "conversation_id",
        "conversation_name",
        "conversation_kind",
        "message_id",
        "sender_id",
        "sender_name",
        "timestamp",
        "type",
        "text",
        "reply_to",
        "target_id",
        "attachment_path",
        "attachment_name",
        "attachment_mime",
    ),
    required=(
        ("platform",),
        ("conversation_id", "conversation_name"),
        ("sender_id", "sender_name"),
        ("timestamp",),
        ("text",),
    ),
    maps={"type_map": _TYPES | _AMEND, "kind_map": _KINDS},
    choices={"type_default": _TYPES},
    default_time="iso",
)

Values = dict[str, Any]


def scalar(values: Values, name: str, mapping: FieldMapping | None) -> str | None:
    """Return a field's text (None when absent or empty); raise RowError for objects."""
    v = values.get(name)
    if v is None or v == "":
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    spec = mapping.fields.get(name) if mapping else None
    where = f" ({spec.name!r})" if isinstance(spec, Column) else ""
    raise RowError(f"{name}{where} is a JSON {type(v).__name__}, not a single value")


def _ident(value: Any) -> str | None:
    """Return an id-like value stripped, None when absent or blank."""
    return (value.strip() or None) if isinstance(value, str) else None


def text_values(values: Values, mapping: FieldMapping | None) -> Values:
    """Return ``values`` with every field but ``timestamp`` as text or None (RowError)."""
    return {k: v if k == "timestamp" else scalar(values, k, mapping) for k, v in values.items()}


class ChatRowBuilder:
    """Turns one row's mapped values into a Record (or an Amendment for edit / delete).

    ``values`` holds text (or None) for every field but ``timestamp``, which is passed as
    the source gave it (a JSON number stays a number); see ``text_values``.
    """

    def __init__(self, mapping: FieldMapping, source: SourceInput) -> None:
        self._m = mapping
        self._source = source
        self._type_default = mapping.choices.get("type_default", "text")
        self._types: dict[str | None, str] = {}
        self._kinds: dict[str | None, ConversationKind] = {}
        self._present: dict[str, bool] = {}  # attachment path → exists in the export

    def _type(self, value: str | None) -> str:
        hit = self._types.get(value)
        if hit is None:
            key = (value or "").strip()
            mapped = self._m.lookup("type_map", key) if key else None
            if mapped is None:
                mapped = key.lower() if key.lower() in _TYPES | _AMEND else self._type_default
            hit = mapped
            if len(self._types) < _CACHE_ENTRIES:
                self._types[value] = hit
        return hit

    def _kind(self, value: str | None) -> ConversationKind:
        hit = self._kinds.get(value)
        if hit is None:
            key = (value or "").strip()
            mapped = (self._m.lookup("kind_map", key) or key.lower()) if key else "direct"
            if mapped not in _KINDS:
                raise RowError(
                    f"unknown conversation_kind {key!r} (direct, group, channel; "
                    "or add it to kind_map)"
                )
            hit = ConversationKind(mapped)
            if len(self._kinds) < _CACHE_ENTRIES:
                self._kinds[value] = hit
        return hit

    def _exists(self, rel: str) -> bool:
        hit = self._present.get(rel)
        if hit is None:
            stream = self._source.attachment(rel)
            hit = stream is not None
            if stream is not None:
                stream.close()
            if len(self._present) >= _CACHE_ENTRIES:
                self._present.clear()
            self._present[rel] = hit
        return hit

    def _attachments(
        self, path: str | None, name: str | None, mime: str | None
    ) -> tuple[Attachment, ...]:
        if path is None:
            return () if name is None else (Attachment(name, mime, None, included=False),)
        rel = path.replace("\\", "/")
        if not self._exists(rel):  # named only, or outside the export: keep it, marked absent
            return (Attachment(name or PurePosixPath(rel).name or rel, mime, rel, included=False),)
        rel = str(PurePosixPath(rel))
        return (Attachment(name or PurePosixPath(rel).name, mime, rel, included=True),)

    def build(self, values: Values, raw: str, line: int) -> Record | Amendment:
        """Return the canonical item of one row; raise RowError on any defect."""
        get = values.get
        ident = _ident
        platform = ident(get("platform"))
        if platform is None:
            raise RowError("no platform")
        platform = platform.lower()
        if len(platform) > _MAX_PLATFORM or not platform.isprintable():
            # platform is a clear, indexed column: refuse rather than cut or store junk
            raise RowError(f"platform {platform[:40]!r} is not a short printable name (≤ 32)")
        conv_name = get("conversation_name") or ""
        conv_id = ident(get("conversation_id")) or conv_name.strip()
        if not conv_id:
            raise RowError("no conversation_id or conversation_name")
        sender_name = get("sender_name") or ""
        sender_id = ident(get("sender_id")) or sender_name.strip()
        if not sender_id:
            raise RowError("no sender_id or sender_name")
        ts, off = parse_time(get("timestamp"), self._m.timestamp_format, self._source.tz)
        mtype = self._type(get("type"))
        text: str = get("text") or ""
        target = ident(get("target_id"))
        if mtype in _AMEND:
            if target is None:
                raise RowError(f"{mtype} row has no target_id (the id of the message it changes)")
            return Amendment(platform, conv_id, target, mtype, ts, off, sender_id, text, raw, line)
        attachments = _NO_ATTACHMENTS
        if self._m.has_attachments:
            attachments = self._attachments(
                ident(get("attachment_path")),
                ident(get("attachment_name")),
                ident(get("attachment_mime")),
            )
            if not text and attachments:
                text = attachments[0].name
        return Record(
            platform=platform,
            conversation_id=conv_id,
            conversation_name=conv_name,
            conversation_kind=self._kind(get("conversation_kind")),
            message_id=ident(get("message_id")),
            sender_id=sender_id,
            sender_name=sender_name,
            timestamp_ms=ts,
            utc_offset_min=off,
            type=_MESSAGE_TYPES[mtype],
            text=text,
            raw=raw,
            reply_to=ident(get("reply_to")),
            target_id=target,
            attachments=attachments,
            line=line,
        )
