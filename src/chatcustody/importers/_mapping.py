"""Column mappings, time formats and decoding shared by ``csv``, ``jsonl`` and ``events``.

A mapping file (JSON, or TOML when it ends in ``.toml``) names, for each canonical field,
the source column (a CSV header name) or key (a JSON key or dotted path such as
``author.id``), or a constant (``{"const": "dingtalk"}``), plus how to read the times::

    platform = { const = "dingtalk" }
    conversation_id = "会话ID"
    sender_id = "发送者ID"
    timestamp = "发送时间"
    text = "内容"
    timestamp_format = "%Y/%m/%d %H:%M:%S"   # iso | epoch_s | epoch_ms | auto | strptime
    encoding = "gb18030"
    [type_map]
    "图片" = "image"

Invariants: a mapping that cannot be used raises ``MappingError`` (the importer turns it
into one ``Rejected``); one row's defect raises ``RowError``; nothing here raises anything
else for bad input. Times are never naive: zone-less values are read in ``source.tz``.
"""

from __future__ import annotations

import codecs
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final
from zoneinfo import ZoneInfo

from chatcustody.importers._base import (
    SourceInput,
    epoch_ms_with_zone,
    local_to_utc,
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

# Instants outside this window are a wrong timestamp_format (epoch 0, ms read as s), not data.
_MIN_MS: Final[int] = 315_532_800_000  # 1980-01-01T00:00Z
_MAX_MS: Final[int] = 7_258_118_400_000  # 2200-01-01T00:00Z
_EPOCH_S_LIMIT: Final[int] = 100_000_000_000  # an epoch above this is milliseconds, not seconds
_ASCII_PROBE: Final[str] = '\n\r,;\t|"{}[]:'
_UTF8_BOM: Final[bytes] = b"\xef\xbb\xbf"
_CACHE_ENTRIES: Final[int] = 4096  # bound of each memo (zone offsets, types, kinds, files)
# Valid UTF-8 multi-byte bytes before a bad one that make a file UTF-8 rather than GB18030
# (a chance-valid GB18030 run is one or two characters long).
_UTF8_EVIDENCE_BYTES: Final[int] = 6


class MappingError(ValueError):
    """A mapping file that cannot be used; its message names the file."""


class RowError(ValueError):
    """One source row's defect, turned into a Rejected by the importer."""


@dataclass(frozen=True, slots=True)
class Const:
    """A field whose value is the same for every row."""

    value: str


@dataclass(frozen=True, slots=True)
class Column:
    """A field read from a CSV column or a JSON key / dotted path."""

    name: str


Spec = Const | Column


@dataclass(frozen=True, slots=True)
class Schema:
    """What a mapping may say for one family of importers."""

    fields: tuple[str, ...]
    required: tuple[tuple[str, ...], ...]  # each group: at least one of these must be given
    maps: dict[str, frozenset[str] | None]  # map name → allowed targets (None: any text)
    choices: dict[str, frozenset[str]]  # scalar option → allowed values
    default_time: str


_FAST_DIRECTIVES: Final[dict[str, str]] = {
    "Y": r"(\d{4})",
    "m": r"(\d{1,2})",
    "d": r"(\d{1,2})",
    "H": r"(\d{1,2})",
    "M": r"(\d{1,2})",
    "S": r"(\d{1,2})",
    "f": r"([0-9]{1,6})",
}


_ISO_ORDER: Final[tuple[str, ...]] = ("Y", "m", "d", "H", "M", "S")


def _fast_pattern(pattern: str) -> tuple[re.Pattern[str], tuple[str, ...]] | None:
    """Return a regex reading ``pattern`` like strptime (5x faster), or None if not simple.

    Only numeric %Y %m %d %H %M %S %f each followed by a literal or the end (``%Y%m%d`` is
    left to strptime: adjacent variable-width numbers are ambiguous), %% and literals
    qualify; a whitespace run matches any whitespace run and letters match in any case, as
    in strptime. Range checks are left to ``datetime()``.
    """
    out: list[str] = []
    order: list[str] = []
    after_directive = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%":
            d = pattern[i + 1 : i + 2]
            if d == "%":
                out.append("%")
                after_directive = False
            elif d in _FAST_DIRECTIVES and d not in order and not after_directive:
                out.append(_FAST_DIRECTIVES[d])
                order.append(d)
                after_directive = True
            else:
                return None
            i += 2
            continue
        after_directive = False
        if c.isspace():
            while i < len(pattern) and pattern[i].isspace():
                i += 1
            out.append(r"\s+")
        else:
            out.append(re.escape(c))
            i += 1
    if not {"Y", "m", "d", "H"} <= set(order):
        return None
    return re.compile("".join(out), re.IGNORECASE), tuple(order)


@dataclass(frozen=True, slots=True)
class TimeFormat:
    """How a timestamp column is written: iso, epoch_s, epoch_ms, auto or a strptime pattern."""

    kind: str
    pattern: str = ""
    fast: re.Pattern[str] | None = None  # a regex equivalent of simple numeric patterns
    order: tuple[str, ...] = ()  # the directives the regex groups capture, in order

    @classmethod
    def parse(cls, text: str) -> TimeFormat:
        """Return the format named by ``text``; raise ValueError when it is unusable."""
        name = text.strip()
        if name in ("iso", "epoch_s", "epoch_ms", "auto"):
            return cls(name)
        if "%" not in name:
            raise ValueError(
                f"timestamp_format {text!r} is not iso, epoch_s, epoch_ms, auto "
                "or a strptime pattern such as '%Y/%m/%d %H:%M:%S'"
            )
        if "%Z" in name:
            raise ValueError("timestamp_format: %Z gives no UTC offset; use %z (+0800)")
        for needed, what in ((("%Y", "%y"), "year"), (("%d", "%j"), "day"), (("%H", "%I"), "hour")):
            if not any(d in name for d in needed):
                raise ValueError(f"timestamp_format {text!r} has no {what} ({' or '.join(needed)})")
        sample = datetime(2026, 3, 14, 14, 40, 5, tzinfo=timezone(timedelta(hours=8)))
        try:
            datetime.strptime(sample.strftime(name), name)
        except ValueError as exc:
            raise ValueError(f"timestamp_format {text!r} is not a valid pattern: {exc}") from None
        fast = _fast_pattern(name)
        return cls("pattern", name, *(fast or (None, ())))

    def __str__(self) -> str:
        return self.pattern or self.kind


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """A validated mapping file."""

    path: Path
    fields: dict[str, Spec]
    timestamp_format: TimeFormat
    maps: dict[str, dict[str, str]] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    encoding: str | None = None

    @property
    def has_attachments(self) -> bool:
        """Return True when the mapping names an attachment path or name."""
        return "attachment_path" in self.fields or "attachment_name" in self.fields

    def lookup(self, name: str, value: str) -> str | None:
        """Return the target of ``value`` in map ``name`` (exact, then case-insensitive)."""
        table = self.maps.get(name)
        if not table:
            return None
        hit = table.get(value)
        return hit if hit is not None else table.get("\x00" + value.lower())


def check_encoding(name: str) -> str:
    """Return the codec to decode lines with; raise ValueError for unusable ones."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"unknown encoding {name!r} (utf-8, utf-8-sig, gb18030, …)") from None
    if codec == "utf-8-sig":
        return "utf-8"  # a leading BOM is always dropped
    try:
        ascii_ok = _ASCII_PROBE.encode(codec) == _ASCII_PROBE.encode("ascii")
    except (UnicodeError, LookupError):
        ascii_ok = False
    if not ascii_ok:
        raise ValueError(f"encoding {name!r} is not ASCII-compatible (UTF-16/32 are not supported)")
    return codec


def _spec(key: str, value: Any) -> Spec:
    if isinstance(value, str) and value.strip():
        return Column(value.strip())
    if isinstance(value, dict) and len(value) == 1:
        if "column" in value and isinstance(value["column"], str) and value["column"].strip():
            return Column(value["column"].strip())
        const = value.get("const")
        if isinstance(const, str | int | float) and not isinstance(const, bool):
            return Const(str(const))
    raise ValueError(
        f'{key} must be a column name or {{"const": VALUE}} / {{"column": NAME}}, not {value!r}'
    )


def _read_mapping_file(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read it ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"invalid TOML: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        if path.suffix.lower() == ".json":
            raise ValueError(f"invalid JSON: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise ValueError("it is neither JSON nor TOML") from None


def load_mapping(option: str | None, schema: Schema, format_name: str) -> FieldMapping:
    """Read and validate the mapping file named by ``option``; raise MappingError."""
    if not option:
        raise MappingError(
            f"no mapping file given: the {format_name} format needs a column mapping "
            f"(chatcustody import --format {format_name} --mapping FILE; see "
            "docs/formats/generic.md)"
        )
    path = Path(option)
    try:
        return _validate(path, _read_mapping_file(path), schema)
    except ValueError as exc:
        raise MappingError(f"mapping file {path}: {exc}") from None


def _validate(path: Path, data: Any, schema: Schema) -> FieldMapping:
    if not isinstance(data, dict):
        raise ValueError("the top level must be an object / table of settings")
    fields: dict[str, Spec] = {}
    maps: dict[str, dict[str, str]] = {}
    choices: dict[str, str] = {}
    time_format = TimeFormat(schema.default_time)
    delimiter: str | None = None
    encoding: str | None = None
    for key, value in data.items():
        if key.startswith("_"):  # "_comment" and the like
            continue
        if key in schema.fields:
            fields[key] = _spec(key, value)
        elif key == "timestamp_format":
            if not isinstance(value, str):
                raise ValueError("timestamp_format must be a string")
            time_format = TimeFormat.parse(value)
        elif key == "delimiter":
            aliases = {"tab": "\t", "\\t": "\t"}
            delimiter = aliases.get(value, value) if isinstance(value, str) else None
            if delimiter is None or len(delimiter) != 1 or delimiter in '\r\n"':
                raise ValueError(
                    f"delimiter must be one character (',', ';', '\\t'), not {value!r}"
                )
        elif key == "encoding":
            if not isinstance(value, str):
                raise ValueError("encoding must be a string")
            encoding = check_encoding(value)
        elif key in schema.maps:
            maps[key] = _map(key, value, schema.maps[key])
        elif key in schema.choices:
            if not isinstance(value, str) or value.strip().lower() not in schema.choices[key]:
                allowed = ", ".join(sorted(schema.choices[key]))
                raise ValueError(f"{key} must be one of {allowed}, not {value!r}")
            choices[key] = value.strip().lower()
        else:
            known = [*schema.fields, "timestamp_format", "delimiter", "encoding"]
            known += [*schema.maps, *schema.choices]
            raise ValueError(f"unknown key {key!r} (known keys: {', '.join(known)})")
    for group in schema.required:
        if not any(name in fields for name in group):
            raise ValueError(f"no column given for {' or '.join(group)}")
    return FieldMapping(path, fields, time_format, maps, choices, delimiter, encoding)


def _map(key: str, value: Any, allowed: frozenset[str] | None) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be an object / table of source value → target")
    out: dict[str, str] = {}
    for source, target in value.items():
        if not isinstance(target, str) or not target.strip():
            raise ValueError(f"{key}[{source!r}] must be a non-empty string")
        target = target.strip()
        if allowed is not None:
            target = target.lower()
            if target not in allowed:
                raise ValueError(
                    f"{key}[{source!r}] = {target!r} is not one of {', '.join(sorted(allowed))}"
                )
        out[source] = target
        out.setdefault("\x00" + source.lower(), target)  # case-insensitive fallback
    return out


# ----------------------------------------------------------------------------- times

_AUTO_RE: Final[re.Pattern[str]] = re.compile(
    r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:T|\s+)"
    r"(\d{1,2})[:：时](\d{2})(?:[:：分](\d{2})秒?(?:[.,](\d{1,6}))?)?"
    r"\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?"
)
_EPOCH_RE: Final[re.Pattern[str]] = re.compile(r"\d{10}(?:\.\d+)?|\d{13}")


_NAIVE_EPOCH: Final[datetime] = datetime(1970, 1, 1)
_ONE_MS: Final[timedelta] = timedelta(milliseconds=1)
_HOUR_SECONDS: Final[int] = 3600
_HOUR_OFFSETS: dict[tuple[ZoneInfo, int], tuple[timedelta, int] | None] = {}


def _local_to_utc(naive: datetime, tz: ZoneInfo) -> tuple[int, int]:
    """Return ``local_to_utc(naive, tz)``, memoising the zone's offset per local hour.

    An hour is memoised only when its first and last instants have the same offset, so an
    hour holding a DST transition is always computed exactly by ``local_to_utc``.
    """
    delta = naive - _NAIVE_EPOCH
    key = (tz, delta.days * 24 + delta.seconds // _HOUR_SECONDS)
    if key in _HOUR_OFFSETS:
        hit = _HOUR_OFFSETS[key]
    else:
        start = naive.replace(minute=0, second=0, microsecond=0)
        first = start.replace(tzinfo=tz).utcoffset()
        last = start.replace(minute=59, second=59, microsecond=999_999, tzinfo=tz).utcoffset()
        hit = None
        if first is not None and first == last:
            hit = (first, local_to_utc(start, tz)[1])
        if len(_HOUR_OFFSETS) >= _CACHE_ENTRIES:
            _HOUR_OFFSETS.clear()
        _HOUR_OFFSETS[key] = hit
    if hit is None:
        return local_to_utc(naive, tz)
    offset, minutes = hit
    return (delta - offset) // _ONE_MS, minutes


def _instant(dt: datetime, tz: ZoneInfo) -> tuple[int, int]:
    if dt.tzinfo is None:
        return _local_to_utc(dt, tz)
    return to_epoch_ms(dt), offset_minutes(dt)


def _checked(value: object, ms: int) -> int:
    if not _MIN_MS <= ms < _MAX_MS:
        raise RowError(f"timestamp {value!r} is outside 1980–2199: check timestamp_format")
    return ms


def _epoch(value: object, seconds: bool, tz: ZoneInfo) -> tuple[int, int]:
    unit = "epoch seconds" if seconds else "epoch milliseconds"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RowError(f"timestamp {value!r} is not {unit}")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise RowError(f"timestamp {value!r} is not {unit}") from None
    if not number.is_finite():
        raise RowError(f"timestamp {value!r} is not {unit}")
    if seconds and number >= _EPOCH_S_LIMIT:
        raise RowError(f"timestamp {value!r} looks like epoch milliseconds, not seconds")
    if not seconds and number < _EPOCH_S_LIMIT:
        raise RowError(f"timestamp {value!r} looks like epoch seconds, not milliseconds")
    ms = int((number * 1000 if seconds else number).to_integral_value(ROUND_FLOOR))
    return epoch_ms_with_zone(_checked(value, ms), tz)


def _require_time_of_day(value: object, text: str) -> None:
    """Refuse a date without a time: midnight would be a guess, not the source's time."""
    if ":" not in text and "T" not in text.upper():
        raise RowError(f"timestamp {value!r} has no time of day")


def _auto(value: object, tz: ZoneInfo) -> tuple[int, int]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RowError(f"timestamp {value!r} is not a time")
    text = value.strip()
    if _EPOCH_RE.fullmatch(text):
        return _epoch(text, len(text) != 13, tz)
    m = _AUTO_RE.fullmatch(text)
    if m is None:
        try:
            iso = datetime.fromisoformat(text)
        except ValueError:
            raise RowError(
                f"timestamp {value!r} is not a recognised time (use YYYY-MM-DD HH:MM[:SS]"
                "[±HH:MM], epoch seconds or milliseconds, or a mapping with timestamp_format)"
            ) from None
        _require_time_of_day(value, text)
        try:
            return _instant(iso, tz)
        except (OverflowError, ValueError):
            raise RowError(f"timestamp {value!r} is out of range") from None
    year, month, day, hour, minute, sec, frac, zone = m.groups()
    micro = int((frac or "0").ljust(6, "0"))
    tzinfo: timezone | None = None
    if zone in ("Z", "UTC"):
        tzinfo = UTC
    elif zone:
        digits = zone[1:].replace(":", "").ljust(4, "0")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if delta >= timedelta(hours=24):
            raise RowError(f"timestamp {value!r} has an impossible UTC offset")
        tzinfo = timezone(-delta if zone[0] == "-" else delta)
    try:
        dt = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(sec or 0), micro, tzinfo
        )
        return _instant(dt, tz)
    except (OverflowError, ValueError) as exc:
        raise RowError(f"timestamp {value!r}: {exc}") from None


