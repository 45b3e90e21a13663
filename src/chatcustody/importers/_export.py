"""Export files shared by the JSON-export importers (discord, feishu, teams).

An export is one JSON file, or a folder / zip of them with media folders beside them.
Here: listing its JSON files, opening them, cheap detection, the media index that resolves
attachment paths, MIME guesses, and the type checks and ISO 8601 times their messages use.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final
from urllib.parse import unquote

from chatcustody.importers._base import (
    ZIP_ERRORS,
    ExportUnreadable,
    Rejected,
    SourceInput,
    head_bytes,
    offset_minutes,
)
from chatcustody.importers._json import Found, InvalidMessage, walk_export
from chatcustody.model import (
    MessageType,
    to_epoch_ms,
)


def is_zip(path: Path) -> bool:
    """Return True for a zip file (checks the magic first: cheap on big JSON files)."""
    return head_bytes(path, 4) == b"PK\x03\x04" and zipfile.is_zipfile(path)


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One JSON file of an export: the file itself (``member`` None) or a folder/zip member."""

    member: str | None
    folder: str  # its folder relative to the export root; attachment URLs are relative to it
    error: str | None = None  # why the member cannot be read, if it cannot

    def where(self, reason: str) -> str:
        """Prefix a reason with the member name when the export has several files."""
        return reason if self.member is None else f"{self.member}: {reason}"


def export_files(
    source: SourceInput, sniff: Callable[[bytes], bool], exts: tuple[str, ...]
) -> list[ExportFile]:
    """Return the export's files: the path itself, or its members that ``sniff`` accepts."""
    if not source.path.is_dir() and not is_zip(source.path):
        return [ExportFile(None, "")]
    try:
        names = source.members()
    except (ExportUnreadable, OSError) as exc:
        return [ExportFile(None, "", f"the export cannot be read: {exc}")]
    found = []
    for name in names:
        if not name.lower().endswith(exts):
            continue
        try:
            with source.open_member(name) as f:
                head = f.read(8192)
        except (ExportUnreadable, OSError) as exc:
            found.append(ExportFile(name, posixpath.dirname(name), f"cannot be read: {exc}"))
            continue
        if sniff(head):
            found.append(ExportFile(name, posixpath.dirname(name)))
    return found


def open_export(source: SourceInput, f: ExportFile) -> IO[bytes]:
    """Open one export file for reading."""
    return source.open() if f.member is None else source.open_member(f.member)


def readable_files(
    source: SourceInput, sniff: Callable[[bytes], bool], exts: tuple[str, ...], none_found: str
) -> Iterator[ExportFile | Rejected]:
    """Yield the export's JSON files, a Rejected for each unreadable one, ``none_found`` if none."""
    files = export_files(source, sniff, exts)
    if not files:
        yield Rejected(None, none_found)
    for f in files:
        yield Rejected(None, f.where(f.error)) if f.error else f


def walk_file(
    source: SourceInput, f: ExportFile, item_keys: frozenset[str], nest_keys: frozenset[str]
) -> Iterator[Found | Rejected]:
    """Walk one export file (:func:`walk_export`); syntax errors and emptiness are Rejected."""
    seen = False
    for found in walk_export(lambda: open_export(source, f), item_keys, nest_keys):
        seen = True
        if found.kind == "error":
            yield Rejected(found.line, f.where(found.value), found.raw)
        else:
            yield found
    if not seen:
        yield Rejected(None, f.where("file is empty"))


def detect_export(path: Path, sniff: Callable[[bytes], bool], exts: tuple[str, ...]) -> bool:
    """Return True when the file, or one of the first JSON members of a folder/zip, sniffs."""
    try:
        if path.is_dir():
            names = sorted(
                p.relative_to(path).as_posix()
                for p in path.rglob("*")
                if p.suffix.lower() in exts and p.is_file()
            )[:3]
            return any(sniff(head_bytes(path / n)) for n in names)
        if is_zip(path):
            with zipfile.ZipFile(path) as z:
                names = sorted(n for n in z.namelist() if n.lower().endswith(exts))[:3]
                for n in names:
                    with z.open(n) as f:
                        if sniff(f.read(8192)):
                            return True
            return False
        return sniff(head_bytes(path))
    except (OSError, ValueError, *ZIP_ERRORS):
        return False


