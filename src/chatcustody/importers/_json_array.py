"""Read a JSON-lines or JSON-array file record by record (wecom, dingtalk).

:func:`iter_json_array` walks a top-level JSON array one element at a time over a growing
text window (memory: one element plus one read), yielding each element's exact text and the
line it starts on; :func:`iter_json_records` picks array or JSON lines by the first character.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Final

from chatcustody.importers._base import (
    Rejected,
    SourceInput,
)

_CHUNK_BYTES: Final[int] = 1 << 16
# One array element larger than this is treated as a defect, so a broken file cannot make
# the decoder buffer the rest of a huge file looking for the element's end.
MAX_VALUE_CHARS: Final[int] = 16 << 20
_WS: Final[re.Pattern[str]] = re.compile(r"[ \t\r\n]*")
_EXCERPT_CHARS: Final[int] = 500


@dataclass(frozen=True, slots=True)
class JsonValue:
    """One top-level value of a JSON array: where it starts, its exact text, its value."""

    line: int
    text: str
    value: Any


class _Buffer:
    """A growing text window over a byte stream, tracking the line number of ``pos``."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.line = 1
        self.eof = False
        self.bytes_read = 0

    def fill(self) -> None:
        """Append the next chunk (at least as large as the pending text: amortised linear)."""
        if self.pos:
            self.buf = self.buf[self.pos :]
            self.pos = 0
        data = self._f.read(max(_CHUNK_BYTES, len(self.buf)))
        self.bytes_read += len(data)
        self.buf += self._decoder.decode(data, final=not data)
        self.eof = not data

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def next_char(self) -> str | None:
        """Skip whitespace; return the next character (not consumed) or None at the end."""
        while True:
            match = _WS.match(self.buf, self.pos)
            assert match is not None  # the pattern matches the empty string
            self.advance(match.end())
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return None
            self.fill()


def iter_json_array(f: IO[bytes]) -> Iterator[JsonValue | Rejected]:
    """Yield the elements of a JSON array one by one, or a Rejected that ends the stream.

    Memory holds one element plus one read chunk. A defect (truncation, bad syntax, invalid
    UTF-8) yields one Rejected with its line, and stops: an array cannot be resynchronised.
    """
    decode = json.JSONDecoder().raw_decode
    b = _Buffer(f)
    index = 0
    try:
        c = b.next_char()
        if c == "\ufeff":
            b.advance(b.pos + 1)
            c = b.next_char()
        if c is None:
            yield Rejected(None, "file is empty")
            return
        if c != "[":
            yield Rejected(b.line, "file is not a JSON array", b.buf[b.pos : b.pos + 200])
            return
        b.advance(b.pos + 1)
        while True:
            c = b.next_char()
            if c == "]" and index == 0:
                b.advance(b.pos + 1)
                break
            if index:
                if c == "]":
                    b.advance(b.pos + 1)
                    break
                if c != ",":
                    what = "the end of the file" if c is None else repr(c)
                    yield Rejected(
                        b.line,
                        f"expected ',' or ']' after array element {index}, found {what}"
                        + (" (the file looks truncated)" if c is None else ""),
                        b.buf[b.pos : b.pos + 200],
                        f"#{index}",
                    )
                    return
                b.advance(b.pos + 1)
                c = b.next_char()
            if c is None:
                yield Rejected(b.line, "the JSON array is not closed (the file looks truncated)")
                return
            while True:
                try:
                    value, end = decode(b.buf, b.pos)
                except RecursionError:
                    yield Rejected(b.line, f"array element {index + 1} is nested too deeply")
                    return
                except json.JSONDecodeError as exc:
                    if not b.eof and len(b.buf) - b.pos <= MAX_VALUE_CHARS:
                        b.fill()
                        continue
                    too_big = len(b.buf) - b.pos > MAX_VALUE_CHARS
                    reason = (
                        f"array element {index + 1} is not closed within "
                        f"{MAX_VALUE_CHARS // (1 << 20)} MiB"
                        if too_big
                        else f"malformed JSON in array element {index + 1}: {exc.msg}"
                    )
                    line = b.line + b.buf.count("\n", b.pos, min(exc.pos, len(b.buf)))
                    yield Rejected(
                        line, reason, b.buf[b.pos : b.pos + _EXCERPT_CHARS], f"#{index + 1}"
                    )
                    return
                if end == len(b.buf) and not b.eof:  # a bare number may continue
                    b.fill()
                    continue
                break
            yield JsonValue(b.line, b.buf[b.pos : end], value)
            b.advance(end)
            index += 1
        if b.next_char() is not None:
            yield Rejected(b.line, "unexpected content after the closing ']'")
    except UnicodeDecodeError as exc:
        yield Rejected(
            b.line, f"invalid UTF-8 at byte {b.bytes_read - len(exc.object) + exc.start}"
        )


def first_char(f: IO[bytes]) -> str:
    """Return the first non-blank character of a UTF-8 stream (after a BOM), or ''."""
    while chunk := f.read(4096):
        text = chunk.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
        if text:
            return text[0]
    return ""


def iter_lines(source: SourceInput) -> Iterator[tuple[int, str | Rejected]]:
    """Yield (line number, text) of non-blank lines, or a Rejected for invalid UTF-8."""
    seen = False
    with source.open() as f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                seen = True
                yield (
                    number,
                    Rejected(number, f"invalid UTF-8 at byte {exc.start}", raw.hex()[:200]),
                )
                continue
            if text.strip():
                seen = True
                yield number, text
    if not seen:
        yield 0, Rejected(None, "file is empty")


def iter_json_records(source: SourceInput) -> Iterator[tuple[int, str, Any] | Rejected]:
    """Yield (line, exact text, decoded value) of a JSON-lines or JSON-array file."""
    if not source.path.is_file():
        yield Rejected(None, "expected one JSON-lines or JSON-array file, not a folder")
        return
    with source.open() as f:
        is_array = first_char(f) == "["
    if is_array:
        with source.open() as f:
            for item in iter_json_array(f):
                yield item if isinstance(item, Rejected) else (item.line, item.text, item.value)
        return
    for number, text in iter_lines(source):
        if isinstance(text, Rejected):
            yield text
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            yield Rejected(number, f"malformed JSON: {exc}", text[:_EXCERPT_CHARS])
            continue
        except RecursionError:
            yield Rejected(number, "JSON nested too deeply", text[:_EXCERPT_CHARS])
            continue
        yield number, text, value