def _fast_datetime(text: str, regex: re.Pattern[str], order: tuple[str, ...]) -> datetime:
    m = regex.fullmatch(text)
    if m is None:
        raise ValueError(text)
    g = m.groups()
    if order == _ISO_ORDER:  # the common case: %Y %m %d %H %M %S in that order
        return datetime(int(g[0]), int(g[1]), int(g[2]), int(g[3]), int(g[4]), int(g[5]))
    parts = dict(zip(order, g, strict=True))
    return datetime(
        int(parts["Y"]),
        int(parts["m"]),
        int(parts["d"]),
        int(parts["H"]),
        int(parts.get("M", 0)),
        int(parts.get("S", 0)),
        int(parts.get("f", "0").ljust(6, "0")),
    )


def parse_time(value: object, fmt: TimeFormat, tz: ZoneInfo) -> tuple[int, int]:
    """Return (UTC ms, offset minutes) of a source time; zone-less ones are read in ``tz``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowError("no timestamp")
    if fmt.kind in ("epoch_s", "epoch_ms"):
        return _epoch(value, fmt.kind == "epoch_s", tz)
    if fmt.kind == "auto":
        ms, off = _auto(value, tz)
        return _checked(value, ms), off
    if not isinstance(value, str):
        raise RowError(f"timestamp {value!r} is not text; timestamp_format is {str(fmt)!r}")
    try:
        if fmt.kind == "iso":
            dt = datetime.fromisoformat(value.strip())
        elif fmt.fast is not None:
            dt = _fast_datetime(value.strip(), fmt.fast, fmt.order)
        else:
            dt = datetime.strptime(value.strip(), fmt.pattern)
    except ValueError:
        raise RowError(
            f"timestamp {value!r} does not match timestamp_format {str(fmt)!r}"
        ) from None
    if fmt.kind == "iso":
        _require_time_of_day(value, value.strip())
    try:
        ms, off = _instant(dt, tz)
    except (OverflowError, ValueError):
        raise RowError(f"timestamp {value!r} is out of range") from None
    return _checked(value, ms), off


# ----------------------------------------------------------------------------- decoding


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


# ----------------------------------------------------------------------------- chat rows

_TYPES: Final[frozenset[str]] = frozenset(m.value for m in MessageType)
_KINDS: Final[frozenset[str]] = frozenset(k.value for k in ConversationKind)
_AMEND: Final[frozenset[str]] = frozenset({"edit", "delete"})
_MAX_PLATFORM: Final[int] = 32  # conversations.platform / participants.platform are VARCHAR(32)
_NO_ATTACHMENTS: Final[tuple[Attachment, ...]] = ()
_MESSAGE_TYPES: Final[dict[str, MessageType]] = {m.value: m for m in MessageType}

CHAT_SCHEMA: Final[Schema] = Schema(
    fields=(
        "platform",
        "conversation_id",
        "conversation_name",
        "conversation_kind",
        "message_id",
        "sender_id",
        "sender_name",
        "timestamp",
        "type",
        "text",
        "reply_to",
        "target_id",
        "attachment_path",
        "attachment_name",
        "attachment_mime",
    ),
    required=(
        ("platform",),
        ("conversation_id", "conversation_name"),
        ("sender_id", "sender_name"),
        ("timestamp",),
        ("text",),
    ),
    maps={"type_map": _TYPES | _AMEND, "kind_map": _KINDS},
    choices={"type_default": _TYPES},
    default_time="iso",
)

Values = dict[str, Any]


def scalar(values: Values, name: str, mapping: FieldMapping | None) -> str | None:
    """Return a field's text (None when absent or empty); raise RowError for objects."""
    v = values.get(name)
    if v is None or v == "":
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    spec = mapping.fields.get(name) if mapping else None
    where = f" ({spec.name!r})" if isinstance(spec, Column) else ""
    raise RowError(f"{name}{where} is a JSON {type(v).__name__}, not a single value")


