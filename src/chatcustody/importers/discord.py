"""``discord``: DiscordChatExporter JSON exports, streamed message by message.

A DiscordChatExporter (DCE) JSON file is one object: ``guild``, ``channel``, ``dateRange``,
``exportedAt``, then ``messages: [...]`` and ``messageCount``. Exports of busy channels run
to hundreds of MB, so the file is never loaded whole: :class:`JsonReader` walks the top-level
object key by key and decodes the ``messages`` array one element at a time with
``json.JSONDecoder.raw_decode`` over a sliding text buffer (memory stays flat: one message
plus one read of 1 MiB). ``raw`` is the exact source text of each message object, sliced from
that buffer. A file whose header comes after ``messages`` is read twice (header, then
messages). ``messageCount`` is checked against the messages actually read: a truncated or
edited export is refused rather than half-imported.

The imported path may be one ``.json`` file, or a folder / zip holding several DCE files
(an export of many channels) with their ``*_Files`` media folders. Attachment ``url`` values
that are relative paths are resolved against the JSON file's folder: present → the file is
acquired; absent or a CDN URL → ``included=False`` (the export only names it).

This module also holds the streaming JSON helpers the ``feishu`` and ``teams`` importers
share (:class:`JsonReader`, :func:`walk_export`, :class:`MediaIndex`, :func:`export_files`).
"""

from __future__ import annotations

import io
import json
import mimetypes
import posixpath
import re
import zipfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final
from urllib.parse import unquote

from chatcustody.importers._base import (
    ParseResult,
    Rejected,
    SourceInput,
    head_bytes,
    offset_minutes,
)
from chatcustody.model import (
    Amendment,
    Attachment,
    ConversationKind,
    MessageType,
    Record,
    to_epoch_ms,
)

# -- streaming JSON -----------------------------------------------------------------------

READ_BYTES: Final[int] = 1 << 20  # bytes per read from the export
# One value (a message) larger than this is refused: it bounds memory on malformed input.
MAX_VALUE_CHARS: Final[int] = 16 << 20
_WS: Final = re.compile(r"[ \t\n\r]*")
_WS_CHARS: Final[str] = " \t\n\r"
_CONTAINERS: Final = (dict, list, str)
_DECODER: Final = json.JSONDecoder()
_BOM: Final[bytes] = b"\xef\xbb\xbf"
_LINE_SNIFF_BYTES: Final[int] = 1 << 16  # a first line this long is no JSON-lines record
# What reading a damaged zip member or file can raise besides OSError.
READ_ERRORS: Final = (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile)
_MAX_NEST: Final[int] = 2  # page wrappers (Feishu's "data") entered at most this deep


class JsonSyntaxError(ValueError):
    """The JSON text is malformed at ``line``; nothing after it can be read reliably."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


class InvalidMessage(ValueError):
    """One message's defect (turned into a Rejected)."""


