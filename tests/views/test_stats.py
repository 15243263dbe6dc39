from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aiusage.pricing.table import load_table
from aiusage.views.document import Source
from aiusage.views.stats import build_stats, window_starts
from oracle import cost_usd, load, make_records, tokens, write_store

NY = ZoneInfo("America/New_York")
# 2026-11-01 09:10 local in New York, the morning after the DST change.
NOW = dt.datetime(2026, 11, 1, 9, 10, 30, tzinfo=NY).timestamp()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stats")
    records = make_records(3, 1500, NOW - 3 * 86400, NOW)
    records += make_records(4, 30, NOW - 50, NOW)  # a busy last minute
    write_store(directory, records)
    return directory


def test_windows_equal_independent_counts(store: Path) -> None:
    source = Source(store, load_table(), "USD")
    doc = build_stats(source, tz=NY, now=NOW)
    assert doc["schema"] == "aiusage.stats/1"
    starts = window_starts(NOW, NY)
    assert starts["today"] == dt.datetime(2026, 11, 1, tzinfo=NY).timestamp()
    assert starts["this_hour"] == dt.datetime(2026, 11, 1, 9, tzinfo=NY).timestamp()
    records = load(store)
    for name, start in starts.items():
        inside = [r for r in records if start <= r["timestamp"]]
        got = doc["windows"][name]
        assert got["requests"] == len(inside), name
        assert got["failures"] == sum(1 for r in inside if not r["success"]), name
        assert got["total_tokens"] == sum(tokens(r) for r in inside), name
        assert got["cost"] == pytest.approx(sum(cost_usd(r) for r in inside), abs=1e-9), name
    today = [r for r in records if r["timestamp"] >= starts["today"]]
    by_model = {row["name"]: row for row in doc["by_model"]["today"]}
    for model in {r["model"] for r in today}:
        assert by_model[model]["requests"] == sum(1 for r in today if r["model"] == model)
    by_function = {row["name"]: row for row in doc["by_function"]["today"]}
    assert by_function["chat"]["requests"] == sum(1 for r in today if r["function"] == "chat")


def test_stats_cli(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("stats", "-d", store, "--json", "--tz", "America/New_York")
    assert result.exit_code == 0
    assert set(result.json()["windows"]) == {
        "last_1m",
        "last_1h",
        "last_24h",
        "this_hour",
        "today",
        "this_month",
    }
    table = cli("stats", "-d", store).stdout
    assert "Last 24 hours" in table
    assert "This month" in table


def test_cached_stats_equal_a_cold_pass(tmp_path: Path) -> None:
    # Month-long windows: the days wholly inside one come from the cache the second time.
    now = dt.datetime(2026, 11, 28, 15, 20, tzinfo=NY).timestamp()
    write_store(tmp_path, make_records(5, 2000, now - 30 * 86400, now))
    cold = build_stats(Source(tmp_path, load_table(), "USD"), tz=NY, now=now)
    cached = Source(tmp_path, load_table(), "USD", use_cache=True)
    first = build_stats(cached, tz=NY, now=now)
    again = build_stats(cached, tz=NY, now=now)
    assert list((tmp_path / ".cache").rglob("*.json"))
    for doc in (first, again):
        doc.pop("generated_at")
    cold.pop("generated_at")
    assert first == again == cold
