"""``events``: system alerts and operation logs, imported as timeline events (never messages).

Accepts a CSV file with a header row, or JSON lines (one object per line; chosen by the first
non-blank character, ``{``). Columns / keys are found by common names, case-insensitively:

- time: time, timestamp, ts, datetime, 时间, 发生时间, 操作时间, 告警时间 … (required)
- text: event, message, text, msg, description, detail, 事件, 内容, 描述, 详情 … (required)
- source (the system's name): source, system, app, service, 来源, 系统 … (required)
- actor: actor, user, operator, username, account, 操作人, 操作员, 用户 … (optional)
- category: category, level, type, severity, 类别, 类型, 级别 … (optional, default "event")

A mapping file (``source.options["mapping"]``) may name other columns / dotted keys, give
constants (``source = {const = "订单系统"}``), a ``timestamp_format``, ``delimiter``,
``encoding`` and a ``category_map``. Without one, times are read as ``auto``: ISO 8601 or
``YYYY-MM-DD HH:MM[:SS]`` (``/`` ``.`` ``年月日`` separators too) with an optional offset,
or 10-digit epoch seconds / 13-digit epoch milliseconds; zone-less times use ``source.tz``;
day/month-ambiguous dates (``03/14/2026``) are refused. The encoding is UTF-8 (BOM or not)
unless the first 64 KiB are not UTF-8, then GB18030. ``raw`` is the exact source line(s).
The category is stored in a clear, indexed column of at most 32 characters: longer values
are refused, never cut. Streams one row at a time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from chatcustody.importers._base import ParseResult, Rejected, SourceInput, head_bytes
from chatcustody.importers._csv import column_index, iter_csv_rows
from chatcustody.importers._decode import guess_encoding
from chatcustody.importers._mapped_json import compile_path, iter_json_objects, lookup
from chatcustody.importers._mapping import (
    Column,
    Const,
    FieldMapping,
    MappingError,
    RowError,
    Schema,
    TimeFormat,
    load_mapping,
    parse_time,
)
from chatcustody.importers._mapping_rows import scalar
from chatcustody.model import Event

_RAW_EXCERPT: Final[int] = 500
_HEAD_BYTES: Final[int] = 65536  # enough to guess the encoding and read the header
_MAX_CATEGORY: Final[int] = 32  # events.category is VARCHAR(32)

SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "timestamp": (
        "time", "timestamp", "ts", "datetime", "date_time", "date time", "event_time",
        "eventtime", "log_time", "logtime", "@timestamp", "时间", "发生时间", "操作时间",
        "告警时间", "记录时间", "日志时间", "事件时间",
    ),
    "text": (
        "event", "message", "text", "msg", "description", "detail", "details", "事件", "内容",
        "事件内容", "告警内容", "操作内容", "日志内容", "描述", "详情",
    ),
    "source": (
        "source", "system", "app", "application", "service", "module", "来源", "系统",
        "来源系统", "系统名称", "业务系统", "模块",
    ),
    "actor": (
        "actor", "user", "operator", "username", "user_name", "account", "operator_name",
        "操作人", "操作员", "用户", "用户名", "账号", "执行人", "处理人",
    ),
    "category": (
        "category", "level", "type", "severity", "kind", "类别", "类型", "级别", "分类",
        "事件类型", "告警级别",
    ),
}  # fmt: skip
_REQUIRED: Final[tuple[str, ...]] = ("timestamp", "text", "source")
_WHAT: Final[dict[str, str]] = {"timestamp": "time", "text": "event text", "source": "source"}
# Names that mark a chat export, not an event log (substrings of normalised names).
_CHAT_PARTS: Final[tuple[str, ...]] = (
    "conversation", "sender", "talker", "chat", "room", "channel", "thread", "msgid",
    "message_id", "message id", "msgtype", "post id", "strcontent", "nickname", "会话", "发送",
    "接收", "聊天", "群", "消息id", "消息类型",
)  # fmt: skip
_CHAT_EXACT: Final[frozenset[str]] = frozenset(
    {"from", "to", "from_id", "to_id", "tolist", "platform", "recipient"}
)
_DELIMITERS: Final[tuple[str, ...]] = (",", "\t", ";", "|")

EVENT_SCHEMA: Final[Schema] = Schema(
    fields=("timestamp", "source", "actor", "text", "category"),
    required=(),
    maps={"category_map": None},
    choices={},
    default_time="auto",
)


def _norm(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def _is_chat(name: str) -> bool:
    return name in _CHAT_EXACT or any(part in name for part in _CHAT_PARTS)


def _first_line(head: bytes, encoding: str | None = None) -> str | None:
    head = head.removeprefix(b"\xef\xbb\xbf")
    for raw in head.split(b"\n"):
        if raw.strip():
            try:
                return raw.decode(encoding or guess_encoding(head)).rstrip("\r")
            except UnicodeDecodeError:
                return None
    return None


def _split_header(line: str) -> tuple[str, list[str]]:
    """Return the delimiter whose split names the most known columns, and the names."""
    best: tuple[int, str, list[str]] = (-1, ",", [])
    for d in _DELIMITERS:
        try:
            names = [_norm(n) for n in next(csv.reader([line], delimiter=d))]
        except (csv.Error, StopIteration):
            continue
        known = sum(1 for n in names for syns in SYNONYMS.values() if n in syns)
        if known > best[0]:
            best = (known, d, names)
    return best[1], best[2]


def _has(names: list[str] | set[str], field: str) -> bool:
    return any(s in names for s in SYNONYMS[field])


class EventsImporter:
    """System alerts and operation logs for timelines."""

    name = "events"
    description = "System alerts and operation logs (CSV with header, or JSON lines) as events"
    detect_order = 80

    def detect(self, path: Path) -> bool:
        """Return True for a time + event header without chat columns (CSV or JSON lines)."""
        line = _first_line(head_bytes(path))
        if line is None:
            return False
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                return False
            if not isinstance(obj, dict):
                return False
            keys = {_norm(str(k)): v for k, v in obj.items()}
            time_ok = any(
                isinstance(keys.get(s), str | int | float) and not isinstance(keys.get(s), bool)
                for s in SYNONYMS["timestamp"]
            )
            text_ok = any(isinstance(keys.get(s), str) for s in SYNONYMS["text"])
            return time_ok and text_ok and not any(_is_chat(k) for k in keys)
        _, names = _split_header(line)
        return (
            len(names) >= 2
            and _has(names, "timestamp")
            and _has(names, "text")
            and not any(_is_chat(n) for n in names)
        )

    def parse(self, source: SourceInput) -> Iterator[ParseResult]:
        """Yield one Event per row / line, or Rejected naming the row and the defect."""
        mapping: FieldMapping | None = None
        if source.options.get("mapping"):
            try:
                mapping = load_mapping(source.options["mapping"], EVENT_SCHEMA, self.name)
            except MappingError as exc:
                yield Rejected(None, str(exc))
                return
        if not source.path.is_file():
            yield Rejected(None, "events are read from one CSV or JSON lines file, not a folder")
            return
        head = head_bytes(source.path, _HEAD_BYTES)
        encoding = (mapping.encoding if mapping else None) or guess_encoding(head)
        builder = _EventBuilder(mapping, source)
        body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        if body.startswith(b"{") and not (mapping and mapping.delimiter):
            yield from self._parse_json(source, mapping, encoding, builder)
        else:
            yield from self._parse_csv(source, mapping, encoding, builder)

    def _parse_csv(
        self,
        source: SourceInput,
        mapping: FieldMapping | None,
        encoding: str,
        builder: _EventBuilder,
    ) -> Iterator[ParseResult]:
        columns: list[tuple[str, int]] | None = None
        width = 0
        delimiter = mapping.delimiter if mapping and mapping.delimiter else None
        if delimiter is None:
            first = _first_line(head_bytes(source.path, _HEAD_BYTES), encoding)
            delimiter = _split_header(first)[0] if first else ","
        with source.open() as stream:
            for row in iter_csv_rows(stream, encoding, delimiter):
                if columns is None:
                    if isinstance(row, Rejected):
                        header = "" if row.line is None else "header line: "
                        yield Rejected(row.line, header + row.reason, row.raw)
                        return
                    try:
                        columns = self._columns(mapping, row.fields)
                    except ValueError as exc:
                        yield Rejected(row.line, str(exc), row.raw[:_RAW_EXCERPT])
                        return
                    width = len(row.fields)
                    continue
                if isinstance(row, Rejected):
                    yield row
                    continue
                if len(row.fields) != width:
                    reason = f"row has {len(row.fields)} fields, the header has {width}"
                    yield Rejected(row.line, reason, row.raw[:_RAW_EXCERPT])
                    continue
                values: dict[str, object] = dict(builder.consts)
                for name, index in columns:
                    values[name] = row.fields[index]
                yield builder.build(values, row.raw, row.line)

    def _columns(self, mapping: FieldMapping | None, header: list[str]) -> list[tuple[str, int]]:
        """Return (field, column index) per field found; raise ValueError naming what lacks."""
        names = [_norm(h) for h in header]
        out: list[tuple[str, int]] = []
        for name, synonyms in SYNONYMS.items():
            spec = mapping.fields.get(name) if mapping else None
            if isinstance(spec, Const):
                continue
            if isinstance(spec, Column):
                index = column_index(header, spec.name)
                if index is None:
                    raise ValueError(
                        f"mapping file {mapping.path if mapping else ''}: column {spec.name!r} "
                        f"(for {name}) is not in the header"
                    )
                out.append((name, index))
                continue
            for syn in synonyms:
                if syn in names:
                    if names.count(syn) > 1:
                        raise ValueError(f"column {syn!r} appears {names.count(syn)} times")
                    out.append((name, names.index(syn)))
                    break
            else:
                if name in _REQUIRED:
                    raise ValueError(
                        f"header has no {_WHAT[name]} column (one of: "
                        f"{', '.join(synonyms[:8])}, …); name it in a mapping file"
                    )
        return out

    def _parse_json(
        self,
        source: SourceInput,
        mapping: FieldMapping | None,
        encoding: str,
        builder: _EventBuilder,
    ) -> Iterator[ParseResult]:
        paths = {}
        if mapping:
            paths = {
                k: compile_path(s.name) for k, s in mapping.fields.items() if isinstance(s, Column)
            }
        with source.open() as stream:
            for item in iter_json_objects(stream, encoding):
                if isinstance(item, Rejected):
                    yield item
                    continue
                number, text, obj = item
                values: dict[str, object] = dict(builder.consts)
                lower: dict[str, str] | None = None
                for name, synonyms in SYNONYMS.items():
                    if name in values:
                        continue
                    if name in paths:
                        values[name] = lookup(obj, paths[name])
                        continue
                    if lower is None:
                        lower = {_norm(str(k)): k for k in obj}
                    key = next((lower[s] for s in synonyms if s in lower), None)
                    if key is not None:
                        values[name] = obj[key]
                yield builder.build(values, text, number)


class _EventBuilder:
    """Turns one row's values into an Event, or a Rejected naming the defect."""

    def __init__(self, mapping: FieldMapping | None, source: SourceInput) -> None:
        self._mapping = mapping
        self._tz = source.tz
        self._format = mapping.timestamp_format if mapping else TimeFormat("auto")
        self.consts: dict[str, object] = {}
        if mapping:
            self.consts = {k: s.value for k, s in mapping.fields.items() if isinstance(s, Const)}

    def build(self, values: dict[str, Any], raw: str, line: int) -> Event | Rejected:
        """Return the Event of one row, or Rejected."""
        try:
            return self._event(values, raw, line)
        except RowError as exc:
            return Rejected(line, str(exc), raw[:_RAW_EXCERPT])

    def _event(self, values: dict[str, Any], raw: str, line: int) -> Event:
        m = self._mapping
        ts, off = parse_time(values.get("timestamp"), self._format, self._tz)
        text = scalar(values, "text", m) or ""
        if not text.strip():
            raise RowError("no event text")
        source = (scalar(values, "source", m) or "").strip()
        if not source:
            raise RowError("no source (the system's name)")
        actor = (scalar(values, "actor", m) or "").strip()
        category = (scalar(values, "category", m) or "").strip()
        if category and m is not None:
            category = m.lookup("category_map", category) or category
        category = category or "event"
        if len(category) > _MAX_CATEGORY or not category.isprintable():
            # the category is a clear, indexed column: refuse rather than cut or store junk
            raise RowError(
                f"category {category[:40]!r} is not a short printable name "
                f"(at most {_MAX_CATEGORY} characters; shorten it with category_map)"
            )
        return Event(source, actor, text, ts, off, raw, category, line)


IMPORTER = EventsImporter()
