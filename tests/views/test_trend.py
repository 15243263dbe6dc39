from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

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
