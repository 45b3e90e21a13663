"""Small readers of decoded JSON values that never raise on odd types (wecom, dingtalk).

Each returns a neutral value (empty dict, list or string, None) for a value of the wrong
type; only :func:`epoch_ms` raises, :class:`BadRecord`, for a missing or impossible time.
"""

from __future__ import annotations

import functools
import json
import mimetypes
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

# msgtime outside [1973, 9999] is not epoch milliseconds (seconds, or garbage): refuse it.
MIN_EPOCH_MS: Final[int] = 100_000_000_000
MAX_EPOCH_MS: Final[int] = 253_402_300_799_999


class BadRecord(ValueError):
    """One record's defect (turned into a Rejected)."""


def obj_of(value: Any) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def list_of(value: Any) -> list[Any]:
    """Return ``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text_of(value: Any) -> str:
    """Return a scalar as text ('' for null, objects and arrays)."""
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def int_of(value: Any) -> int | None:
    """Return an integer (or a string of digits) as int, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        digits = value.strip()
        if digits.isascii() and digits.isdigit() and len(digits) <= 20:
            return int(digits)
    return None


def join(*parts: str, sep: str = " ") -> str:
    """Join the non-empty parts."""
    return sep.join(p for p in parts if p)


def epoch_ms(value: Any, field: str) -> int:
    """Return a validated epoch-milliseconds field; raise BadRecord otherwise."""
    ms = int_of(value)
    if ms is None:
        if value is None:
            raise BadRecord(f"{field} is missing")
        raise BadRecord(f"{field} is not a number: {text_of(value)[:40]!r}")
    if ms < MIN_EPOCH_MS:
        raise BadRecord(f"{field} {ms} looks like epoch seconds; epoch milliseconds expected")
    if ms > MAX_EPOCH_MS:
        raise BadRecord(f"{field} {ms} is out of range")
    return ms


def local_time(value: Any, tz: ZoneInfo) -> str:
    """Format an epoch (seconds or milliseconds) as local 'YYYY-MM-DD HH:MM' in ``tz``."""
    n = int_of(value)
    if n is None or n <= 0:
        return text_of(value)
    seconds = n / 1000 if n >= MIN_EPOCH_MS else n
    try:
        return datetime.fromtimestamp(seconds, tz).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return str(n)


def inner_json(value: Any) -> dict[str, Any]:
    """Decode a bundle item's ``content`` (a JSON string, or already an object)."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return {"content": value}
        return decoded if isinstance(decoded, dict) else {"content": text_of(decoded)}
    return obj_of(value)


_MIME: Final[dict[str, str]] = {".amr": "audio/amr", ".silk": "audio/silk"}


@functools.lru_cache(maxsize=256)
def mime_of(suffix: str) -> str | None:
    """Return the MIME type of a file extension ('.jpg'), or None when unknown."""
    return _MIME.get(suffix) or mimetypes.guess_type(f"x{suffix}", strict=False)[0]
