"""Mattermost's compliance-export CSV: its columns, rows, times, edits and file posts.

``posts.csv`` has one row per post version; ``iter_rows`` yields rows with their physical
start line and exact text (csv's default field limit is this format's own cap, whatever the
process-wide one). Here too: the header's column positions, the exact time parser and the
edit/attachment conventions.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Final

from chatcustody.importers._base import (
    Rejected,
    local_to_utc,
    offset_minutes,
)
from chatcustody.importers._csv import PhysicalLines, raise_field_limit
from chatcustody.importers._time import ZoneOffsets
from chatcustody.model import (
    Amendment,
    ConversationKind,
    MessageType,
    to_epoch_ms,
)

PLATFORM: Final[str] = "mattermost"
CSV_NAME: Final[str] = "posts.csv"
TIME: Final[str] = "Post Creation Time"
_REQUIRED: Final[tuple[str, ...]] = (
    TIME,
    "Channel Id",
    "Channel Type",
    "User Id",
    "Post Id",
    "Post Message",
    "Post Type",
)
# Columns of newer exporters (unverified): when the post was updated and how.
_UPDATE_TIME: Final[tuple[str, ...]] = ("Post Update Time", "Update Time")
_UPDATE_TYPE: Final[tuple[str, ...]] = ("Post Update Type", "Updated Type")
_KINDS: Final[dict[str, ConversationKind]] = {
    "O": ConversationKind.CHANNEL,
    "public": ConversationKind.CHANNEL,
    "P": ConversationKind.GROUP,
    "private": ConversationKind.GROUP,
    "G": ConversationKind.GROUP,
    "group": ConversationKind.GROUP,
    "D": ConversationKind.DIRECT,
    "direct": ConversationKind.DIRECT,
}
_SYSTEM_TYPES: Final[frozenset[str]] = frozenset({"enter", "leave", "previously-joined"})
_FILE_TYPES: Final[frozenset[str]] = frozenset({"attachment", "deleted attachment"})
_EXT_TYPES: Final[dict[str, MessageType]] = {
    **dict.fromkeys(
        ("jpg", "jpeg", "png", "gif", "webp", "bmp", "heic", "tif", "tiff", "svg"),
        MessageType.IMAGE,
    ),
    **dict.fromkeys(("mp4", "mov", "avi", "mkv", "webm", "m4v", "3gp"), MessageType.VIDEO),
    **dict.fromkeys(
        ("mp3", "m4a", "aac", "wav", "ogg", "oga", "opus", "amr", "flac"), MessageType.VOICE
    ),
}
# Epoch values below this are seconds, not milliseconds (before 1973): refuse, do not guess.
_MIN_EPOCH_MS: Final[int] = 100_000_000_000
_MAX_EPOCH_MS: Final[int] = 253_402_300_799_999
_EXCERPT_CHARS: Final[int] = 500
# csv's default field limit: a longer field is a defect here, whatever the process-wide limit.
_FIELD_LIMIT_CHARS: Final[int] = 131_072


class _Invalid(ValueError):
    """One row's defect (turned into a Rejected)."""


@dataclass(slots=True)
class _Row:
    line: int
    raw: str
    cells: list[str]


def iter_rows(stream: IO[bytes]) -> Iterator[_Row | Rejected]:
    """Yield each CSV row with its starting line and exact text, or a Rejected."""
    raise_field_limit()  # process-wide; this format's own cap is checked below
    lines = PhysicalLines(stream)
    reader = csv.reader(lines)
    while True:
        start = lines.number + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raw = lines.take()
            yield Rejected(start, f"malformed CSV: {exc}", raw[:_EXCERPT_CHARS])
            continue
        bad = lines.bad
        raw = lines.take()
        if bad is not None:
            reason = f"invalid UTF-8 at line {bad.line}, byte {bad.byte}"
            yield Rejected(start, reason, raw[:_EXCERPT_CHARS])
        elif any(len(cell) > _FIELD_LIMIT_CHARS for cell in cells):
            reason = f"malformed CSV: field larger than field limit ({_FIELD_LIMIT_CHARS})"
            yield Rejected(start, reason, raw[:_EXCERPT_CHARS])
        elif cells:
            yield _Row(start, raw, cells)
    if lines.number == 0:
        yield Rejected(None, "file is empty")


