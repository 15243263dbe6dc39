from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiusage.engine.timerange import PeriodKeys, iso_utc, make_range, parse_instant, resolve_tz
from aiusage.errors import UsageError

NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 11, 24, 15, 30, tzinfo=dt.UTC).timestamp()


def test_parse_forms() -> None:
    assert (
        parse_instant("2026-11-01", NY, now=NOW) == dt.datetime(2026, 11, 1, tzinfo=NY).timestamp()
    )
    assert (
        parse_instant("2026-11-01", NY, now=NOW, end_of_day=True)
        == dt.datetime(2026, 11, 2, tzinfo=NY).timestamp()
    )
    assert parse_instant("7d", NY, now=NOW) == NOW - 7 * 86400
    assert parse_instant("24h", NY, now=NOW) == NOW - 86400
    assert parse_instant("30m", NY, now=NOW) == NOW - 1800
    assert (
        parse_instant("2026-11-01T12:00:00Z", NY, now=NOW)
        == dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC).timestamp()
    )
    assert (
        parse_instant("2026-11-01T12:00", NY, now=NOW)
        == dt.datetime(2026, 11, 1, 12, tzinfo=NY).timestamp()
    )
    assert parse_instant("1792000000", NY, now=NOW) == 1792000000


@pytest.mark.parametrize("bad", ["yesterday", "2026-02-30", "7 parsecs", "2026/11/01"])
def test_bad_dates(bad: str) -> None:
    with pytest.raises(UsageError, match="bad date"):
        parse_instant(bad, NY, now=NOW)


def test_days_means_calendar_days_in_zone() -> None:
    rng = make_range(tz=NY, now=NOW, days=2)
    assert rng.since == dt.datetime(2026, 11, 23, tzinfo=NY).timestamp()
    assert rng.until == dt.datetime(2026, 11, 25, tzinfo=NY).timestamp()
    assert make_range(tz=NY, now=NOW, all_time=True).since is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": 0},
        {"days": 3, "since": "2026-01-01"},
        {"all_time": True, "days": 2},
        {"since": "2026-11-05", "until": "2026-11-01"},
    ],
)
def test_conflicting_ranges(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(UsageError):
        make_range(tz=NY, now=NOW, **kwargs)


def test_unknown_zone() -> None:
    with pytest.raises(UsageError, match="unknown time zone"):
        resolve_tz("Mars/Olympus")


def test_dst_fall_back_hour_keys() -> None:
    keys = PeriodKeys("hour", NY)
    # 2026-11-01 01:30 local happens twice (05:30 and 06:30 UTC): one bucket.
    first = dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC).timestamp()
    assert keys.key(first) == keys.key(first + 3600) == "2026-11-01T01"
    assert keys.key(first + 7200) == "2026-11-01T02"


def test_half_hour_zone_and_weeks() -> None:
    kolkata = PeriodKeys("day", ZoneInfo("Asia/Kolkata"))
    t = dt.datetime(2026, 11, 23, 18, 29, 59, tzinfo=dt.UTC).timestamp()
    assert kolkata.key(t) == "2026-11-23"
    assert kolkata.key(t + 1) == "2026-11-24"
    weeks = PeriodKeys("week", ZoneInfo("UTC"))
    assert weeks.key(dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()) == "2026-W53"


def test_keys_between_covers_every_period() -> None:
    keys = PeriodKeys("day", NY)
    since = dt.datetime(2026, 10, 31, tzinfo=NY).timestamp()
    until = dt.datetime(2026, 11, 3, tzinfo=NY).timestamp()
    assert keys.keys_between(since, until) == ["2026-10-31", "2026-11-01", "2026-11-02"]
    months = PeriodKeys("month", NY).keys_between(since, until)
    assert months == ["2026-10", "2026-11"]


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.floats(min_value=-1e10, max_value=5e9, allow_nan=False),
        # Near whole seconds, where rounding to microseconds carries into the seconds.
        st.integers(0, 4102444799).map(lambda s: s + 0.9999995),
        st.integers(0, 4102444799).map(lambda s: s - 0.0000005),
        st.integers(0, 4102444799).map(float),
        st.sampled_from([0.0, 4102444799.9999995, 4102444800.0, 1795132805.144]),
    )
)
def test_iso_utc_is_datetimes_isoformat(ts: float) -> None:
    expected = dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")
    assert iso_utc(ts) == expected
