from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aiusage.engine.intervals import recommend_ttl
from aiusage.engine.timerange import TimeRange
from aiusage.pricing.table import load_table
from aiusage.views.document import Source
from aiusage.views.prompt_cache import build_cache, build_intervals
from conftest import call, write_jsonl
from oracle import load, make_records, write_store

UTC = ZoneInfo("UTC")
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()


def test_cache_savings_by_hand(data_dir: Path) -> None:
    write_jsonl(
        data_dir / "usage_2026-11-01.jsonl",
        [
            # claude-sonnet-4-5: input 3.00, cache read 0.30, cache write 3.75 per 1M
            call(
                T0 + 1,
                model="claude-sonnet-4-5",
                input_tokens=1000,
                cache_read_tokens=100_000,
                cache_write_tokens=2000,
            ),
            call(T0 + 2, model="claude-sonnet-4-5", input_tokens=500),
            # gpt-4o: input 2.50, cache read 1.25
            call(T0 + 3, model="gpt-4o", input_tokens=200, cache_read_tokens=10_000),
        ],
    )
    doc = build_cache(
        Source(data_dir, load_table(), "USD"), tz=UTC, time_range=TimeRange(None, None), now=T0
    )
    rows = {r["model"]: r for r in doc["rows"]}
    claude = rows["claude-sonnet-4-5"]
    assert claude["hit_rate"] == pytest.approx(100_000 / 103_500, abs=1e-6)
    assert claude["request_hit_rate"] == 0.5
    assert claude["saved"] == pytest.approx(100_000 * 2.70 / 1e6)
    assert claude["write_premium"] == pytest.approx(2000 * 0.75 / 1e6)
    assert claude["net_saved"] == pytest.approx(0.27 - 0.0015)
    assert rows["gpt-4o"]["saved"] == pytest.approx(10_000 * 1.25 / 1e6)
    assert doc["totals"]["net_saved"] == pytest.approx(0.27 - 0.0015 + 0.0125)
    assert doc["totals"]["cache_read_tokens"] == 110_000


def test_cache_in_another_currency(data_dir: Path) -> None:
    write_jsonl(
        data_dir / "usage_2026-11-01.jsonl", [call(T0, model="gpt-4o", cache_read_tokens=1_000_000)]
    )
    doc = build_cache(
        Source(data_dir, load_table(), "CNY"), tz=UTC, time_range=TimeRange(None, None), now=T0
    )
    assert doc["totals"]["saved"] == pytest.approx(1.25 * 7.10)


@pytest.mark.parametrize(
    ("p75", "p90", "ttl"),
    [(None, None, 5), (1.0, 4.9, 5), (10.0, 20.0, 15), (25.0, 90.0, 30), (45.0, 200.0, 60)],
)
def test_ttl_rule(p75: float | None, p90: float | None, ttl: int) -> None:
    assert recommend_ttl(p75, p90)[0] == ttl


def test_intervals_equal_independent_gaps(tmp_path: Path) -> None:
    records = make_records(9, 2000, T0, T0 + 5 * 86400)
    write_store(tmp_path, records)
    doc = build_intervals(
        Source(tmp_path, load_table(), "USD"), tz=UTC, time_range=TimeRange(None, None), now=T0
    )
    rows = {r["user_id"]: r for r in doc["rows"]}
    for user in ("ann", "bob", "cy"):
        times = sorted(
            r["timestamp"] for r in load(tmp_path) if r["user_id"] == user and r["success"]
        )
        gaps = [(b - a) / 60 for a, b in itertools.pairwise(times)]
        row = rows[user]
        assert row["calls"] == len(times)
        assert row["intervals"] == len(gaps)
        assert row["distribution"]["le_5min"] == sum(1 for g in gaps if g <= 5)
        assert row["distribution"]["over_60min"] == sum(1 for g in gaps if g > 60)
        exact_p75 = sorted(gaps)[max(0, -(-75 * len(gaps) // 100) - 1)]
        assert row["p75_minutes"] == pytest.approx(exact_p75, rel=0.02)
        assert (
            row["recommended_ttl_minutes"]
            == recommend_ttl(row["p75_minutes"], row["p90_minutes"])[0]
        )
    assert None not in rows  # records without a user are not a group
    assert sum(doc["recommended_ttl_counts"].values()) == len(doc["rows"])


def test_cache_and_intervals_cli(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_store(tmp_path, make_records(2, 300, T0, T0 + 86400))
    assert "Net saved" in cli("cache", "-d", tmp_path, "--all").stdout
    assert cli("cache", "-d", tmp_path, "--all", "--json").json()["schema"] == "aiusage.cache/1"
    out = cli("intervals", "-d", tmp_path, "--all", "--by", "key", "--json").json()
    assert {r["api_key"] for r in out["rows"]} == {"sk-…aaaa", "sk-…bbbb"}
    assert cli("intervals", "-d", tmp_path, "--by", "team").exit_code == 2
