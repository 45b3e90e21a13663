"""Walk one JSON document incrementally (the telegram importer's ``result.json``).

Containers are walked by hand (object keys, array elements) and leaves decoded with
``json.JSONDecoder.raw_decode`` over a bounded buffer, so memory stays flat. A separate
reader from :class:`._json.JsonReader`: its errors (``MalformedJson``, their wording, the
256 MiB value cap) are part of telegram's rejection reasons, so the two are kept apart.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import IO, Any, Final

_READ_BYTES: Final[int] = 1 << 20
_MAX_VALUE_CHARS: Final[int] = 256 << 20  # one JSON value (a message, a section) at most
_TAIL_CHARS: Final[int] = 16  # a decode error this close to the buffer end may be a cut
_WS: Final = re.compile(r"[ \t\n\r]*")
_DECODER: Final = json.JSONDecoder()


class MalformedJson(Exception):
    """The document cannot be read any further (becomes one Rejected, parsing stops)."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


class JsonStream:
    """Walk one JSON document incrementally: containers by hand, leaves by raw_decode."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._started = False
        self._line = 1  # line number at self._counted
        self._counted = 0
        self._bytes = 0

    def line(self, pos: int | None = None) -> int:
        """Return the 1-based line number at ``pos`` (default: the read position)."""
        pos = self._pos if pos is None else pos
        if pos >= self._counted:
            self._line += self._buf.count("\n", self._counted, pos)
            self._counted = pos
            return self._line
        return self._line - self._buf.count("\n", pos, self._counted)

    def _fill(self, want: int) -> bool:
        """Append the next ``want`` bytes (decoded) to the buffer; False at end of file."""
        if self._eof:
            return False
        data = self._f.read(want)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            line = self.line(len(self._buf)) + data[: exc.start].count(b"\n")
            raise MalformedJson(
                line, f"invalid UTF-8 at byte {self._bytes + exc.start} of the file"
            ) from None
        self._bytes += len(data)
        if not data:
            self._eof = True
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        self.line()
        self._buf = self._buf[self._pos :] + text
        self._counted -= self._pos
        self._pos = 0
        return True

    def peek(self) -> str:
        """Skip whitespace; return the next character, or "" at the end of the file."""
        if self._pos < len(self._buf) and self._buf[self._pos] not in " \t\n\r":
            return self._buf[self._pos]
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill(_READ_BYTES):
                return ""

    def expect(self, ch: str, what: str) -> None:
        """Consume ``ch`` or fail naming what was expected."""
        got = self.peek()
        if got != ch:
            raise self._unexpected(got, what)
        self._pos += 1

    def _unexpected(self, got: str, what: str) -> MalformedJson:
        if not got:
            return MalformedJson(self.line(), "the file ends inside the JSON document (truncated?)")
        return MalformedJson(self.line(), f"expected {what} here, found {got!r}")

    def value(self) -> Any:
        """Decode the next complete JSON value."""
        return self._decode()[0]

    def _decode(self) -> tuple[Any, int, int]:
        if not self.peek():
            raise self._unexpected("", "a value")
        want = _READ_BYTES
        while True:
            start = self._pos
            try:
                obj, end = _DECODER.raw_decode(self._buf, start)
            except json.JSONDecodeError as exc:
                cut = exc.msg.startswith("Unterminated string") or (
                    exc.pos >= len(self._buf) - _TAIL_CHARS
                )
                if self._eof or not cut:
                    if self._eof and cut:
                        raise self._unexpected("", "a value") from None
                    raise MalformedJson(self.line(exc.pos), f"malformed JSON: {exc.msg}") from None
            except (ValueError, RecursionError) as exc:
                raise MalformedJson(self.line(), f"malformed JSON: {exc}") from None
            else:
                if end < len(self._buf) or self._eof:
                    self._pos = end
                    return obj, start, end
            if len(self._buf) - self._pos > _MAX_VALUE_CHARS:
                raise MalformedJson(self.line(), "a JSON value is larger than 256 MiB")
            self._fill(want)
            want = min(want * 2, 64 << 20)

    def members(self) -> Iterator[str]:
        """Yield the keys of the object that starts here; the caller consumes each value."""
        self.expect("{", "'{'")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise MalformedJson(self.line(), "malformed JSON: an object key is not a string")
            self.expect(":", "':'")
            yield key
            got = self.peek()
            if got not in (",", "}"):
                raise self._unexpected(got, "',' or '}'")
            self._pos += 1
            if got == "}":
                return

    def items(self) -> Iterator[int]:
        """Yield once per element of the array that starts here (its first line)."""
        self.expect("[", "'['")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            self.peek()
            yield self.line()
            got = self.peek()
            if got not in (",", "]"):
                raise self._unexpected(got, "',' or ']'")
            self._pos += 1
            if got == "]":
                return

    def elements(self) -> Iterator[tuple[int, Any, str]]:
        """Yield (first line, value, exact source text) of each element of the array here."""
        self.expect("[", "'['")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            line = self.line()
            obj, start, end = self._decode()
            yield line, obj, self._buf[start:end]
            got = self.peek()
            if got == "]":
                self._pos += 1
                return
            if got != ",":
                raise self._unexpected(got, "',' or ']'")
            self._pos += 1
            self.peek()
