"""Per-hour memoised UTC offsets: ``_base``'s time conversions, fast for many instants.

Importers convert one time per message; looking a zone's offset up in ``zoneinfo`` each time
dominates a large import. Both caches here give exactly what ``local_to_utc`` /
``epoch_ms_with_zone`` give (tests check it with hypothesis): an offset is reused for a whole
hour only when the zone has the same offset at both ends of that hour (no zone changes its
offset twice within an hour); any other hour is computed exactly, instant by instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from chatcustody.importers._base import epoch_ms_with_zone, local_to_utc

_HOUR_MS: Final[int] = 3_600_000
_MAX_HOURS: Final[int] = 100_000  # memo entries kept; out-of-order exports: memory stays bounded
_EPOCH_ORDINAL: Final[int] = 719_163  # date(1970, 1, 1).toordinal()


class ZoneOffsets:
    """``epoch_ms_with_zone`` for many instants: the zone's offset is looked up once per hour."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._hours: dict[int, int | None] = {}

    def at(self, ms: int) -> tuple[int, int]:
        """Return (ms, offset minutes of the zone at UTC ``ms``)."""
        hour = ms // _HOUR_MS
        try:
            offset = self._hours[hour]
        except KeyError:
            start = hour * _HOUR_MS
            first = epoch_ms_with_zone(start, self.tz)[1]
            last = epoch_ms_with_zone(start + _HOUR_MS - 1, self.tz)[1]
            offset = first if first == last else None
            if len(self._hours) >= _MAX_HOURS:
                self._hours.clear()
            self._hours[hour] = offset
        return (ms, offset) if offset is not None else epoch_ms_with_zone(ms, self.tz)

    def minutes(self, ms: int) -> int:
        """Return the offset in minutes of the zone at UTC ``ms``."""
        return self.at(ms)[1]


class LocalClock:
    """``local_to_utc`` for many naive local times: the offset is looked up once per hour.

    A local hour is memoised only when the zone has the same offset at its first and last
    second, so gaps and folds at a whole hour behave exactly as ``local_to_utc``; the fold
    attribute is part of the key.
    """

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._hours: dict[tuple[int, int, int, int, int], int | None] = {}

    def utc(self, when: datetime) -> tuple[int, int]:
        """Return (UTC ms, offset minutes) of a naive local time in the zone."""
        key = (when.year, when.month, when.day, when.hour, when.fold)
        try:
            seconds = self._hours[key]
        except KeyError:
            start = when.replace(minute=0, second=0, microsecond=0, tzinfo=self.tz)
            first = start.utcoffset()
            last = start.replace(minute=59, second=59, microsecond=999_999).utcoffset()
            exact = first is not None and first == last and first.microseconds == 0
            seconds = int(first.total_seconds()) if exact and first is not None else None
            if len(self._hours) >= _MAX_HOURS:
                self._hours.clear()
            self._hours[key] = seconds
        if seconds is None:
            return local_to_utc(when, self.tz)
        local = (when.toordinal() - _EPOCH_ORDINAL) * 86_400 + (
            when.hour * 3600 + when.minute * 60 + when.second
        )
        return (local - seconds) * 1000 + when.microsecond // 1000, seconds // 60


_CLOCKS: dict[ZoneInfo, LocalClock] = {}


def cached_local_to_utc(naive: datetime, tz: ZoneInfo) -> tuple[int, int]:
    """Return ``local_to_utc(naive, tz)`` through a process-wide LocalClock for ``tz``."""
    clock = _CLOCKS.get(tz)
    if clock is None:
        if len(_CLOCKS) >= 64:
            _CLOCKS.clear()
        clock = _CLOCKS[tz] = LocalClock(tz)
    return clock.utc(naive)


__all__ = ["LocalClock", "ZoneOffsets", "cached_local_to_utc"]
