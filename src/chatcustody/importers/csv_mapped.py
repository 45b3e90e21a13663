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

from collections.abc import Iterator
from pathlib import Path

from chatcustody.importers._base import ParseResult, Rejected, SourceInput
from chatcustody.importers._csv import (
    column_index,
    iter_csv_rows,
)
from chatcustody.importers._mapping import (
    Column,
    Const,
    FieldMapping,
    MappingError,
    RowError,
    load_mapping,
)
from chatcustody.importers._mapping_rows import CHAT_SCHEMA, ChatRowBuilder

_RAW_EXCERPT = 500  # characters of a rejected row kept for the report


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
