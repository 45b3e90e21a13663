"""The canonical record model every importer produces and the vault stores.

Invariants:
- ``Record.raw`` keeps the exporter's own bytes for that message (a JSON object, a CSV row,
  a text block) so nothing the source gave us is lost, whatever the canonical fields drop.
- Times are a UTC instant in milliseconds plus the UTC offset (minutes) that the source
  used or that the importer assumed (``--tz``), never a naive local time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any


class MessageType(StrEnum):
    """What kind of message a record is."""

    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    VIDEO = "video"
    FILE = "file"
    LINK = "link"
    LOCATION = "location"
    CARD = "card"
    STICKER = "sticker"
    CALL = "call"
    SYSTEM = "system"
    RECALL = "recall"
    FORWARD = "forward"
    OTHER = "other"


class ConversationKind(StrEnum):
    """Shape of a conversation."""

    DIRECT = "direct"
    GROUP = "group"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a message carries.

    ``path`` is where the file sits in the export (relative to the imported file's folder
    or inside its zip); ``included`` is False when the export only names the file.
    ``sha256``/``size``/``blob`` are filled in by ingest once the bytes are acquired.
    """

    name: str
    mime: str | None = None
    path: str | None = None
    included: bool = True
    size: int | None = None
    sha256: str | None = None
    blob: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the canonical JSON object of this attachment."""
        return {
            "name": self.name,
            "mime": self.mime,
            "path": self.path,
            "included": self.included,
            "size": self.size,
            "sha256": self.sha256,
            "blob": self.blob,
        }


@dataclass(slots=True)
class Record:
    """One message, as acquired: the canonical form every importer yields."""

    platform: str
    conversation_id: str
    conversation_name: str
    conversation_kind: ConversationKind
    message_id: str | None
    sender_id: str
    sender_name: str
    timestamp_ms: int
    utc_offset_min: int
    type: MessageType
    text: str
    raw: str
    reply_to: str | None = None
    target_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    line: int | None = None

    @property
    def time(self) -> datetime:
        """Return the instant as an aware datetime in its original offset."""
        return to_datetime(self.timestamp_ms, self.utc_offset_min)


@dataclass(slots=True)
class Amendment:
    """An edit or a deletion of an earlier message, stored as an event on that message.

    The original record is never changed: its content stays as acquired (it is evidence).
    """

    platform: str
    conversation_id: str
    message_id: str
    action: str  # "edit" | "delete"
    timestamp_ms: int
    utc_offset_min: int
    actor_id: str
    text: str
    raw: str
    line: int | None = None


@dataclass(slots=True)
class Event:
    """A non-chat log entry (system alert, operation log) for timelines."""

    source: str
    actor: str
    text: str
    timestamp_ms: int
    utc_offset_min: int
    raw: str
    category: str = "event"
    line: int | None = None


Item = Record | Amendment | Event


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone who wrote in a conversation, unified per platform by their source id."""

    id: int
    platform: str
    source_id: str
    name: str
    names: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Conversation:
    """A chat: one-to-one, group or channel, on one platform."""

    id: int
    platform: str
    source_id: str
    name: str
    kind: ConversationKind


@dataclass(frozen=True, slots=True)
class Source:
    """An acquired original file: hashed on arrival and kept byte-identical."""

    id: int
    sha256: str
    sm3: str
    size: int
    path: str
    format: str
    acquired_ms: int
    status: str


def to_datetime(ms: int, offset_min: int) -> datetime:
    """Return the aware datetime for a UTC instant shown in the given offset."""
    tz = UTC if offset_min == 0 else timezone(timedelta(minutes=offset_min))
    return datetime.fromtimestamp(ms / 1000, tz)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_epoch_ms(aware: datetime) -> int:
    """Return the UTC instant of an aware datetime in milliseconds (exact, no float)."""
    return (aware - _EPOCH) // _MS


def iso(ms: int, offset_min: int) -> str:
    """Return ISO 8601 with milliseconds and the original offset."""
    return to_datetime(ms, offset_min).isoformat(timespec="milliseconds")


def canonical_json(value: Any) -> str:
    """Serialise ``value`` canonically: sorted keys, no spaces, UTF-8 kept as is.

    NaN and infinities are refused (ValueError): JSON has no such numbers, and readers
    disagree on them, so a commitment to one could not be checked by standard tools.
    """
    return json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