_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class MediaIndex:
    """Resolves attachment URLs to files present in the export (zip names read once)."""

    def __init__(self, source: SourceInput) -> None:
        self._root = source.path if source.path.is_dir() else source.path.parent
        self._zip: set[str] | None = None
        if not source.path.is_dir() and is_zip(source.path):
            try:
                self._zip = set(source.zip().namelist())
            except (ExportUnreadable, OSError):
                self._zip = set()  # export_files reports the unreadable zip

    def find(self, folder: str, url: str) -> str | None:
        """Return the export-relative path of the file a relative URL names, None if absent."""
        url = url.strip().replace("\\", "/")
        if not url or _SCHEME.match(url) or url.startswith("/"):
            return None  # a web URL or an absolute path: not inside the export
        for candidate in dict.fromkeys((url, unquote(url))):
            rel = posixpath.normpath(posixpath.join(folder, candidate))
            if rel == ".." or rel.startswith(("../", "/")):
                continue
            if self._zip is not None:
                if rel in self._zip:
                    return rel
            elif (self._root / PurePosixPath(rel)).is_file():
                return rel
        return None


def guess_mime(name: str) -> str | None:
    """Return the MIME type a file name suggests, or None."""
    return mimetypes.guess_type(name, strict=False)[0]


def type_of_attachment(mime: str | None) -> MessageType:
    """Return the message type a (first) attachment's MIME type implies."""
    if mime:
        major = mime.split("/", 1)[0]
        if major == "image":
            return MessageType.IMAGE
        if major == "video":
            return MessageType.VIDEO
        if major == "audio":
            return MessageType.VOICE
    return MessageType.FILE


# Epoch bounds for sanity: a time outside them is a defect, never guessed at.
MIN_EPOCH_MS: Final[int] = 100_000_000_000  # 1973-03-03
MAX_EPOCH_MS: Final[int] = 4_102_444_800_000  # 2100-01-01


# The common exporter shape, parsed without building a datetime (hot path: one per message).
_ISO: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])"
    r"(?:\.([0-9]{1,9}))?(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
)


@lru_cache(maxsize=4096)
def _hour_ms(day: str, hour: str, zone: str) -> tuple[int, int]:
    """Return (UTC ms of that local hour's start, offset minutes); ValueError if no date."""
    off = 0 if zone == "Z" else int(zone[1:3]) * 60 + int(zone[4:6])
    off = -off if zone[0] == "-" else off
    start = to_epoch_ms(datetime.fromisoformat(day).replace(tzinfo=UTC))
    return start + int(hour) * 3_600_000 - off * 60_000, off


def iso_time(value: Any, field: str) -> tuple[int, int]:
    """Return (UTC ms, offset minutes) of an ISO 8601 time that states its offset."""
    if not isinstance(value, str):
        raise InvalidMessage(f"{field} is missing or not a string")
    m = _ISO.match(value)
    if m:
        day, hh, mm, ss, frac, zone = m.groups()
        try:
            ms, off = _hour_ms(day, hh, zone)
        except ValueError:
            raise InvalidMessage(f"{field} {value!r} is not an ISO 8601 time") from None
        ms += int(mm) * 60_000 + int(ss) * 1000
        if frac:
            ms += int(frac[:3].ljust(3, "0"))
        if not MIN_EPOCH_MS <= ms < MAX_EPOCH_MS:
            raise InvalidMessage(f"{field} {value!r} is outside 1973–2100")
        return ms, off
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(f"{field} {value!r} is not an ISO 8601 time") from None
    if dt.tzinfo is None:
        raise InvalidMessage(f"{field} {value!r} has no UTC offset")
    ms = to_epoch_ms(dt)
    if not MIN_EPOCH_MS <= ms < MAX_EPOCH_MS:
        raise InvalidMessage(f"{field} {value!r} is outside 1973–2100")
    return ms, offset_minutes(dt)


def as_dict(value: Any) -> dict[str, Any]:
    """Return ``value`` when it is an object, else an empty dict."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """Return ``value`` when it is an array, else an empty list."""
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    """Return a string (or an integer id as a string), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