class _Columns:
    """Where each known column sits (-1 when absent), from the header row."""

    def __init__(self, header: list[str]) -> None:
        index: dict[str, int] = {}
        for i, name in enumerate(header):
            index.setdefault(name.strip(), i)
        missing = [c for c in _REQUIRED if c not in index]
        if missing:
            raise _Invalid(
                f"the header line is missing column(s): {', '.join(missing)} "
                "(is this a Mattermost compliance export posts.csv?)"
            )
        self.width = len(header)
        self.time = index[TIME]
        self.channel = index["Channel Id"]
        self.channel_type = index["Channel Type"]
        self.user = index["User Id"]
        self.post = index["Post Id"]
        self.message = index["Post Message"]
        self.post_type = index["Post Type"]
        self.channel_name = index.get("Channel Name", -1)
        self.channel_display = index.get("Channel Display Name", -1)
        self.username = index.get("Username", -1)
        self.edited_by = index.get("Edited By Post Id", -1)
        self.reply_to = index.get("Replied to Post Id", -1)
        self.update_time = next((index[n] for n in _UPDATE_TIME if n in index), -1)
        self.update_type = next((index[n] for n in _UPDATE_TYPE if n in index), -1)


def _at(cells: list[str], i: int) -> str:
    return cells[i] if i >= 0 else ""


@dataclass(frozen=True, slots=True)
class _Csv:
    """One posts.csv of the export and how to resolve its attachment paths."""

    open: Callable[[], IO[bytes]]
    label: str  # the member name when the export holds several CSVs, else ""
    prefix: str  # folder of the CSV inside a zip or folder export ("" or "batch1/")


@dataclass(frozen=True, slots=True)
class _Edit:
    """An edit Amendment waiting for the text of the post that replaced this version."""

    conversation_id: str
    message_id: str
    ms: int
    offset: int
    actor: str
    raw: str
    line: int

    def amendment(self, text: str) -> Amendment:
        """Return the Amendment, with the replacing post's text."""
        return Amendment(
            platform=PLATFORM,
            conversation_id=self.conversation_id,
            message_id=self.message_id,
            action="edit",
            timestamp_ms=self.ms,
            utc_offset_min=self.offset,
            actor_id=self.actor,
            text=text,
            raw=self.raw,
            line=self.line,
        )


def parse_time(value: str, zone: ZoneOffsets) -> tuple[int, int]:
    """Return (UTC ms, offset minutes) of epoch milliseconds or an ISO 8601 date-time."""
    if value.isdigit() and value.isascii() and len(value) <= 16:
        ms = int(value)
        if ms < _MIN_EPOCH_MS:
            raise _Invalid(f"{TIME} {value} is too small for epoch milliseconds (epoch seconds?)")
        if ms > _MAX_EPOCH_MS:
            raise _Invalid(f"{TIME} {value} is after the year 9999")
        return ms, zone.minutes(ms)
    v = value.strip()
    if not v:
        raise _Invalid(f"{TIME} is empty")
    try:
        dt = datetime.fromisoformat(v) if len(v) > 10 else None
    except ValueError:
        dt = None
    if dt is None:
        raise _Invalid(f"{TIME} {v!r} is neither epoch milliseconds nor an ISO 8601 date-time")
    if dt.tzinfo is None:
        return local_to_utc(dt, zone.tz)
    return to_epoch_ms(dt), offset_minutes(dt)


def split_attachment(message: str) -> tuple[str, str | None]:
    """Return (file name, export path) of an attachment row's message."""
    m = message.strip()
    cut = m.rfind(" (files/")
    if cut >= 0 and m.endswith(")"):
        path = m[cut + 2 : -1]
        return m[:cut] or path.rsplit("/", 1)[-1], path
    if m.startswith("files/"):
        return m.rsplit("/", 1)[-1], m
    return m or "attachment", None


def type_of_file(name: str) -> MessageType:
    """Return the message type a file suggests, by its extension (a fixed table)."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _EXT_TYPES.get(ext, MessageType.FILE)
