"""``jsonl``: any other tool's JSON lines export, read through a key-mapping file.

One JSON object per line (DingTalk open-platform messages, a bot's log, a vendor dump).
The mapping (``source.options["mapping"]``; see docs/formats/generic.md) names, for each
canonical field, a key or a dotted path into the object (``text.content``, ``author.id``,
``atUsers.0.dingtalkId``; a key that itself contains dots is tried first), or a constant.
``raw`` is the line exactly as in the file. Streams line by line. Never detected: force it
with ``--format jsonl`` (the canonical format is ``chatcustody-jsonl``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from chatcustody.importers._base import ParseResult, Rejected, SourceInput
from chatcustody.importers._mapped_json import (
    compile_path,
    iter_json_objects,
    lookup,
)
from chatcustody.importers._mapping import Column, Const, MappingError, RowError, load_mapping
from chatcustody.importers._mapping_rows import CHAT_SCHEMA, ChatRowBuilder, text_values

_RAW_EXCERPT = 500  # characters of a rejected line kept for the report


class JsonlMappedImporter:
    """Generic JSON lines, driven by a key-mapping file."""

    name = "jsonl"
    description = "Any other tool's JSON lines export, through a key-mapping file (--mapping FILE)"
    detect_order = 95

    def detect(self, path: Path) -> bool:
        """Return False: generic JSON lines are only read when forced with --format jsonl."""
        return False

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield one Record (or Amendment) per line, or Rejected naming the line and defect."""
        try:
            mapping = load_mapping(source.options.get("mapping"), CHAT_SCHEMA, self.name)
        except MappingError as exc:
            yield Rejected(None, str(exc))
            return
        if not source.path.is_file():
            yield Rejected(None, "the jsonl format reads one JSON lines file, not a folder")
            return
        builder = ChatRowBuilder(mapping, source)
        consts = {k: s.value for k, s in mapping.fields.items() if isinstance(s, Const)}
        paths = [
            (k, compile_path(s.name)) for k, s in mapping.fields.items() if isinstance(s, Column)
        ]
        with source.open() as stream:
            for item in iter_json_objects(stream, mapping.encoding or "utf-8"):
                if isinstance(item, Rejected):
                    yield item
                    continue
                number, text, obj = item
                values: dict[str, object] = dict(consts)
                for name, path in paths:
                    values[name] = lookup(obj, path)
                try:
                    yield builder.build(text_values(values, mapping), text, number)
                except RowError as exc:
                    record = values.get("message_id")
                    yield Rejected(
                        number,
                        str(exc),
                        text[:_RAW_EXCERPT],
                        None if record is None or isinstance(record, dict | list) else str(record),
                    )


IMPORTER = JsonlMappedImporter()
