"""The Parquet export writes, from the reader's typed rows a batch at a time, the very tables
that the records read whole by the canonical reader give, a dict per record (the export as it
was): the same lines skipped for the same reasons, the same rows in the same order, the same
columns and types, the same parts."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiusage.bounds import MAX_STATUS, MIN_STATUS
from aiusage.engine.rollup import Filters, filter_function
from aiusage.engine.timerange import TimeRange
from aiusage.output import parquet
from aiusage.output.parquet import COLUMNS, write_parquet
from aiusage.pricing.table import load_table
from aiusage.records.reader import DayReader
from aiusage.records.schema import serialize
from aiusage.records.skipped import Skipped
from aiusage.store.dayfiles import DayFile, list_files
from records.test_reader import BOM, DAY_FILE, T0, odd_lines

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

INT64 = range(-(2**63), 2**63)
SCHEMA = pa.schema(
    [(name, getattr(pa, kind)()) for name, kind in COLUMNS] + [("tags", pa.string())]
)


def _cell(name: str, value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "string":
        return str(value)
    if kind == "int64" and (type(value) is not int or value not in INT64):
        return None
    if name == "status_code" and not MIN_STATUS <= value <= MAX_STATUS:
        return None
    return value


def reference(
    files: list[DayFile], time_range: TimeRange, keep: Callable[[Any], bool] | None = None
) -> tuple[dict[str, Any], Skipped]:
    """Per day, the table of the records the canonical reader reads whole (a dict each), as
    the export wrote them before it read typed rows; and the lines skipped."""
    days: dict[str, list[DayFile]] = {}
    for day_file in files:
        days.setdefault(day_file.day.isoformat(), []).append(day_file)
    skipped = Skipped()
    tables = {}
    for day, day_files in sorted(days.items()):
        seen: set[Any] | None = set() if len({f.path.parent for f in day_files}) > 1 else None
        columns: dict[str, list[Any]] = {name: [] for name, _ in COLUMNS}
        columns["tags"] = []
        for day_file in day_files:
            for rec in DayReader(day_file, skipped).records():
                if rec.get("kind", "call") != "call" or not time_range.contains(rec["timestamp"]):
                    continue
                if keep is not None and not keep(rec):
                    continue
                if seen is not None and isinstance(rec.get("id"), str):
                    if rec["id"] in seen:
                        continue
                    seen.add(rec["id"])
                for name, kind in COLUMNS:
                    value = rec.get(name)
                    if value is None and name.endswith("_tokens"):
                        value = 0
                    columns[name].append(_cell(name, value, kind))
                tags = rec.get("tags")
                columns["tags"].append(serialize(tags)[:-1].decode() if tags else None)
        if columns["timestamp"]:
            tables[day] = pa.table(columns, schema=SCHEMA)
    return tables, skipped


def assert_same_export(
    files: list[DayFile],
    out: Path,
    time_range: TimeRange,
    keep: Callable[[Any], bool] | None = None,
) -> dict[str, Any]:
    """Export ``files`` to ``out`` and check it against :func:`reference`; the tables."""
    written, skipped = write_parquet(files, out, time_range, keep=keep)
    expected, expected_skipped = reference(files, time_range, keep)
    assert [p.relative_to(out).as_posix() for p in written] == [
        f"date={day}/part-0.parquet" for day in expected
    ]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == sorted(
        [f"date={day}" for day in expected] + [f"date={day}/part-0.parquet" for day in expected]
    )
    tables = {}
    for path, (day, table) in zip(written, expected.items(), strict=True):
        got = pq.read_table(path)
        assert got.schema == SCHEMA
        assert got.to_pylist() == table.to_pylist()  # the same rows, in the same order
        assert got.equals(table)
        tables[day] = got
    assert (skipped.count, skipped.locations) == (
        expected_skipped.count,
        expected_skipped.locations,
    )
    return tables


def _line(**members: Any) -> bytes:
    return orjson.dumps({"timestamp": T0, "model": "gpt-4o", **members})


ODD = [
    _line(id="a", cost=0.5, currency="USD", success=True, status_code=200, tags={"team": "x"}),
    _line(id="no-cost", input_tokens=10, output_tokens=3),  # no cost, no success: empty cells
    _line(id="null-tokens", input_tokens=None, cost=None, success=False, status_code=700),
    _line(id="teapot", status_code="teapot", user_id=42, session_id=[1, {"a": 2}], host=1.5),
    _line(kind="counter", key="signups", n=2),  # a counter: not a call, not written
    _line(kind="counter", key="", n=2),  # not a record: skipped
    _line(id="empty-tags", tags={}, api_key=True, function={"f": None}),
    b'{"timestamp": %d, "model": "m", "id": "big", "user_id": %d, "tags": {"n": %d, "m": -%d}}'
    % (T0, 2**70, 2**64, 2**63 + 1),
    BOM + _line(id="bom", anchor_id="\u00fcml"),
    _line(id="not-utf8", user_id="@").replace(b'"@"', b'"a\xff"'),
    b'{"timestamp": %d, "model": "m", "id": "inf", "provider": 1e999, "tags": {"a": -1e400}}' % T0,
    b'{"timestamp": %d, "model": "m", "id": "deep", "tags": {"x": %s1%s}}'
    % (T0, b'{"a":' * 300, b"}" * 300),
    b'{"timestamp": %d, "model": "m", "id": "int-ts", "cost": 1, "duration_ms": 5}' % T0,
    _line(id="range", timestamp=T0 - 86_400),  # not on its file's day
    _line(model=""),  # no model: skipped
    b"not json",
    b"",
    _line(id="dup"),
    _line(id="dup"),
    _line(id="torn")[:-3],
]


def test_hostile_and_odd_lines_give_the_same_table(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / DAY_FILE).write_bytes(b"\n".join(ODD))
    (data / "usage_2026-11-02.jsonl").write_bytes(_line(timestamp=T0 + 86_400, id="next") + b"\n")
    tables = assert_same_export(list_files(data), tmp_path / "lake", TimeRange(None, None))
    day = tables["2026-11-01"].to_pylist()
    by_id = {row["id"]: row for row in day}
    assert by_id["no-cost"]["cost"] is None
    assert by_id["no-cost"]["success"] is None
    assert by_id["null-tokens"]["input_tokens"] == 0
    assert by_id["null-tokens"]["status_code"] is None
    assert by_id["big"]["user_id"] == str(float(2**70))
    assert by_id["empty-tags"]["tags"] is None
    assert [row["id"] for row in day].count("dup") == 2  # one data dir: nothing merged
    assert "signups" not in {row["id"] for row in day}
    # A filter reads the values as the whole record holds them.
    big = filter_function(Filters({"user": frozenset({str(float(2**70))})}), load_table().lookup)
    filtered = assert_same_export(list_files(data), tmp_path / "big", TimeRange(None, None), big)
    assert [row["id"] for row in filtered["2026-11-01"].to_pylist()] == ["big"]


def test_merged_data_dirs_filters_and_ranges_give_the_same_table(tmp_path: Path) -> None:
    dirs = [tmp_path / "a", tmp_path / "b"]
    for n, data in enumerate(dirs):
        data.mkdir()
        lines = [_line(id="shared"), _line(id=f"own-{n}", user_id=["x"]), *ODD[:4]]
        (data / DAY_FILE).write_bytes(b"\n".join(lines) + b"\n")
    files = [f for data in dirs for f in list_files(data)]
    tables = assert_same_export(files, tmp_path / "lake", TimeRange(None, None))
    assert [row["id"] for row in tables["2026-11-01"].to_pylist()].count("shared") == 1
    keep = filter_function(Filters({"model": frozenset({"gpt-4o"})}), load_table().lookup)
    assert_same_export(files, tmp_path / "filtered", TimeRange(None, None), keep)
    assert_same_export(files, tmp_path / "none", TimeRange(T0 + 1, None))
    user = filter_function(Filters({"user": frozenset({"42", "['x']"})}), load_table().lookup)
    assert_same_export(files, tmp_path / "users", TimeRange(None, None), user)


def test_days_shared_among_processes_give_the_same_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for day in range(5):
        ts = T0 + day * 86_400
        lines = [_line(timestamp=ts + i, id=f"{day}-{i}", cost=i / 7) for i in range(300)]
        name = f"usage_2026-11-0{day + 1}.jsonl"
        # ODD's lines are on the first day: in the other days' files, they are misplaced.
        (data / name).write_bytes(b"\n".join([*lines, b"junk", *ODD[:3]]) + b"\n")
    monkeypatch.setattr(parquet, "workers_for", lambda size: 2)
    assert len(parquet._runs(sorted((f.day.isoformat(), [f]) for f in list_files(data)))) == 2
    tables = assert_same_export(list_files(data), tmp_path / "lake", TimeRange(None, None))
    assert len(tables) == 5
    # Batches smaller than a day: the same table.
    monkeypatch.setattr(parquet, "BATCH_ROWS", 7)
    assert_same_export(list_files(data), tmp_path / "batched", TimeRange(None, None))


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(odd_lines(), max_size=12), last_newline=st.booleans())
def test_any_lines_give_the_same_table(lines: list[bytes], last_newline: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / DAY_FILE).write_bytes(b"\n".join(lines) + (b"\n" if last_newline else b""))
        assert_same_export(list_files(data), Path(tmp) / "lake", TimeRange(None, None))
        since = TimeRange(T0 + 40_000, None)
        assert_same_export(list_files(data), Path(tmp) / "since", since)