class JsonReader:
    """Incremental reader of a JSON text (or JSON lines) from a binary stream.

    The text is decoded as UTF-8 (an optional BOM is dropped) into a buffer that keeps only
    what has not been consumed yet, so memory is bounded by the largest single value read.
    Line numbers (1-based) are tracked for error messages and ``Rejected.line``.
    """

    def __init__(self, stream: IO[bytes], read_bytes: int | None = None) -> None:
        self._stream = stream
        self._read_bytes = read_bytes or READ_BYTES
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._tail = b""  # an incomplete UTF-8 sequence at the end of the last read
        self._started = False
        self._bytes = 0
        self._bad_utf8: int | None = None  # byte offset of invalid UTF-8, once found
        self._line = 1  # the line number at buffer index self._counted
        self._counted = 0
        self._mark: int | None = None
        self._span = (0, 0)

    # -- buffer ----------------------------------------------------------------------------

    def _line_at(self, pos: int) -> int:
        if pos >= self._counted:
            self._line += self._buf.count("\n", self._counted, pos)
        else:
            self._line -= self._buf.count("\n", pos, self._counted)
        self._counted = pos
        return self._line

    def _fill(self) -> bool:
        """Read more text into the buffer; return False at the end of the input."""
        if self._eof:
            if self._bad_utf8 is not None:
                raise JsonSyntaxError(
                    self._line_at(len(self._buf)), f"invalid UTF-8 at byte {self._bad_utf8}"
                )
            return False
        keep = self._pos if self._mark is None else min(self._pos, self._mark)
        if keep >= self._read_bytes:
            self._line_at(keep)
            self._buf = self._buf[keep:]
            self._pos -= keep
            self._counted = 0
            if self._mark is not None:
                self._mark -= keep
        try:
            chunk = self._stream.read(self._read_bytes)
        except READ_ERRORS as exc:
            raise JsonSyntaxError(
                self._line_at(len(self._buf)), f"the file cannot be read: {exc}"
            ) from None
        data = self._tail + chunk
        if not self._started and (len(data) >= len(_BOM) or not chunk):
            self._started = True
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
                self._bytes += len(_BOM)
        elif not self._started:
            self._tail = data
            return self._fill()
        if not chunk:
            self._eof = True
        try:
            text = data.decode("utf-8")
            self._tail = b""
        except UnicodeDecodeError as exc:
            text = data[: exc.start].decode("utf-8")
            if exc.reason == "unexpected end of data" and chunk:
                self._tail = data[exc.start :]
            else:
                self._eof = True
                self._bad_utf8 = self._bytes + exc.start
        self._bytes += len(data) - len(self._tail)
        self._buf += text
        if not text:
            return self._fill()
        return True

    def _skip_ws(self) -> bool:
        """Skip whitespace; return False when the input has no more values."""
        pos = self._pos
        if pos < len(self._buf) and self._buf[pos] not in _WS_CHARS:
            return True
        while True:
            match = _WS.match(self._buf, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buf):
                return True
            if not self._fill():
                return False

    # -- reading ---------------------------------------------------------------------------

    def line(self) -> int:
        """Return the line of the next value (1-based)."""
        self._skip_ws()
        return self._line_at(self._pos)

    def peek(self) -> str:
        """Return the next significant character, or "" at the end of the input."""
        return self._buf[self._pos] if self._skip_ws() else ""

    def at_end(self) -> bool:
        """Return True when nothing but whitespace is left."""
        return not self._skip_ws()

    def _unexpected(self, expected: str) -> JsonSyntaxError:
        found = self.peek()
        line = self._line_at(self._pos)
        if not found:
            return JsonSyntaxError(
                line, f"the file ends where {expected} was expected (truncated?)"
            )
        return JsonSyntaxError(line, f"malformed JSON: expected {expected}, found {found!r}")

    def _expect(self, char: str) -> None:
        if self.peek() != char:
            raise self._unexpected(repr(char))
        self._pos += 1

    def value(self) -> Any:
        """Decode the next value whole (one message, one header field)."""
        if not self._skip_ws():
            raise self._unexpected("a value")
        while True:
            start = self._pos
            try:
                obj, end = _DECODER.raw_decode(self._buf, start)
            except json.JSONDecodeError as exc:
                # An error at the buffer's end may only mean the value goes on in the next read.
                cut = exc.pos >= len(self._buf) - 32 or exc.msg.startswith("Unterminated")
                big = len(self._buf) - start >= MAX_VALUE_CHARS
                if cut and not big and self._fill():
                    continue
                if big:
                    raise JsonSyntaxError(
                        self._line_at(start),
                        f"a value is larger than {MAX_VALUE_CHARS >> 20} Mi characters",
                    ) from None
                hint = " (the file ends there: truncated?)" if cut else ""
                raise JsonSyntaxError(
                    self._line_at(exc.pos), f"malformed JSON: {exc.msg}{hint}"
                ) from None
            except RecursionError:
                raise JsonSyntaxError(
                    self._line_at(start), "malformed JSON: nested too deeply"
                ) from None
            # A number or literal ending exactly at the buffer's end may go on in the next read.
            if end == len(self._buf) and not isinstance(obj, _CONTAINERS) and self._fill():
                continue
            self._pos = end
            self._span = (start, end)
            return obj

    def raw(self) -> str:
        """Return the exact source text of the value last returned by :meth:`value`."""
        return self._buf[self._span[0] : self._span[1]]

    def skip(self) -> None:
        """Consume the next value without keeping it (arrays element by element)."""
        if self.peek() == "[":
            for _ in self.array():
                self.value()
        else:
            self.value()

    def array(self) -> Iterator[int]:
        """Consume an array; yield each element's line, positioned at it: read it, then loop."""
        self._expect("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield self.line()
            char = self.peek()
            if char == ",":
                self._pos += 1
            elif char == "]":
                self._pos += 1
                return
            else:
                raise self._unexpected("',' or ']'")

    def object_keys(self) -> Iterator[str]:
        """Consume an object; yield each key, positioned at its value: read it, then loop."""
        self._expect("{")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self._unexpected("a property name")
            key = self.value()
            self._expect(":")
            yield str(key)
            char = self.peek()
            if char == ",":
                self._pos += 1
            elif char == "}":
                self._pos += 1
                return
            else:
                raise self._unexpected("',' or '}'")

    def mark(self) -> None:
        """Remember the start of the next value so :meth:`marked` can return its text."""
        self._skip_ws()
        self._mark = self._pos

    def marked(self) -> str | None:
        """Return the text from the mark to here and drop the mark."""
        if self._mark is None:
            return None
        text = self._buf[self._mark : self._pos]
        self._mark = None
        return text

    def unmark(self) -> None:
        """Drop the mark (the marked object is a container: its text is not needed)."""
        self._mark = None


@dataclass(slots=True)
class Found:
    """One thing :func:`walk_pages` met in the text.

    ``kind`` is ``item`` (an element of a page's item array), ``object`` (an object that is
    no page: a JSON-lines message, an error response), ``page`` (a page ended; ``value``
    holds its other fields), ``other`` (a value that is not an object) or ``error`` (a
    syntax error; ``value`` is the reason).
    """

    kind: str
    value: Any
    raw: str
    line: int | None


def walk_pages(
    reader: JsonReader, item_keys: frozenset[str], nest_keys: frozenset[str]
) -> Iterator[Found]:
    """Yield the items of API pages: one page, an array of pages, or JSON lines of either.

    A page is an object with an array under one of ``item_keys`` (``items``, ``value``),
    possibly inside an object under one of ``nest_keys`` (Feishu's ``data``). Items are
    decoded one by one, so a single huge page streams too.
    """
    while not reader.at_end():
        if reader.peek() == "[":
            for _ in reader.array():
                yield from _walk_value(reader, item_keys, nest_keys)
        else:
            yield from _walk_value(reader, item_keys, nest_keys)


def _walk_value(
    reader: JsonReader, item_keys: frozenset[str], nest_keys: frozenset[str]
) -> Iterator[Found]:
    line = reader.line()
    if reader.peek() != "{":
        value = reader.value()
        yield Found("other", value, reader.raw(), line)
        return
    reader.mark()
    fields: dict[str, Any] = {}
    is_page = yield from _walk_object(reader, item_keys, nest_keys, fields)
    if is_page:
        reader.unmark()
        yield Found("page", fields, "", line)
    else:
        raw = reader.marked()
        yield Found("object", fields, raw if raw is not None else _dumps(fields), line)


def _walk_object(
    reader: JsonReader,
    item_keys: frozenset[str],
    nest_keys: frozenset[str],
    fields: dict[str, Any],
    depth: int = 0,
) -> Generator[Found, None, bool]:
    """Walk one object; yield items of its item arrays; return True when it was a page."""
    is_page = False
    for key in reader.object_keys():
        char = reader.peek()
        if key in item_keys and char == "[":
            is_page = True
            reader.unmark()
            for line in reader.array():
                value = reader.value()
                yield Found("item", value, reader.raw(), line)
        elif key in nest_keys and char == "{" and depth < _MAX_NEST:
            is_page = True
            reader.unmark()
            inner: dict[str, Any] = {}
            yield from _walk_object(reader, item_keys, nest_keys, inner, depth + 1)
            fields[key] = inner
        else:
            fields[key] = reader.value()
    return is_page


def walk_export(
    open_stream: Callable[[], IO[bytes]], item_keys: frozenset[str], nest_keys: frozenset[str]
) -> Iterator[Found]:
    """Yield what :func:`walk_pages` finds in one file, syntax errors as ``error`` finds.

    JSON lines (the first line is a whole object) are read line by line, so a broken line
    is one error and the lines after it are still read; any other JSON text is streamed as
    one document, where a syntax error ends the reading.
    """
    try:
        with open_stream() as f:
            head = f.readline(_LINE_SNIFF_BYTES)
        stream = open_stream()
    except READ_ERRORS as exc:
        yield Found("error", f"the file cannot be read: {exc}", "", None)
        return
    with stream:
        if _is_json_line(head):
            yield from _walk_lines(stream, item_keys, nest_keys)
            return
        try:
            yield from walk_pages(JsonReader(stream), item_keys, nest_keys)
        except JsonSyntaxError as exc:
            yield Found("error", f"{exc.reason}; the rest of the file is unreadable", "", exc.line)


def _is_json_line(head: bytes) -> bool:
    line = head.removeprefix(_BOM).strip()
    if not line.startswith(b"{") or len(head) >= _LINE_SNIFF_BYTES:
        return False
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def _walk_lines(
    stream: IO[bytes], item_keys: frozenset[str], nest_keys: frozenset[str]
) -> Iterator[Found]:
    number = 0
    while True:
        number += 1
        try:
            data = stream.readline()
        except READ_ERRORS as exc:
            yield Found("error", f"the file cannot be read: {exc}", "", number)
            return
        if not data:
            return
        if number == 1:
            data = data.removeprefix(_BOM)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Found("error", f"invalid UTF-8 at byte {exc.start}", data.hex()[:200], number)
            continue
        if not text.strip():
            continue
        try:
            for found in walk_pages(JsonReader(io.BytesIO(data)), item_keys, nest_keys):
                line = number + (found.line or 1) - 1
                yield Found(found.kind, found.value, found.raw, line)
        except JsonSyntaxError as exc:
            yield Found("error", exc.reason, text.rstrip("\r\n")[:500], number)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- exports: files, folders, zips, media ---------------------------------------------------


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
    except READ_ERRORS as exc:
        return [ExportFile(None, "", f"the export cannot be read: {exc}")]
    found = []
    for name in names:
        if not name.lower().endswith(exts):
            continue
        try:
            with source.open_member(name) as f:
                head = f.read(8192)
        except READ_ERRORS as exc:
            found.append(ExportFile(name, posixpath.dirname(name), f"cannot be read: {exc}"))
            continue
        if sniff(head):
            found.append(ExportFile(name, posixpath.dirname(name)))
    return found


def open_export(source: SourceInput, f: ExportFile) -> IO[bytes]:
    """Open one export file for reading."""
    return source.open() if f.member is None else source.open_member(f.member)


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
    except (*READ_ERRORS, ValueError):
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
            except READ_ERRORS:
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


# -- Discord --------------------------------------------------------------------------------

PLATFORM: Final[str] = "discord"
# Message kinds that are ordinary messages; other named kinds are system notifications.
# DCE writes kinds it has no name for as numbers: 20 (slash command), 21 (thread starter),
# 23 (context-menu command) are user/bot messages.
_ORDINARY: Final[frozenset[str]] = frozenset(
    {"Default", "Reply", "0", "19", "20", "21", "23", "ChatInputCommand", "ContextMenuCommand"}
)
_CALL: Final[frozenset[str]] = frozenset({"Call", "3"})
_DIRECT: Final[frozenset[str]] = frozenset({"DirectTextChat", "1"})
_GROUP_DM: Final[frozenset[str]] = frozenset({"DirectGroupTextChat", "3"})
_KEY: Final = re.compile(rb'"(guild|channel)"\s*:\s*\{')


def _sniff(head: bytes) -> bool:
    keys = {m.group(1) for m in _KEY.finditer(head)}
    return keys == {b"guild", b"channel"} and head.lstrip(_BOM).lstrip().startswith(b"{")


@dataclass(frozen=True, slots=True)
class _Channel:
    id: str
    name: str
    kind: ConversationKind


def _channel(header: dict[str, Any]) -> _Channel:
    guild = as_dict(header.get("guild"))
    channel = as_dict(header.get("channel"))
    cid = as_str(channel.get("id"))
    if not cid:
        raise InvalidMessage("the export has no channel.id")
    ctype = as_str(channel.get("type")) or ""
    name = as_str(channel.get("name")) or cid
    if ctype in _DIRECT or ctype in _GROUP_DM:
        kind = ConversationKind.DIRECT if ctype in _DIRECT else ConversationKind.GROUP
        return _Channel(cid, name, kind)
    parts = (as_str(guild.get("name")), as_str(channel.get("category")), name)
    return _Channel(cid, " / ".join(p for p in parts if p), ConversationKind.CHANNEL)


def _attachments(obj: dict[str, Any], media: MediaIndex, folder: str) -> tuple[Attachment, ...]:
    if not obj.get("attachments"):
        return ()
    out = []
    for i, a in enumerate(as_list(obj.get("attachments"))):
        a = as_dict(a)
        url = as_str(a.get("url")) or ""
        name = as_str(a.get("fileName")) or PurePosixPath(url.replace("\\", "/")).name
        if not name:
            raise InvalidMessage(f"attachment {i} has neither fileName nor url")
        rel = media.find(folder, url) if url else None
        out.append(Attachment(name=name, mime=guess_mime(name), path=rel, included=rel is not None))
    return tuple(out)


def _embed_text(embeds: list[Any]) -> str:
    lines = []
    for e in embeds:
        e = as_dict(e)
        for key in ("title", "url", "description"):
            v = as_str(e.get(key))
            if v:
                lines.append(v)
    return "\n".join(lines)


def message_items(
    obj: Any, raw: str, line: int, chan: _Channel, media: MediaIndex, folder: str
) -> list[Record | Amendment]:
    """Map one DCE message to its Record (and an edit Amendment); raise InvalidMessage."""
    if not isinstance(obj, dict):
        raise InvalidMessage("message is not a JSON object")
    mid = as_str(obj.get("id"))
    if not mid:
        raise InvalidMessage("message has no id")
    ts, off = iso_time(obj.get("timestamp"), "timestamp")
    author = obj.get("author")
    if not isinstance(author, dict) or not as_str(author.get("id")):
        raise InvalidMessage("message has no author.id")
    content = obj.get("content")
    if content is not None and not isinstance(content, str):
        raise InvalidMessage("content is not a string")
    content = content or ""
    kind = as_str(obj.get("type")) or "Default"
    attachments = _attachments(obj, media, folder)
    if kind in _ORDINARY:
        stickers = as_list(obj.get("stickers"))
        if attachments:
            mtype = type_of_attachment(attachments[0].mime)
            text = content or ", ".join(a.name for a in attachments)
        elif content.strip():
            mtype, text = MessageType.TEXT, content
        elif stickers:
            names = (as_str(as_dict(s).get("name")) or "sticker" for s in stickers)
            mtype, text = MessageType.STICKER, ", ".join(names)
        elif embeds := as_list(obj.get("embeds")):
            # A link preview has a URL; a bot's rich embed (an alert, a form) is a card.
            linked = any(as_str(as_dict(e).get("url")) for e in embeds)
            mtype = MessageType.LINK if linked else MessageType.CARD
            text = _embed_text(embeds)
        else:
            mtype, text = MessageType.OTHER, content
    elif kind in _CALL:
        mtype, text = MessageType.CALL, content or "Call"
    else:
        mtype, text = MessageType.SYSTEM, content or kind
    ref = as_dict(obj.get("reference"))
    reply_to = as_str(ref.get("messageId"))
    if as_str(ref.get("channelId")) not in (None, chan.id):
        reply_to = None  # a crosspost or forward from another channel: not a reply here
    sender = str(as_str(author["id"]))
    record = Record(
        platform=PLATFORM,
        conversation_id=chan.id,
        conversation_name=chan.name,
        conversation_kind=chan.kind,
        message_id=mid,
        sender_id=sender,
        sender_name=as_str(author.get("nickname")) or as_str(author.get("name")) or sender,
        timestamp_ms=ts,
        utc_offset_min=off,
        type=mtype,
        text=text,
        raw=raw,
        reply_to=reply_to if reply_to != mid else None,
        attachments=attachments,
        line=line,
    )
    items: list[Record | Amendment] = [record]
    edited = obj.get("timestampEdited")
    if edited is not None:
        ets, eoff = iso_time(edited, "timestampEdited")
        items.append(Amendment(PLATFORM, chan.id, mid, "edit", ets, eoff, sender, text, raw, line))
    return items


class DiscordImporter:
    """DiscordChatExporter JSON."""

    name = "discord"
    description = "Discord channel exports by DiscordChatExporter (JSON, with its media folder)"
    detect_order = 30

    def detect(self, path: Path) -> bool:
        """Return True for a DCE JSON file, or a folder/zip of them."""
        return detect_export(path, _sniff, (".json",))

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield each message's Record (+ edit Amendment), or Rejected naming line and defect."""
        files = export_files(source, _sniff, (".json",))
        if not files:
            yield Rejected(None, "the folder holds no DiscordChatExporter JSON file")
            return
        media = MediaIndex(source)
        for f in files:
            if f.error:
                yield Rejected(None, f.where(f.error))
            else:
                yield from self._parse_file(source, f, media)

    def _parse_file(
        self, source: SourceInput, f: ExportFile, media: MediaIndex
    ) -> Iterator[ParseResult]:
        header: dict[str, Any] = {}
        read = 0
        deferred = False
        try:
            with open_export(source, f) as stream:
                reader = JsonReader(stream)
                if reader.at_end():
                    yield Rejected(None, f.where("file is empty"))
                    return
                if reader.peek() != "{":
                    yield Rejected(reader.line(), f.where("not a DiscordChatExporter export"))
                    return
                for key in reader.object_keys():
                    if key != "messages" or reader.peek() != "[":
                        header[key] = reader.value()
                    elif "channel" in header:
                        read = yield from self._messages(reader, header, f, media)
                    else:
                        deferred = True  # header after the messages: read it first
                        reader.skip()
            if deferred:
                with open_export(source, f) as stream:
                    reader = JsonReader(stream)
                    for key in reader.object_keys():
                        if key == "messages" and reader.peek() == "[":
                            read = yield from self._messages(reader, header, f, media)
                        else:
                            reader.skip()
        except JsonSyntaxError as exc:
            yield Rejected(exc.line, f.where(f"{exc.reason}; the rest of the file is unreadable"))
            return
        except InvalidMessage as exc:
            yield Rejected(None, f.where(str(exc)))
            return
        except READ_ERRORS as exc:  # opening a damaged zip member
            yield Rejected(None, f.where(f"the file cannot be read: {exc}"))
            return
        if "messages" not in header and not read and not deferred:
            yield Rejected(None, f.where("the export has no messages array"))
        count = header.get("messageCount")
        if isinstance(count, int) and not isinstance(count, bool) and count != read:
            yield Rejected(
                None,
                f.where(
                    f"messageCount says {count} messages but the file holds {read} "
                    "(truncated or edited export?)"
                ),
            )

    def _messages(
        self, reader: JsonReader, header: dict[str, Any], f: ExportFile, media: MediaIndex
    ) -> Generator[ParseResult, None, int]:
        """Yield the items of the messages array; return how many messages it held."""
        header["messages"] = None
        chan = _channel(header)
        read = 0
        for line in reader.array():
            obj = reader.value()
            raw = reader.raw()
            read += 1
            try:
                yield from message_items(obj, raw, line, chan, media, f.folder)
            except InvalidMessage as exc:
                record = as_str(obj.get("id")) if isinstance(obj, dict) else None
                yield Rejected(line, f.where(str(exc)), raw[:500], record)
        return read


IMPORTER = DiscordImporter()
