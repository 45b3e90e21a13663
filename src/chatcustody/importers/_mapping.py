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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from chatcustody.importers._base import (
    epoch_ms_with_zone,
    offset_minutes,
)
from chatcustody.importers._time import cached_local_to_utc
from chatcustody.model import (
    to_epoch_ms,
)

# Instants outside this window are a wrong timestamp_format (epoch 0, ms read as s), not data.
_MIN_MS: Final[int] = 315_532_800_000  # 1980-01-01T00:00Z
_MAX_MS: Final[int] = 7_258_118_400_000  # 2200-01-01T00:00Z
_EPOCH_S_LIMIT: Final[int] = 100_000_000_000  # an epoch above this is milliseconds, not seconds
_ASCII_PROBE: Final[str] = '\n\r,;\t|"{}[]:'


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


def _instant(dt: datetime, tz: ZoneInfo) -> tuple[int, int]:
    if dt.tzinfo is None:
        return cached_local_to_utc(dt, tz)
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
