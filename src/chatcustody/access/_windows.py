"""Calendar windows in the vault's zone: this week, this month, N calendar months ago.

Windows are computed on local dates and converted back to UTC instants, so a week or a
month keeps its calendar bounds across daylight-saving changes (a month is 28–31 days, a
six-month span 181–184 days: never a fixed number of days).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chatcustody.model import to_epoch_ms


def _local(at_ms: int, tz: str) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, ZoneInfo(tz))


def _start(day: date, tz: str) -> int:
    return to_epoch_ms(datetime.combine(day, time(), ZoneInfo(tz)))


def add_months(day: date, months: int) -> date:
    """Return ``day`` moved by whole calendar months, clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def week_window(at_ms: int, tz: str) -> tuple[int, int]:
    """Return [start, end) of the calendar week (Monday first) holding ``at_ms``."""
    today = _local(at_ms, tz).date()
    monday = today - timedelta(days=today.weekday())
    return _start(monday, tz), _start(monday + timedelta(days=7), tz)


def month_window(at_ms: int, tz: str) -> tuple[int, int]:
    """Return [start, end) of the calendar month holding ``at_ms``."""
    first = _local(at_ms, tz).date().replace(day=1)
    return _start(first, tz), _start(add_months(first, 1), tz)


def window(kind: str, at_ms: int, tz: str) -> tuple[int, int]:
    """Return the ``week`` or ``month`` window holding ``at_ms``."""
    return week_window(at_ms, tz) if kind == "week" else month_window(at_ms, tz)


def shift_months(at_ms: int, tz: str, months: int) -> int:
    """Return the instant ``months`` calendar months after (negative: before) ``at_ms``.

    The local wall-clock time is kept; the day is clamped to the target month's last day.
    """
    local = _local(at_ms, tz)
    day = add_months(local.date(), months)
    return to_epoch_ms(datetime.combine(day, local.time(), ZoneInfo(tz)))


def months_before(at_ms: int, tz: str, months: int) -> int:
    """Return the instant ``months`` calendar months before ``at_ms``."""
    return shift_months(at_ms, tz, -months)
