from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aiusage.engine.timerange import make_range
from aiusage.errors import UsageError
from aiusage.pricing.table import load_table
from aiusage.views.document import Source
from aiusage.views.trend import build_heatmap, build_trend
from oracle import cost_usd, load, make_records, tokens, write_store

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 12, 15, 0, tzinfo=BERLIN).timestamp()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("trend")
    # Covers the EU DST change on 2026-10-25.
    write_store(directory, make_records(5, 3000, NOW - 40 * 86400, NOW))
    return directory


def _daily(store: Path, value) -> dict[str, float]:  # type: ignore[no-untyped-def]
    days: dict[str, float] = defaultdict(float)
    for rec in load(store):
        days[dt.datetime.fromtimestamp(rec["timestamp"], BERLIN).date().isoformat()] += value(rec)
    return days


@pytest.mark.parametrize(
    ("metric", "value"), [("cost", cost_usd), ("tokens", tokens), ("requests", lambda r: 1)]
)
def test_trend_equals_independent_computation(store: Path, metric: str, value) -> None:  # type: ignore[no-untyped-def]
    doc = build_trend(
        Source(store, load_table(), "USD"), tz=BERLIN, now=NOW, days=30, metric=metric
    )
    want = _daily(store, value)
    assert len(doc["days"]) == 30
    assert doc["days"][-1]["date"] == "2026-11-12"
    for day in doc["days"]:
        assert day["value"] == pytest.approx(want.get(day["date"], 0), abs=1e-9)
    today = dt.date(2026, 11, 12)
    avg = sum(want.get((today - dt.timedelta(days=i)).isoformat(), 0) for i in range(1, 8)) / 7
    assert doc["average_7d"] == pytest.approx(avg, abs=1e-9)
    completed = sum(want.get(f"2026-11-{d:02d}", 0) for d in range(1, 12))
    assert doc["month"]["so_far"] == pytest.approx(completed + want.get("2026-11-12", 0), abs=1e-9)
    left = calendar.monthrange(2026, 11)[1] - 12 + 1
    assert doc["month"]["forecast"] == pytest.approx(completed + avg * left, abs=1e-9)


def test_heatmap_days(store: Path) -> None:
    doc = build_heatmap(Source(store, load_table(), "USD"), tz=BERLIN, now=NOW, days=60)
    assert doc["schema"] == "aiusage.heatmap/1"
    assert len(doc["days"]) == 60
    requests = _daily(store, lambda r: 1)
    for cell in doc["days"]:
        assert cell["requests"] == requests.get(cell["date"], 0)
    assert doc["active_days"] == sum(1 for c in doc["days"] if c["requests"])


def test_trend_and_heatmap_cli(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    out = cli("trend", "-d", store, "--days", "5").stdout
    assert "7-day average" in out
    assert "forecast" in out
    assert cli("trend", "-d", store, "--metric", "vibes").exit_code == 2
    heat = cli("heatmap", "-d", store, "--days", "90").stdout
    assert "less" in heat
    assert "more" in heat
    assert cli("heatmap", "-d", store, "--days", "500").exit_code == 2
    assert cli("heatmap", "-d", store, "--json").json()["schema"] == "aiusage.heatmap/1"


def test_trend_over_a_range_is_as_of_its_last_day(store: Path) -> None:
    source = Source(store, load_table(), "USD")
    rng = make_range(tz=BERLIN, now=NOW, since="2026-10-20", until="2026-11-05")
    doc = build_trend(source, tz=BERLIN, now=NOW, time_range=rng, metric="requests")
    want = _daily(store, lambda r: 1)
    assert [d["date"] for d in doc["days"]][0::16] == ["2026-10-20", "2026-11-05"]
    assert len(doc["days"]) == 17
    for day in doc["days"]:
        assert day["value"] == want.get(day["date"], 0)
    last = dt.date(2026, 11, 5)
    avg = sum(want.get((last - dt.timedelta(days=i)).isoformat(), 0) for i in range(1, 8)) / 7
    assert doc["average_7d"] == pytest.approx(avg)
    assert doc["month"]["completed_days"] == 4
    assert doc["month"]["so_far"] == sum(want.get(f"2026-11-{d:02d}", 0) for d in range(1, 6))


def test_all_starts_on_the_first_day_with_records(store: Path) -> None:
    source = Source(store, load_table(), "USD")
    everything = make_range(tz=BERLIN, now=NOW, all_time=True)
    first = min(_daily(store, lambda r: 1))
    trend = build_trend(source, tz=BERLIN, now=NOW, time_range=everything, metric="requests")
    assert trend["days"][0]["date"] == first
    assert trend["days"][-1]["date"] == "2026-11-12"
    assert sum(d["value"] for d in trend["days"]) == len(load(store))
    heat = build_heatmap(source, tz=BERLIN, now=NOW, time_range=everything)
    assert heat["days"][0]["date"] == first
    too_long = make_range(tz=BERLIN, now=NOW, since="2025-01-01")
    with pytest.raises(UsageError, match="at most 366 days"):
        build_heatmap(source, tz=BERLIN, now=NOW, time_range=too_long)


def test_trend_and_heatmap_take_since_and_until(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    args = ("-d", store, "--tz", "Europe/Berlin", "--since", "2026-11-01", "--until", "2026-11-03")
    trend = cli("trend", *args, "--json").json()
    assert [d["date"] for d in trend["days"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    heat = cli("heatmap", *args, "--json").json()
    assert [d["date"] for d in heat["days"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert cli("trend", "-d", store, "--since", "2026-11-01", "--days", "3").exit_code == 2
