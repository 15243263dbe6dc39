"""Cached reports equal cold scans: random data, appends to today's file, rewritten and
truncated files, any time zone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiusage.engine.cache import RollupCache
from aiusage.engine.rollup import Acc, Query
from aiusage.engine.timerange import TimeRange, make_range
from aiusage.pricing.table import load_table
from aiusage.store.dayfiles import files_between, list_files
from aiusage.store.processes import map_in_processes
from aiusage.views.document import Source, run_query
from aiusage.views.stats import window_starts

TABLE = load_table()
NOW = time.time()
TODAY = dt.datetime.fromtimestamp(NOW, dt.UTC).date()


def _record(ts: float, i: int) -> dict[str, Any]:
    return {"v": 1, "timestamp": ts, "model": ["gpt-4o", "qwen-plus", "zzz"][i % 3], "user_id": f"u{i % 4}",
            "input_tokens": i * 7 % 1000, "output_tokens": i % 50, "duration_ms": float(i % 900), "success": i % 5 != 0}  # fmt: skip


def _write(directory: Path, day: dt.date, lines: list[bytes]) -> Path:
    path = directory / f"usage_{day.isoformat()}.jsonl"
    with open(path, "ab") as fh:
        fh.write(b"".join(lines))
    return path


def _both(directory: Path, query: Query) -> tuple[Any, Any]:
    cold = run_query(Source(directory, TABLE, "USD"), query)
    warm = run_query(Source(directory, TABLE, "USD", use_cache=True), query)
    return cold, warm


def _same(a: Any, b: Any) -> None:
    assert {k: v.state() for k, v in a.groups.items()} == {
        k: v.state() for k, v in b.groups.items()
    }
    assert (a.records, a.skipped.count, dict(a.unpriced_models)) == (
        b.records,
        b.skipped.count,
        dict(b.unpriced_models),
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    days=st.lists(st.integers(0, 40), min_size=1, max_size=6),
    appends=st.lists(st.integers(1, 30), max_size=4),
    tz=st.sampled_from(
        ["UTC", "Asia/Kolkata", "America/New_York", "Pacific/Kiritimati", "Pacific/Niue"]
    ),
    period=st.sampled_from(["hour", "day", "week", "month", "total", "windows"]),
    dims=st.sampled_from([(), ("user",), ("model", "user")]),
    change=st.sampled_from(["none", "truncate", "rewrite", "torn", "misplaced"]),
)
def test_cached_equals_cold(tmp_path_factory, days, appends, tz, period, dims, change) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp("c")
    i = 0
    for back in sorted(set(days), reverse=True):
        day = TODAY - dt.timedelta(days=back)
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
        end = min(start + 86400, NOW)
        lines = [
            orjson.dumps(_record(start + (end - start) * k / 40, i + k)) + b"\n" for k in range(40)
        ]
        i += 40
        _write(directory, day, lines)
    zone = ZoneInfo(tz)
    if period == "windows":  # as `stats` asks: windows that end now, some days long
        starts = {NOW - 20 * 86400, NOW - 7.5 * 86400, *window_starts(NOW, zone).values()}
        edges = tuple(sorted(starts))
        query = Query(dims, "window", zone, TimeRange(edges[0], NOW + 300), edges=edges)
    else:
        query = Query(dims, period, zone, make_range(tz=zone, now=NOW, days=45))
    _same(*_both(directory, query))  # builds the cache
    today_path = _write(directory, TODAY, [])
    for n in appends:  # today's file grows between reports
        _write(directory, TODAY, [orjson.dumps(_record(NOW - k, i + k)) + b"\n" for k in range(n)])
        i += n
        _same(*_both(directory, query))
    oldest = sorted(directory.glob("usage_*.jsonl"))[0]
    if change == "truncate":
        data = oldest.read_bytes()
        oldest.write_bytes(data[: len(data) // 2])
    elif change == "rewrite":
        tmp = oldest.with_suffix(".tmp")
        data = oldest.read_bytes()
        tmp.write_bytes(data.replace(b'"u1"', b'"u9"'))
        os.replace(tmp, oldest)
    elif change == "torn":
        with open(today_path, "ab") as fh:
            fh.write(b'{"timestamp": 1, "mod')
    elif change == "misplaced":  # a record of today in an old day's file
        with open(oldest, "ab") as fh:
            fh.write(orjson.dumps(_record(NOW - 30, 7)) + b"\n")
    _same(*_both(directory, query))
    _same(*_both(directory, query))  # and once more from the refreshed cache


def test_cache_hits_and_resumes(tmp_path: Path) -> None:
    yesterday = TODAY - dt.timedelta(days=1)
    ts = dt.datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=dt.UTC).timestamp()
    _write(tmp_path, yesterday, [orjson.dumps(_record(ts, k)) + b"\n" for k in range(10)])
    _write(tmp_path, TODAY, [orjson.dumps(_record(NOW - 1, 1)) + b"\n"])
    query = Query(
        ("user",), "day", ZoneInfo("UTC"), make_range(tz=ZoneInfo("UTC"), now=NOW, days=3)
    )
    files = files_between(tmp_path, query.range.first_day(), query.range.last_day())
    first = RollupCache(tmp_path)
    first.scan(files, query, TABLE, default_currency="USD", cost_mode="recorded")
    assert (first.hits, first.misses) == (0, 2)
    _write(tmp_path, TODAY, [orjson.dumps(_record(NOW - 1, 2)) + b"\n"])
    second = RollupCache(tmp_path)
    rollup = second.scan(files, query, TABLE, default_currency="USD", cost_mode="recorded")
    assert (second.hits, second.resumed, second.misses) == (1, 1, 0)
    assert rollup.records == 12


def test_corrupt_or_foreign_cache_is_rebuilt(tmp_path: Path) -> None:
    day = TODAY - dt.timedelta(days=2)
    ts = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()
    _write(tmp_path, day, [orjson.dumps(_record(ts, k)) + b"\n" for k in range(10)])
    query = Query((), "total", ZoneInfo("UTC"), TimeRange(None, None))
    _same(*_both(tmp_path, query))
    for entry in (tmp_path / ".cache").rglob("*.json"):
        entry.write_bytes(
            b'{"format": 1, "offset": 3, "identity": {}, "rollup": {"groups": [[["x"], [1]]]}}'
        )
    _same(*_both(tmp_path, query))
    for entry in (tmp_path / ".cache").rglob("*.json"):
        entry.write_bytes(b"\x00garbage")
    _same(*_both(tmp_path, query))


def _tamper(rollup: dict[str, Any], how: str) -> None:
    values = dict(zip(rollup["fields"], rollup["groups"][0][1], strict=True))
    if how == "string count":
        values["requests"] = "7"
    elif how == "float count":
        values["input"] = 1.5
    elif how == "bool count":
        values["successes"] = True
    elif how == "odd histogram":  # buckets and counts of different lengths
        values["dur_hist"] = [values["dur_hist"], values["dur_hist"][:-1]]
    elif how == "string bucket":
        values["dur_hist"][0] = "3"
    elif how == "histogram object":
        values["ttfb_hist"] = {"3": 1}
    elif how == "short":
        del values["max_tokens"]
    elif how == "renamed":
        values["colour"] = values.pop("max_tokens")
    elif how == "reordered":
        values = {"successes": values.pop("successes"), **values}
    rollup["fields"] = list(values)
    rollup["groups"][0][1] = list(values.values())


@pytest.mark.parametrize(
    "how",
    [
        "string count",
        "float count",
        "bool count",
        "odd histogram",
        "string bucket",
        "histogram object",
        "short",
        "renamed",
        "reordered",
    ],
)
def test_tampered_entry_is_never_trusted(tmp_path: Path, how: str) -> None:
    day = TODAY - dt.timedelta(days=2)
    ts = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()
    _write(tmp_path, day, [orjson.dumps(_record(ts, k)) + b"\n" for k in range(1, 10)])
    query = Query(("user",), "total", ZoneInfo("UTC"), TimeRange(None, None))
    _same(*_both(tmp_path, query))
    (entry,) = (tmp_path / ".cache").rglob("*.json")
    doc = orjson.loads(entry.read_bytes())
    _tamper(doc["rollup"], how)
    entry.write_bytes(orjson.dumps(doc))
    cache = RollupCache(tmp_path)
    files = list_files(tmp_path)
    rollup = cache.scan(files, query, TABLE, default_currency="USD", cost_mode="recorded")
    assert (cache.hits, cache.misses) == (0, 1)
    _same(run_query(Source(tmp_path, TABLE, "USD"), query), rollup)


def _every_field_set(ts: float) -> list[bytes]:
    """Records whose one group (``total``, no dims) gives every accumulator field its own
    value: different sums, a failure, an unpriced model, latencies, an account multiplier."""
    calls = [
        {"input_tokens": 1000, "output_tokens": 200, "cache_read_tokens": 30, "cache_write_tokens": 40,
         "reasoning_tokens": 50, "duration_ms": 800.0, "ttfb_ms": 90.0, "user_id": "alice"},
        {"input_tokens": 1001, "output_tokens": 7, "duration_ms": 1200.0, "success": False},
        {"model": "zzz-unpriced", "input_tokens": 3, "output_tokens": 2, "ttfb_ms": 40.0},
        {"model": "zzz-unpriced", "input_tokens": 6, "output_tokens": 1},
    ]  # fmt: skip
    return [
        orjson.dumps({"v": 1, "timestamp": ts + k * 60, "model": "gpt-4o", **c}) + b"\n"
        for k, c in enumerate(calls)
    ]


def _cached_rollup(tmp_path: Path, query: Query) -> tuple[RollupCache, Any]:
    pricing = load_table(data_dir=tmp_path)
    cache = RollupCache(tmp_path)
    files = list_files(tmp_path)
    return cache, cache.scan(files, query, pricing, default_currency="USD", cost_mode="current")


def test_an_entry_holds_every_accumulator_field_by_name(tmp_path: Path) -> None:
    day = TODAY - dt.timedelta(days=2)
    ts = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()
    _write(tmp_path, day, _every_field_set(ts))
    (tmp_path / "pricing.yaml").write_text("accounts:\n  users:\n    alice: {multiplier: 0.5}\n")
    query = Query((), "total", ZoneInfo("UTC"), TimeRange(None, None))
    cold_cache, cold = _cached_rollup(tmp_path, query)
    assert cold_cache.misses == 1
    ((key, acc),) = cold.groups.items()
    names = [f.name for f in dataclasses.fields(Acc)]
    # Every count differs from every other, so a value stored under another's name shows.
    counts = [
        getattr(acc, n) for n in names if not isinstance(getattr(acc, n), list | dict | float)
    ]
    assert len(set(counts)) == len(counts)
    (entry,) = (tmp_path / ".cache").rglob("*.json")
    stored = orjson.loads(entry.read_bytes())["rollup"]
    assert stored["fields"] == names
    ((stored_key, row),) = stored["groups"]
    assert tuple(stored_key) == key
    by_name = dict(zip(stored["fields"], row, strict=True))
    for name in names:
        value = getattr(acc, name)
        if isinstance(value, dict):  # counted histograms are stored as buckets, counts
            assert dict(zip(*by_name[name], strict=True)) == value
        else:
            assert by_name[name] == value, name
    warm_cache, warm = _cached_rollup(tmp_path, query)
    assert warm_cache.hits == 1
    for name in names:
        assert getattr(warm.groups[key], name) == getattr(acc, name), name


def test_an_entry_of_the_positional_format_is_rebuilt(tmp_path: Path) -> None:
    day = TODAY - dt.timedelta(days=2)
    ts = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()
    _write(tmp_path, day, _every_field_set(ts))
    query = Query((), "total", ZoneInfo("UTC"), TimeRange(None, None))
    _, cold = _cached_rollup(tmp_path, query)
    (entry,) = (tmp_path / ".cache").rglob("*.json")
    doc = orjson.loads(entry.read_bytes())
    unnamed = {**doc, "rollup": {k: v for k, v in doc["rollup"].items() if k != "fields"}}
    skipped = doc["rollup"]["skipped"]
    # As format 4 wrote it: 18 values by position, no names; the skipped lines as a pair.
    old = {**unnamed, "format": 4}
    old["rollup"] = {**unnamed["rollup"], "skipped": [skipped["count"], skipped["locations"]]}
    for stale in (old, unnamed):  # the old format, or values without names under the new one
        entry.write_bytes(orjson.dumps(stale))
        cache, rebuilt = _cached_rollup(tmp_path, query)
        assert (cache.hits, cache.misses) == (0, 1)
        _same(cold, rebuilt)
        assert "fields" in orjson.loads(entry.read_bytes())["rollup"]


def test_windows_that_end_now_are_cached(tmp_path: Path) -> None:
    for back in range(1, 9):
        day = TODAY - dt.timedelta(days=back)
        ts = dt.datetime(day.year, day.month, day.day, 6, tzinfo=dt.UTC).timestamp()
        _write(tmp_path, day, [orjson.dumps(_record(ts + k, k)) + b"\n" for k in range(50)])
    _write(tmp_path, TODAY, [orjson.dumps(_record(NOW - 1, 1)) + b"\n"])
    edges = (NOW - 10 * 86400, NOW - 4 * 86400, NOW - 3600)
    query = Query(
        ("model",), "window", ZoneInfo("UTC"), TimeRange(edges[0], NOW + 300), edges=edges
    )
    files = files_between(tmp_path, query.range.first_day(), query.range.last_day())
    first = RollupCache(tmp_path)
    first.scan(files, query, TABLE, default_currency="USD", cost_mode="recorded")
    later = RollupCache(tmp_path)
    warm = later.scan(files, query, TABLE, default_currency="USD", cost_mode="recorded")
    # The days wholly inside a window come from the cache; the two days that straddle a
    # window's start, and today, are read.
    assert later.hits >= 5
    assert later.hits + later.resumed + later.misses <= len(files) - 2
    _same(run_query(Source(tmp_path, TABLE, "USD"), query), warm)
    assert {key[0] for key in warm.groups} == {0, 1, 2}


def test_tidy_drops_idle_shapes_and_entries_of_gone_files(tmp_path: Path) -> None:
    for back in (2, 3):
        day = TODAY - dt.timedelta(days=back)
        ts = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()
        _write(tmp_path, day, [orjson.dumps(_record(ts, k)) + b"\n" for k in range(5)])
    root = tmp_path / ".cache" / "rollups"

    def report(dims: tuple[str, ...]) -> None:
        query = Query(dims, "total", ZoneInfo("UTC"), TimeRange(None, None))
        files = list_files(tmp_path)
        RollupCache(tmp_path).scan(
            files, query, TABLE, default_currency="USD", cost_mode="recorded"
        )

    report(("user",))
    (idle,) = [p for p in root.iterdir() if p.is_dir()]
    report(("model",))
    (used,) = [p for p in root.iterdir() if p.is_dir() and p != idle]
    assert len(list(root.rglob("*.jsonl.json"))) == 4
    (tmp_path / f"usage_{TODAY - dt.timedelta(days=3)}.jsonl").unlink()  # pruned
    month_ago = NOW - 31 * 86400
    os.utime(idle, (month_ago, month_ago))
    os.utime(used, (month_ago, month_ago))
    report(("model",))  # in use again: not idle, however old its entries
    tomorrow = time.time() + 86400 + 60
    killed = used / ".usage_x.jsonl.json.tmp-123"  # a write killed midway, long ago
    killed.write_bytes(b"{")
    os.utime(killed, (tomorrow - 7200, tomorrow - 7200))
    writing = used / ".usage_y.jsonl.json.tmp-456"  # a write going on now
    writing.write_bytes(b"{")
    os.utime(writing, (tomorrow - 60, tomorrow - 60))
    cache = RollupCache(tmp_path)
    assert cache.tidy() == 0  # tidied when the cache was first written: once a day at most
    # The idle shape's two entries and its range entry, the pruned day's entry, the killed
    # write's leftover.
    assert cache.tidy(now=tomorrow) == 5
    assert not killed.exists()
    assert writing.exists()
    writing.unlink()
    assert not idle.exists()
    kept = [p.name for p in used.glob("usage_*.json")]
    assert kept == [f"usage_{TODAY - dt.timedelta(days=2)}.jsonl.json"]
    (range_entry,) = used.glob("range-*.json")  # of both days: used a day ago, kept
    assert cache.tidy(now=tomorrow + 1) == 0
    assert cache.tidy(now=tomorrow + 3 * 86400) == 1  # unused for two days
    assert not range_entry.exists()


def test_a_run_of_closed_days_loads_from_one_range_entry(tmp_path: Path) -> None:
    days = [TODAY - dt.timedelta(days=back) for back in (5, 4, 3, 2, 1)]
    for k, day in enumerate(days):
        ts = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()
        _write(
            tmp_path, day, [orjson.dumps(_record(ts + j, k * 10 + j)) + b"\n" for j in range(10)]
        )
    utc = ZoneInfo("UTC")
    query = Query(("user", "model"), "month", utc, make_range(tz=utc, now=NOW, days=10))
    files = files_between(tmp_path, query.range.first_day(), query.range.last_day())
    # Days kept apart merge nothing: they are loaded day by day, never as one entry.
    by_day = replace(query, period="day")
    RollupCache(tmp_path).scan(files, by_day, TABLE, default_currency="USD", cost_mode="recorded")
    assert not list((tmp_path / ".cache").rglob("range-*.json"))

    def warm() -> tuple[RollupCache, Any]:
        cache = RollupCache(tmp_path)
        return cache, cache.scan(files, query, TABLE, default_currency="USD", cost_mode="recorded")

    first, _ = warm()
    assert (first.hits, first.misses) == (0, 5)
    for entry in (tmp_path / ".cache").rglob("usage_*.json"):
        entry.unlink()  # the range entry alone answers now
    second, rollup = warm()
    assert (second.hits, second.misses) == (5, 0)
    _same(run_query(Source(tmp_path, TABLE, "USD"), query), rollup)
    # A call back-filled into a closed day: the range entry no longer describes its files.
    _write(tmp_path, days[2], [orjson.dumps(_record(NOW - 3 * 86400, 99)) + b"\n"])
    third, rollup = warm()
    assert third.misses == 5
    _same(run_query(Source(tmp_path, TABLE, "USD"), query), rollup)
    # The same files under a wider range: a record stored in another day's file (20 days
    # back, in the file of 3 days back) counts in one and not in the other.
    _write(tmp_path, days[2], [orjson.dumps(_record(NOW - 20 * 86400, 98)) + b"\n"])
    for width in (10, 30, 10):
        ranged = Query(("user",), "total", utc, make_range(tz=utc, now=NOW, days=width))
        _same(*_both(tmp_path, ranged))


def test_cache_cli(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    day = TODAY - dt.timedelta(days=1)
    ts = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()
    _write(tmp_path, day, [orjson.dumps(_record(ts, k)) + b"\n" for k in range(10)])
    warm = cli("report", "-d", tmp_path, "--json").json()
    assert list((tmp_path / ".cache").rglob("*.json"))
    cold = cli("report", "-d", tmp_path, "--json", "--no-cache").json()
    assert warm["totals"] == cold["totals"]
    result = cli("cache", "clear", "-d", tmp_path)
    assert result.exit_code == 0
    assert "removed" in result.stderr
    assert not (tmp_path / ".cache").exists()


def test_files_to_read_are_read_and_cached_in_parallel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiusage.engine import scan as scan_module

    monkeypatch.setattr(scan_module, "PARALLEL_BYTES", 0)
    monkeypatch.setenv("AIUSAGE_PROCESSES", "3")
    for back in range(1, 6):
        day = TODAY - dt.timedelta(days=back)
        ts = dt.datetime(day.year, day.month, day.day, 6, tzinfo=dt.UTC).timestamp()
        _write(tmp_path, day, [orjson.dumps(_record(ts + k, k)) + b"\n" for k in range(200)])
    _write(tmp_path, TODAY, [orjson.dumps(_record(NOW - 1, 1)) + b"\n"])
    query = Query(
        ("user", "model"), "hour", ZoneInfo("UTC"), make_range(tz=ZoneInfo("UTC"), now=NOW, days=7)
    )
    files = files_between(tmp_path, query.range.first_day(), query.range.last_day())
    first = RollupCache(tmp_path)
    built = first.scan(files, query, TABLE, default_currency="USD", cost_mode="recorded")
    assert (first.hits, first.resumed, first.misses) == (0, 0, 6)  # counted from the workers
    from aiusage.engine import cache as cache_module

    shared: list[int] = []

    def spy(fn, jobs):  # type: ignore[no-untyped-def]
        shared.append(len(jobs))
        return map_in_processes(fn, jobs)

    monkeypatch.setattr(cache_module, "map_in_processes", spy)
    monkeypatch.setattr(scan_module, "PARALLEL_BYTES", 1)  # entries count as work, too
    for entry in (tmp_path / ".cache").rglob("range-*.json"):
        entry.unlink()  # the day entries are loaded, not the one of all five closed days
    second = RollupCache(tmp_path)
    again = second.scan(files, query, TABLE, default_currency="USD", cost_mode="recorded")
    assert (second.hits, second.misses) == (6, 0)  # the workers' entries were stored
    assert shared[0] == 3  # loading the closed days' entries is shared out too
    monkeypatch.setenv("AIUSAGE_PROCESSES", "1")
    _same(built, again)
    _same(built, run_query(Source(tmp_path, TABLE, "USD"), query))


def test_cached_equals_cold_in_every_state_a_compaction_leaves(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Each state a ``compact`` killed at any step (and a back-fill after it) can leave, each
    reported first with the cache of the state before it."""
    import gzip

    data = tmp_path / "data"
    data.mkdir()
    day = TODAY - dt.timedelta(days=10)
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
    lines = [orjson.dumps(_record(start + i, i)) + b"\n" for i in range(6)]
    plain = _write(data, day, lines[:3])
    gz = Path(str(plain) + ".gz")

    def requests(*extra: str) -> int:
        doc = cli(
            "report", "-d", data, "--all", "--period", "day", "--by", "model", "--json", *extra
        ).json()
        return doc["totals"]["requests"]  # type: ignore[no-any-return]

    def check(expected: int) -> None:
        assert requests() == requests("--no-cache") == expected

    check(3)
    kept = plain.read_bytes()
    assert cli("compact", "--older-than", "7", "-d", data).exit_code == 0
    check(3)  # compacted: the gzip alone
    plain.write_bytes(kept)  # killed after the rename, before the unlink
    check(3)
    _write(data, day, lines[3:4])  # then back-filled
    check(4)
    assert cli("compact", "--older-than", "7", "-d", data).exit_code == 0
    check(4)
    _write(data, day, lines[4:])  # back-filled into the compacted day
    check(6)
    with gzip.open(gz) as fh:
        assert len(fh.read().splitlines()) == 4
