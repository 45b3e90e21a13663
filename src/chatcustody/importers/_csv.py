"""Read CSV rows with the physical line each starts on and its exact text.

Rows are parsed by ``csv.reader`` (strict) over decoded physical lines, so a row that spans
lines (a quoted newline) keeps its first line number and its source text; a row holding an
undecodable line, or malformed CSV, becomes a Rejected naming that line.

:class:`PhysicalLines` feeds ``csv.reader`` the UTF-8 lines of a byte stream and keeps the
current row's exact text and its first undecodable line (``wechat``, ``mattermost``).
``csv.field_size_limit`` is process-wide; :func:`raise_field_limit` is the one place that
changes it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Final

from chatcustody.importers._base import Rejected
from chatcustody.importers._decode import iter_decoded_lines

_CSV_ERRORS: Final[dict[str, str]] = {
    "unexpected end of data": "a quoted field is not closed before the end of the file",
    "new-line character seen in unquoted field - do you need to open the file in "
    "universal-newline mode?": "a bare carriage return (CR) inside an unquoted field",
}

_RAW_EXCERPT: Final[int] = 500  # characters of a rejected row kept for the report

_BOM: Final[bytes] = b"\xef\xbb\xbf"
# Merged-forward XML in a WeChat CSV can pass csv's 128 KiB default field limit.
FIELD_LIMIT_CHARS: Final[int] = 64 * 1024 * 1024


def raise_field_limit() -> None:
    """Raise the process-wide ``csv.field_size_limit`` to FIELD_LIMIT_CHARS (never lower it)."""
    if csv.field_size_limit() < FIELD_LIMIT_CHARS:
        csv.field_size_limit(FIELD_LIMIT_CHARS)


@dataclass(frozen=True, slots=True)
class BadLine:
    """A physical line that is not UTF-8: its number and the offset of the bad byte."""

    line: int
    byte: int


class PhysicalLines:
    """Feed csv.reader decoded physical lines and remember those of the current row.

    Invalid UTF-8 is decoded with replacement characters; the first such line of the
    current row is kept in ``bad`` until :meth:`take` ends the row.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.number = 0  # physical lines handed out so far
        self.pending: list[str] = []
        self.bad: BadLine | None = None  # first decoding defect in the current row

    def __iter__(self) -> Iterator[str]:
        for data in self._stream:
            self.number += 1
            if self.number == 1 and data.startswith(_BOM):
                data = data[len(_BOM) :]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if self.bad is None:
                    self.bad = BadLine(self.number, exc.start)
                text = data.decode("utf-8", "replace")
            self.pending.append(text)
            yield text

    def take(self) -> str:
        """Return the current row's physical text (without its final line break); end the row."""
        pending = self.pending
        text = (pending[0] if len(pending) == 1 else "".join(pending)).rstrip("\r\n")
        self.pending.clear()
        self.bad = None
        return text


@dataclass(slots=True)
class CsvRow:
    """One parsed CSV row: where it starts, its fields, its exact source text."""

    line: int
    fields: list[str]
    raw: str


def iter_csv_rows(stream: IO[bytes], encoding: str, delimiter: str) -> Iterator[CsvRow | Rejected]:
    """Yield the non-blank rows of a CSV stream, or Rejected for rows that cannot be read."""
    raise_field_limit()
    lines: list[str] = []
    problems: list[tuple[int, str]] = []

    def feed() -> Iterator[str]:
        for number, text, problem in iter_decoded_lines(stream, encoding):
            lines.append(text)
            if problem:
                problems.append((number, problem))
            yield text

    reader = csv.reader(feed(), delimiter=delimiter, strict=True)
    start = 1
    seen = False
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            seen = True
            reason = _CSV_ERRORS.get(str(exc), str(exc))
            yield Rejected(start, f"malformed CSV: {reason}", "".join(lines)[:_RAW_EXCERPT])
            fields = None
        raw = "".join(lines).rstrip("\r\n")
        lines.clear()
        if fields is not None and (fields or raw.strip()):
            seen = True
            if problems:
                number, problem = problems[0]
                yield Rejected(number, problem, raw[:_RAW_EXCERPT])
            else:
                yield CsvRow(start, fields, raw)
        problems.clear()
        start = reader.line_num + 1
    if not seen:
        yield Rejected(None, "file is empty")


def column_index(header: list[str], name: str) -> int | None:
    """Return the index of header column ``name`` (exact, else case-insensitive), or None.

    Raise ValueError when the name matches more than one column.
    """
    names = [h.strip() for h in header]
    for candidates in (names, [h.lower() for h in names]):
        wanted = name if candidates is names else name.lower()
        hits = [i for i, h in enumerate(candidates) if h == wanted]
        if len(hits) > 1:
            raise ValueError(f"column {name!r} appears {len(hits)} times in the header")
        if hits:
            return hits[0]
    return None
