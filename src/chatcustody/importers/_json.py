"""Stream JSON exports value by value: arrays, page objects and JSON lines.

:class:`JsonReader` decodes one value at a time with ``json.JSONDecoder.raw_decode`` over a
sliding text buffer (memory stays flat: one value plus one read), keeps the exact source text
of each value and the line it starts on, refuses a value over ``MAX_VALUE_CHARS``, and decodes
UTF-8 incrementally. :func:`walk_export` walks an export file (an array, a page object with
wrappers such as Feishu's ``data``, or JSON lines) and yields each item it finds.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import IO, Any, Final

from chatcustody.importers._base import ExportUnreadable

READ_BYTES: Final[int] = 1 << 20  # bytes per read from the export
# One value (a message) larger than this is refused: it bounds memory on malformed input.
MAX_VALUE_CHARS: Final[int] = 16 << 20
_WS: Final = re.compile(r"[ \t\n\r]*")
_WS_CHARS: Final[str] = " \t\n\r"
_CONTAINERS: Final = (dict, list, str)
_DECODER: Final = json.JSONDecoder()
_BOM: Final[bytes] = b"\xef\xbb\xbf"
_LINE_SNIFF_BYTES: Final[int] = 1 << 16  # a first line this long is no JSON-lines record
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
        except (ExportUnreadable, OSError) as exc:
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
    except (ExportUnreadable, OSError) as exc:
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
        except (ExportUnreadable, OSError) as exc:
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
