"""``csv``: any other tool's CSV export, read through a column-mapping file.

The mapping (``source.options["mapping"]``, set by ``import --mapping FILE``; see
docs/formats/generic.md and ``_mapping.py``) names the header column of each canonical field,
the ``timestamp_format``, the ``delimiter`` (default ``,``) and the ``encoding`` (default
UTF-8; a BOM is dropped; GB18030 for most Chinese Excel exports).

The first row is the header. Each later row is one message; its ``raw`` is the row's exact
source line(s) (a quoted field may span lines), its ``line`` the 1-based line it starts on.
A row whose field count differs from the header's is rejected rather than guessed at.
Streams: one row in memory at a time. Never detected: force it with ``--format csv``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from chatcustody.importers._base import ParseResult, Rejected, SourceInput
from chatcustody.importers._mapping import (
    CHAT_SCHEMA,
    ChatRowBuilder,
    Column,
    Const,
    FieldMapping,
    MappingError,
    RowError,
    iter_decoded_lines,
    load_mapping,
)

_RAW_EXCERPT = 500  # characters of a rejected row kept for the report
_CSV_ERRORS: Final[dict[str, str]] = {
    "unexpected end of data": "a quoted field is not closed before the end of the file",
    "new-line character seen in unquoted field - do you need to open the file in "
    "universal-newline mode?": "a bare carriage return (CR) inside an unquoted field",
}


@dataclass(slots=True)
class CsvRow:
    """One parsed CSV row: where it starts, its fields, its exact source text."""

    line: int
    fields: list[str]
    raw: str


def iter_csv_rows(stream: IO[bytes], encoding: str, delimiter: str) -> Iterator[CsvRow | Rejected]:
    """Yield the non-blank rows of a CSV stream, or Rejected for rows that cannot be read."""
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


def resolve_columns(mapping: FieldMapping, header: list[str]) -> list[tuple[str, int]]:
    """Return (field, column index) for every column-mapped field; raise MappingError."""
    out = []
    for name, spec in mapping.fields.items():
        if isinstance(spec, Const):
            continue
        assert isinstance(spec, Column)
        try:
            index = column_index(header, spec.name)
        except ValueError as exc:
            raise MappingError(f"mapping file {mapping.path}: {exc}") from None
        if index is None:
            raise MappingError(
                f"mapping file {mapping.path}: column {spec.name!r} (for {name}) is not in the "
                f"header; the header has: {', '.join(h.strip() for h in header)}"
            )
        out.append((name, index))
    return out


class CsvMappedImporter:
    """Generic CSV, driven by a column-mapping file."""

    name = "csv"
    description = "Any other tool's CSV export, through a column-mapping file (--mapping FILE)"
    detect_order = 95

    def detect(self, path: Path) -> bool:
        """Return False: a generic CSV is only read when forced with --format csv."""
        return False

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield one Record (or Amendment) per data row, or Rejected naming row and defect."""
        try:
            mapping = load_mapping(source.options.get("mapping"), CHAT_SCHEMA, self.name)
        except MappingError as exc:
            yield Rejected(None, str(exc))
            return
        if not source.path.is_file():
            yield Rejected(None, "the csv format reads one CSV file, not a folder")
            return
        builder = ChatRowBuilder(mapping, source)
        consts = {k: s.value for k, s in mapping.fields.items() if isinstance(s, Const)}
        columns: list[tuple[str, int]] | None = None
        width = 0
        with source.open() as stream:
            for row in iter_csv_rows(stream, mapping.encoding or "utf-8", mapping.delimiter or ","):
                if columns is None:
                    if isinstance(row, Rejected):
                        header = "" if row.line is None else "header line: "
                        yield Rejected(row.line, header + row.reason, row.raw)
                        return
                    try:
                        columns = resolve_columns(mapping, row.fields)
                    except MappingError as exc:
                        yield Rejected(row.line, str(exc), row.raw[:_RAW_EXCERPT])
                        return
                    width = len(row.fields)
                    continue
                if isinstance(row, Rejected):
                    yield row
                    continue
                if len(row.fields) != width:
                    yield Rejected(
                        row.line,
                        f"row has {len(row.fields)} fields, the header has {width}",
                        row.raw[:_RAW_EXCERPT],
                    )
                    continue
                values: dict[str, object] = dict(consts)
                for name, index in columns:
                    values[name] = row.fields[index]
                try:
                    yield builder.build(values, row.raw, row.line)
                except RowError as exc:
                    record = str(values.get("message_id") or "").strip()
                    yield Rejected(row.line, str(exc), row.raw[:_RAW_EXCERPT], record or None)


IMPORTER = CsvMappedImporter()
