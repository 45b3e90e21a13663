"""The importer interface: ``detect(path) -> bool`` and ``parse(source) -> Iterator[...]``.

An importer reads one export and yields canonical items (``Record``, ``Amendment``,
``Event``) or ``Rejected`` for an input record it cannot read, with where and why. It never
raises for bad input: the ingest service decides whether a rejection fails the whole file
(default: nothing is committed) or is quarantined (``--skip-bad``). ``parse`` must stream:
memory stays flat whatever the size of the file.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final, Protocol, cast
from zoneinfo import ZoneInfo

from chatcustody.model import Item, to_epoch_ms


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input record the importer could not read: where it is, what is wrong, its text."""

    line: int | None
    reason: str
    raw: str = ""
    record: str | None = None


ParseResult = Item | Rejected


class ExportUnreadable(OSError, ValueError):
    """The export or one of its zip members cannot be read as stored.

    Raised by ``SourceInput`` (``zip()``, ``members()``, ``open_member()``, ``attachment()``
    and reads from the streams they return) in place of what the zip library raises for a
    damaged, encrypted or unsupported archive: ``BadZipFile``, ``UnicodeDecodeError`` (a
    member name), ``NotImplementedError`` (compression method), ``RuntimeError`` (encrypted
    member), ``zlib.error`` and ``EOFError`` (truncated data). The original is chained as
    ``__cause__`` and its message is kept. An ``OSError`` (so callers that catch I/O errors
    still catch it) and a ``ValueError`` (bad input, not a bug).
    """


# What the zip library raises for an archive it cannot read (see ExportUnreadable).
ZIP_ERRORS: Final = (
    zipfile.BadZipFile,
    UnicodeDecodeError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
    EOFError,
)


def _unreadable(exc: BaseException) -> ExportUnreadable:
    return ExportUnreadable(str(exc))


class _MemberStream(io.BufferedIOBase):
    """A zip member stream whose read errors surface as ExportUnreadable."""

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self._inner = inner

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        try:
            return self._inner.read(-1 if size is None else size)
        except ZIP_ERRORS as exc:
            raise _unreadable(exc) from exc

    def read1(self, size: int = -1, /) -> bytes:
        try:
            return self._inner.read1(size)  # type: ignore[attr-defined,no-any-return]
        except ZIP_ERRORS as exc:
            raise _unreadable(exc) from exc

    def readinto(self, buffer: Any, /) -> int:
        data = self.read(len(memoryview(buffer).cast("B")))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1, /) -> bytes:
        try:
            return self._inner.readline(-1 if size is None else size)
        except ZIP_ERRORS as exc:
            raise _unreadable(exc) from exc

    def peek(self, size: int = 0, /) -> bytes:
        try:
            return self._inner.peek(size)  # type: ignore[attr-defined,no-any-return]
        except ZIP_ERRORS as exc:
            raise _unreadable(exc) from exc

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


class SourceInput:
    """The export being imported: a file, a folder, or a zip, plus the assumed zone."""

    def __init__(self, path: Path, tz: ZoneInfo, options: dict[str, str] | None = None) -> None:
        self.path = path
        self.tz = tz
        self.options: dict[str, str] = options or {}  # importer options, e.g. {"mapping": FILE}
        self._zip: zipfile.ZipFile | None = None
        self._is_zip: bool | None = None

    @property
    def is_zip(self) -> bool:
        """Return True when the export is a zip file (checked once)."""
        if self._is_zip is None:
            self._is_zip = self.path.is_file() and zipfile.is_zipfile(self.path)
        return self._is_zip

    def open(self) -> IO[bytes]:
        """Open the export file itself for binary reading."""
        return self.path.open("rb")

    def zip(self) -> zipfile.ZipFile:
        """Return the open zip of a zipped export; raise ExportUnreadable if it is damaged."""
        if self._zip is None:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except ZIP_ERRORS as exc:
                raise _unreadable(exc) from exc
        return self._zip

    def members(self) -> list[str]:
        """Return the member paths of a zip or folder export, POSIX style, sorted.

        Raise ExportUnreadable when the zip cannot be read.
        """
        if self.path.is_dir():
            return sorted(
                p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()
            )
        return sorted(n for n in self.zip().namelist() if not n.endswith("/"))

    def _open_zip_member(self, name: str) -> IO[bytes]:
        try:
            inner = self.zip().open(name)
        except ZIP_ERRORS as exc:
            raise _unreadable(exc) from exc
        return cast(IO[bytes], _MemberStream(inner))

    def open_member(self, name: str) -> IO[bytes]:
        """Open a member of a zip or folder export.

        Raise ExportUnreadable (also from reads of the stream) when a zip member cannot be
        read; KeyError when the zip has no such member.
        """
        if self.path.is_dir():
            return (self.path / PurePosixPath(name)).open("rb")
        return self._open_zip_member(name)

    def attachment(self, rel: str) -> IO[bytes] | None:
        """Open an attachment named relative to the export; None when it is absent.

        For a single file, paths are relative to the file's folder; for a folder or zip,
        relative to its root. Paths that climb out of the export are refused (None). Raise
        ExportUnreadable (also from reads of the stream) when a zip member cannot be read.
        """
        posix = PurePosixPath(rel.replace("\\", "/"))
        if posix.is_absolute() or ".." in posix.parts:
            return None
        if self.is_zip:
            try:
                return self._open_zip_member(str(posix))
            except KeyError:
                return None
        base = self.path if self.path.is_dir() else self.path.parent
        candidate = base / posix
        return candidate.open("rb") if candidate.is_file() else None

    def presence(self) -> Callable[[str], bool]:
        """Return a test of whether a relative path is a file in the export.

        For a zip, the member names are read once; for a file or folder, paths that climb
        out of the export are absent.
        """
        if self.is_zip:
            return set(self.members()).__contains__
        base = self.path if self.path.is_dir() else self.path.parent

        def present(rel: str) -> bool:
            posix = PurePosixPath(rel)
            if posix.is_absolute() or ".." in posix.parts:
                return False
            return (base / posix).is_file()

        return present

    def close(self) -> None:
        """Release the zip handle, if any."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None


class Importer(Protocol):
    """One source format."""

    name: str
    description: str
    detect_order: int  # lower is tried first; generic formats use 90+

    def detect(self, path: Path) -> bool:
        """Return True when ``path`` looks like this format (cheap: reads a few KB)."""

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield the export's items in file order, or Rejected for unreadable ones."""


def offset_minutes(dt: datetime) -> int:
    """Return the UTC offset of an aware datetime in whole minutes."""
    off = dt.utcoffset()
    if off is None:
        raise ValueError("naive datetime")
    return int(off.total_seconds() // 60)


def local_to_utc(naive: datetime, tz: ZoneInfo) -> tuple[int, int]:
    """Interpret a naive local time in ``tz``; return (UTC ms, offset minutes)."""
    aware = naive.replace(tzinfo=tz)
    return to_epoch_ms(aware), offset_minutes(aware)


def epoch_ms_with_zone(ms: int, tz: ZoneInfo) -> tuple[int, int]:
    """Return (ms, offset minutes of ``tz`` at that instant) for a zone-less epoch time."""
    return ms, offset_minutes(datetime.fromtimestamp(ms / 1000, tz))


def head_bytes(path: Path, n: int = 8192) -> bytes:
    """Return the first ``n`` bytes of a file (empty for folders and unreadable paths)."""
    if not path.is_file():
        return b""
    try:
        with path.open("rb") as f:
            return f.read(n)
    except OSError:
        return b""
