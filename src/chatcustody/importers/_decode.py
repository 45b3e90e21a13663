"""Guess a text file's encoding and read it as decoded physical lines (mapped importers)."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import IO, Final

_UTF8_BOM: Final[bytes] = b"\xef\xbb\xbf"
# Valid UTF-8 multi-byte bytes before a bad one that make a file UTF-8 rather than GB18030
# (a chance-valid GB18030 run is one or two characters long).
_UTF8_EVIDENCE_BYTES: Final[int] = 6


def guess_encoding(head: bytes) -> str:
    """Return utf-8 when ``head`` reads as UTF-8, else gb18030.

    A cut last character is allowed, and so is a bad byte after a good stretch of UTF-8
    multi-byte text (a damaged UTF-8 file is rejected line by line, not read as GB18030).
    """
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        before = head[: exc.start]
        multibyte = sum(1 for b in before if b >= 0x80)
        return "utf-8" if multibyte >= _UTF8_EVIDENCE_BYTES else "gb18030"
    return "utf-8"


def iter_decoded_lines(stream: IO[bytes], encoding: str) -> Iterator[tuple[int, str, str | None]]:
    """Yield (1-based line number, text with its line ending, decode problem or None).

    A line that does not decode is still yielded (with U+FFFD) so CSV parsing stays in step;
    the caller rejects the row that contains it. A leading BOM is dropped.
    """
    for number, raw in enumerate(stream, start=1):
        if number == 1 and encoding == "utf-8" and raw.startswith(_UTF8_BOM):
            raw = raw[3:]
        try:
            text = raw.decode(encoding)
            problem = None
        except UnicodeDecodeError as exc:
            text = raw.decode(encoding, "replace")
            hint = ' (set "encoding" in the mapping, e.g. gb18030)' if encoding == "utf-8" else ""
            if number == 1 and raw.startswith(_UTF8_BOM) and encoding != "utf-8":
                hint = " (the file starts with a UTF-8 byte-order mark: is it UTF-8?)"
            problem = f"invalid {encoding} at byte {exc.start} of line {number}{hint}"
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield number, text, problem
