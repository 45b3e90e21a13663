"""The per-hour offset caches in ``importers/_time.py`` equal ``_base``'s exact conversions."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from chatcustody.importers._base import epoch_ms_with_zone, local_to_utc
from chatcustody.importers._time import LocalClock, ZoneOffsets, cached_local_to_utc

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
         "America/St_Johns", "Asia/Kathmandu", "Pacific/Apia"]  # fmt: skip
CLOCKS = {name: LocalClock(ZoneInfo(name)) for name in ZONES}


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    when=st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1)),
    near_hour=st.booleans(),
)
def test_local_clock_equals_local_to_utc(zone: str, when: datetime, near_hour: bool) -> None:
    """The per-hour local clock gives exactly what local_to_utc gives, in gaps and folds too."""
    if near_hour:  # DST gaps and folds sit at the start and end of hours
        when = when.replace(minute=59 if when.minute % 2 else 0, second=when.second % 2 * 59)
    assert CLOCKS[zone].utc(when) == local_to_utc(when, ZoneInfo(zone))


OFFSET_CACHES = {name: ZoneOffsets(ZoneInfo(name)) for name in ZONES}


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    ms=st.integers(100_000_000_000, 4_102_444_800_000),
    near_hour=st.booleans(),
)
def test_cached_zone_offsets_equal_epoch_ms_with_zone(zone: str, ms: int, near_hour: bool) -> None:
    """The per-hour offset cache gives exactly what epoch_ms_with_zone gives, DST included."""
    if near_hour:  # land on the edges of hours, where transitions happen
        ms = ms // 3_600_000 * 3_600_000 + (ms % 3) - 1
    assert OFFSET_CACHES[zone].at(ms) == epoch_ms_with_zone(ms, ZoneInfo(zone))


MAPPING_ZONES = st.sampled_from(
    ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
)
INSTANTS = st.datetimes(min_value=datetime(1980, 1, 2), max_value=datetime(2199, 12, 30))


@settings(max_examples=300, deadline=None)
@given(naive=INSTANTS, zone=MAPPING_ZONES, near=st.integers(-7200, 7200))
def test_memoised_zone_offsets_match_local_to_utc(naive: datetime, zone: str, near: int) -> None:
    """The per-hour offset memo gives exactly local_to_utc, DST transitions included."""
    tz = ZoneInfo(zone)
    transition = datetime(2026, 3, 8, 2, 0) if zone == "America/New_York" else naive
    for dt in (naive, transition + timedelta(seconds=near)):
        assert cached_local_to_utc(dt, tz) == local_to_utc(dt, tz)