def _ident(value: Any) -> str | None:
    """Return an id-like value stripped, None when absent or blank."""
    return (value.strip() or None) if isinstance(value, str) else None


def text_values(values: Values, mapping: FieldMapping | None) -> Values:
    """Return ``values`` with every field but ``timestamp`` as text or None (RowError)."""
    return {k: v if k == "timestamp" else scalar(values, k, mapping) for k, v in values.items()}


class ChatRowBuilder:
    """Turns one row's mapped values into a Record (or an Amendment for edit / delete).

    ``values`` holds text (or None) for every field but ``timestamp``, which is passed as
    the source gave it (a JSON number stays a number); see ``text_values``.
    """

    def __init__(self, mapping: FieldMapping, source: SourceInput) -> None:
        self._m = mapping
        self._source = source
        self._type_default = mapping.choices.get("type_default", "text")
        self._types: dict[str | None, str] = {}
        self._kinds: dict[str | None, ConversationKind] = {}
        self._present: dict[str, bool] = {}  # attachment path → exists in the export

    def _type(self, value: str | None) -> str:
        hit = self._types.get(value)
        if hit is None:
            key = (value or "").strip()
            mapped = self._m.lookup("type_map", key) if key else None
            if mapped is None:
                mapped = key.lower() if key.lower() in _TYPES | _AMEND else self._type_default
            hit = mapped
            if len(self._types) < _CACHE_ENTRIES:
                self._types[value] = hit
        return hit

    def _kind(self, value: str | None) -> ConversationKind:
        hit = self._kinds.get(value)
        if hit is None:
            key = (value or "").strip()
            mapped = (self._m.lookup("kind_map", key) or key.lower()) if key else "direct"
            if mapped not in _KINDS:
                raise RowError(
                    f"unknown conversation_kind {key!r} (direct, group, channel; "
                    "or add it to kind_map)"
                )
            hit = ConversationKind(mapped)
            if len(self._kinds) < _CACHE_ENTRIES:
                self._kinds[value] = hit
        return hit

    def _exists(self, rel: str) -> bool:
        hit = self._present.get(rel)
        if hit is None:
            stream = self._source.attachment(rel)
            hit = stream is not None
            if stream is not None:
                stream.close()
            if len(self._present) >= _CACHE_ENTRIES:
                self._present.clear()
            self._present[rel] = hit
        return hit

    def _attachments(
        self, path: str | None, name: str | None, mime: str | None
    ) -> tuple[Attachment, ...]:
        if path is None:
            return () if name is None else (Attachment(name, mime, None, included=False),)
        rel = path.replace("\\", "/")
        if not self._exists(rel):  # named only, or outside the export: keep it, marked absent
            return (Attachment(name or PurePosixPath(rel).name or rel, mime, rel, included=False),)
        rel = str(PurePosixPath(rel))
        return (Attachment(name or PurePosixPath(rel).name, mime, rel, included=True),)

    def build(self, values: Values, raw: str, line: int) -> Record | Amendment:
        """Return the canonical item of one row; raise RowError on any defect."""
        get = values.get
        ident = _ident
        platform = ident(get("platform"))
        if platform is None:
            raise RowError("no platform")
        platform = platform.lower()
        if len(platform) > _MAX_PLATFORM or not platform.isprintable():
            # platform is a clear, indexed column: refuse rather than cut or store junk
            raise RowError(f"platform {platform[:40]!r} is not a short printable name (≤ 32)")
        conv_name = get("conversation_name") or ""
        conv_id = ident(get("conversation_id")) or conv_name.strip()
        if not conv_id:
            raise RowError("no conversation_id or conversation_name")
        sender_name = get("sender_name") or ""
        sender_id = ident(get("sender_id")) or sender_name.strip()
        if not sender_id:
            raise RowError("no sender_id or sender_name")
        ts, off = parse_time(get("timestamp"), self._m.timestamp_format, self._source.tz)
        mtype = self._type(get("type"))
        text: str = get("text") or ""
        target = ident(get("target_id"))
        if mtype in _AMEND:
            if target is None:
                raise RowError(f"{mtype} row has no target_id (the id of the message it changes)")
            return Amendment(platform, conv_id, target, mtype, ts, off, sender_id, text, raw, line)
        attachments = _NO_ATTACHMENTS
        if self._m.has_attachments:
            attachments = self._attachments(
                ident(get("attachment_path")),
                ident(get("attachment_name")),
                ident(get("attachment_mime")),
            )
            if not text and attachments:
                text = attachments[0].name
        return Record(
            platform=platform,
            conversation_id=conv_id,
            conversation_name=conv_name,
            conversation_kind=self._kind(get("conversation_kind")),
            message_id=ident(get("message_id")),
            sender_id=sender_id,
            sender_name=sender_name,
            timestamp_ms=ts,
            utc_offset_min=off,
            type=_MESSAGE_TYPES[mtype],
            text=text,
            raw=raw,
            reply_to=ident(get("reply_to")),
            target_id=target,
            attachments=attachments,
            line=line,
        )
