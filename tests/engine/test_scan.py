"""The pass's typed fast path accepts exactly the records the canonical reader does."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiusage.engine.rollup import Filters, Query, Rollup
from aiusage.engine.scan import plan_segments, scan_file
from aiusage.engine.timerange import TimeRange
from aiusage.pricing.table import load_table
from aiusage.records.schema import check_read
from aiusage.store.dayfiles import DayFile
from strategies import records

TABLE = load_table()
QUERY = Query(("user",), "total", ZoneInfo("UTC"), TimeRange(None, None))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rec=records)
def test_fast_path_agrees_with_check_read(tmp_path: Path, rec: dict[str, Any]) -> None:
    path = tmp_path / "usage_2026-11-01.jsonl"
    path.write_bytes(orjson.dumps(rec) + b"\n")
    rollup = Rollup(QUERY.dims, QUERY.period)
    scan_file(DayFile(dt.date(2026, 11, 1), path), QUERY, TABLE, rollup, default_currency="USD")
    valid = check_read(rec) is None
    is_call = rec.get("kind", "call") == "call"
    assert rollup.skipped.count == (0 if valid else 1), (rec, check_read(rec))
    assert rollup.records == (1 if valid and is_call else 0)


def test_offsets_resume_where_they_stopped(tmp_path: Path) -> None:
    path = tmp_path / "usage_2026-11-01.jsonl"
    line = orjson.dumps({"timestamp": 1793500000.0, "model": "gpt-4o", "input_tokens": 1}) + b"\n"
    path.write_bytes(line * 3 + line[:10])
    day = DayFile(dt.date(2026, 11, 1), path)
    rollup = Rollup(QUERY.dims, QUERY.period)
    offset = scan_file(day, QUERY, TABLE, rollup, default_currency="USD", complete_lines_only=True)
    assert (offset, rollup.records, rollup.skipped.count) == (3 * len(line), 3, 0)
    with open(path, "ab") as fh:
        fh.write(line[10:] + line)
    offset = scan_file(
        day, QUERY, TABLE, rollup, default_currency="USD", start=offset, complete_lines_only=True
    )
    assert (offset, rollup.records) == (5 * len(line), 5)


def test_progress_is_reported_per_file(tmp_path: Path) -> None:
    from aiusage.engine.scan import scan
    from aiusage.output.terminal import ScanProgress
    from aiusage.store.dayfiles import list_files

    for day in range(1, 4):
        (tmp_path / f"usage_2026-11-0{day}.jsonl").write_bytes(
            orjson.dumps({"timestamp": 1793500000.0 + day * 86400, "model": "gpt-4o"}) + b"\n"
        )
    seen: list[tuple[int, int]] = []
    scan(
        list_files(tmp_path),
        QUERY,
        TABLE,
        default_currency="USD",
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    bar = ScanProgress(delay=0)
    for done in range(1, 4):
        bar(done - 1, 3)
    bar.close()
    assert dt.date(2026, 11, 1)


def _totals(path: Path, query: Query) -> tuple[int, int, int]:
    rollup = Rollup(query.dims, query.period)
    scan_file(DayFile(dt.date(2026, 11, 1), path), query, TABLE, rollup, default_currency="USD")
    return rollup.records, rollup.skipped.count, sum(acc.input for acc in rollup.groups.values())


def test_bytes_that_are_not_utf8_are_read_the_same_by_every_query(tmp_path: Path) -> None:
    path = tmp_path / "usage_2026-11-01.jsonl"
    good = b'{"timestamp": 1793500000, "model": "gpt-4o", "input_tokens": 1'
    path.write_bytes(
        good
        + b', "session_id": "s\xff"}\n'  # in a member most queries skip
        + good
        + b', "user_id": "\xfe"}\n'  # in one they read
        + b'{"timestamp": -1, "model": "\xff"}\n'  # still not a record
    )
    queries = [
        QUERY,
        Query(("model",), "day", ZoneInfo("UTC"), TimeRange(None, None)),
        Query(("session",), "hour", ZoneInfo("UTC"), TimeRange(None, None)),
        Query(
            ("tag:team",),
            "total",
            ZoneInfo("UTC"),
            TimeRange(None, None),
            Filters({"user": frozenset({"\ufffd"})}),
        ),
    ]
    assert [_totals(path, q) for q in queries] == [(2, 1, 2)] * 3 + [(1, 1, 1)]


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.lists(st.integers(1, 40), max_size=6), min_size=1, max_size=5),
    gz=st.lists(st.booleans(), min_size=5, max_size=5),
    workers=st.integers(2, 5),
    cut=st.booleans(),
)
def test_a_plan_covers_every_byte_once_cut_at_line_starts(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[list[int]],
    gz: list[bool],
    workers: int,
    cut: bool,
) -> None:
    folder = tmp_path_factory.mktemp("plan")
    files = []
    for i, lengths in enumerate(lines):
        data = b"".join(b"x" * (n - 1) + b"\n" for n in lengths)
        path = folder / f"usage_2026-11-0{i + 1}.jsonl{'.gz' if gz[i] else ''}"
        path.write_bytes(data)
        files.append(DayFile(dt.date(2026, 11, i + 1), path))
    plan = plan_segments(files, workers, cut_files=cut)
    assert 1 <= len(plan) <= workers
    assert all(plan)
    pieces = [segment for run in plan for segment in run]
    for day_file in files:
        mine = [(s, e) for f, s, e in pieces if f == day_file]
        data = day_file.path.read_bytes()
        bounds = [s for s, _ in mine] + [len(data)]
        assert bounds[0] == 0
        assert [e for _, e in mine] == [*bounds[1:-1], None]
        assert all(b in (0, len(data)) or data[b - 1 : b] == b"\n" for b in bounds)
        if day_file.compressed or not cut:
            assert len(mine) == 1
    assert [f for f, _, _ in pieces] == sorted((f for f, _, _ in pieces), key=lambda f: f.day)


def test_a_parallel_scan_equals_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    from aiusage.engine import scan as scan_module
    from aiusage.store.dayfiles import list_files

    rng = random.Random(7)
    for day in (1, 2):
        lines = []
        for i in range(3000):
            ts = 1793491200.0 + (day - 1) * 86400 + i * 20
            rec = {"timestamp": ts, "model": rng.choice(["gpt-4o", "claude-sonnet-4-5"]),
                   "user_id": f"u{rng.randrange(9)}", "input_tokens": rng.randrange(5000),
                   "output_tokens": rng.randrange(900), "duration_ms": rng.random() * 4000}  # fmt: skip
            lines.append(orjson.dumps(rec) + b"\n")
            if i % 997 == 5:
                lines.append(b'{"timestamp": "not a time"}\n')
            if i % 1500 == 9:
                lines.append(b'{"kind": "counter", "timestamp": %d, "key": "k", "n": 2}\n' % ts)
        (tmp_path / f"usage_2026-11-0{day}.jsonl").write_bytes(b"".join(lines))
    query = replace(QUERY, dims=("user", "model"), period="hour", counters=True)
    files = list_files(tmp_path)
    monkeypatch.setenv("AIUSAGE_PROCESSES", "1")
    alone = scan_module.scan(files, query, TABLE, default_currency="USD")
    monkeypatch.setenv("AIUSAGE_PROCESSES", "3")
    monkeypatch.setattr(scan_module, "PARALLEL_BYTES", 0)
    assert len(plan_segments(files, 3, cut_files=True)) == 3
    together = scan_module.scan(files, query, TABLE, default_currency="USD")
    assert alone.state() == together.state()
    assert together.skipped.count == 8
    for name, lineno, _ in together.skipped.locations:  # numbered from the top of the file
        assert (
            (tmp_path / name).read_bytes().splitlines()[lineno - 1].startswith(b'{"timestamp": "')
        )


def test_an_id_that_cannot_be_hashed_is_no_id(tmp_path: Path) -> None:
    from aiusage.engine.scan import scan_merged
    from aiusage.store.dayfiles import list_files

    line = orjson.dumps({"timestamp": 1793500000.0, "model": "gpt-4o", "id": [1]}) + b"\n"
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "usage_2026-11-01.jsonl").write_bytes(line)
    files = list_files(tmp_path / "a") + list_files(tmp_path / "b")
    rollup = scan_merged(files, QUERY, TABLE, default_currency="USD")
    assert (rollup.records, rollup.duplicates) == (2, 0)


def test_a_record_that_cannot_be_summed_is_a_skipped_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pass imports cost_of_record when it reads a file: patched where it is defined.
    import aiusage.pricing.cost as cost_module

    def cost_of_record(price: Any, counts: Any, **kwargs: Any) -> Any:
        raise RuntimeError("unforeseen")

    monkeypatch.setattr(cost_module, "cost_of_record", cost_of_record)
    path = tmp_path / "usage_2026-11-01.jsonl"
    recorded = {"timestamp": 1793500000.0, "model": "gpt-4o", "cost": 0.5, "currency": "USD"}
    lines = [recorded, {"timestamp": 1793500001.0, "model": "gpt-4o"}, recorded]
    path.write_bytes(b"".join(orjson.dumps(rec) + b"\n" for rec in lines))
    rollup = Rollup(QUERY.dims, QUERY.period)
    scan_file(DayFile(dt.date(2026, 11, 1), path), QUERY, TABLE, rollup, default_currency="USD")
    assert rollup.records == 2
    assert rollup.skipped.locations == [
        (path.name, 2, "cannot be summed (RuntimeError: unforeseen)")
    ]
