"""Narrow rows read what the full row reads; each query's row holds the fields it reads."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiusage.engine.rollup import Filters, Query
from aiusage.engine.scan import fields_read
from aiusage.engine.timerange import TimeRange, resolve_tz
from aiusage.output.parquet import write_parquet
from aiusage.pricing.table import load_table
from aiusage.records.reader import (
    READ_ALWAYS,
    ROW_DECODER,
    Row,
    Skipped,
    line_reader,
    row_decoder,
)
from aiusage.store.dayfiles import DayFile, day_of, day_path, list_files
from aiusage.views.doctor import build_doctor
from aiusage.views.document import Source, run_query
from aiusage.views.live import Follower
from aiusage.views.logs import newest_calls
from aiusage.views.report import build_report
from aiusage.views.reprice import rewrite_file
from strategies import records

pq = pytest.importorskip("pyarrow.parquet")


@settings(max_examples=300)
@given(rec=records, fields=st.frozensets(st.sampled_from(Row.__struct_fields__)))
def test_a_narrow_row_reads_what_the_full_row_reads(
    rec: dict[str, Any], fields: frozenset[str]
) -> None:
    line = orjson.dumps(rec)
    try:
        full = ROW_DECODER.decode(line)
    except msgspec.ValidationError:
        full = None
    try:
        narrow = row_decoder(fields).decode(line)
    except msgspec.ValidationError:
        narrow = None
    assert (full is None) == (narrow is None)
    if full is not None:
        for name in narrow.__struct_fields__:
            if name != "tags" or "tags" in fields:
                assert getattr(narrow, name) == getattr(full, name)


def test_each_query_reads_its_own_fields() -> None:
    query = Query(
        ("user", "tag:team"),
        "day",
        ZoneInfo("UTC"),
        TimeRange(None, None),
        Filters({"provider": frozenset({"openai"})}),
        intervals_by="key",
        counters=True,
    )
    assert fields_read(query) == {"user_id", "tags", "provider", "api_key", "key", "n"}
    plain = Query(("model",), "day", ZoneInfo("UTC"), TimeRange(None, None))
    assert fields_read(plain) == {"model"}
    assert fields_read(plain, accounts=True, dedupe=True) == {"model", "user_id", "api_key", "id"}
    narrow = row_decoder(fields_read(plain))
    assert {f.name for f in msgspec.structs.fields(narrow.type)} == READ_ALWAYS | {"tags"}
    assert row_decoder(frozenset(Row.__struct_fields__)) is ROW_DECODER


def test_a_mark_in_front_and_bytes_that_are_not_utf8_are_tolerated() -> None:
    reader = line_reader(frozenset({"user_id"}))
    line = orjson.dumps({"timestamp": 5, "model": "m", "user_id": "ab"})
    assert reader.refused(b"\xef\xbb\xbf" + line).user_id == "ab"
    assert reader.refused(line.replace(b"ab", b"a\xff")).user_id == "a\ufffd"
    assert reader.refused(b'{"timestamp": -1}') is None


# --- every reading command reads through the one reader ------------------------------------

T0 = 1_793_500_000.0  # 2026-11-01T02:26:40Z
DAY_FILE = "usage_2026-11-01.jsonl"
BOM = b"\xef\xbb\xbf"


def _line(**fields: Any) -> bytes:
    return orjson.dumps(fields)


ODD_LINES = [
    BOM + _line(id="r1", timestamp=T0, model="gpt-4o", user_id="bom", input_tokens=10),
    _line(id="r2", timestamp=T0 + 1, model="gpt-4o", user_id="@", input_tokens=5).replace(
        b'"@"', b'"a\xffb"'
    ),
    b"garbage",
    b"",
    _line(id="r3", timestamp=T0 + 2, model="gpt-4o", input_tokens="12"),
    _line(id="r4", timestamp=T0 + 3, model="gpt-4o", success="yes"),
    _line(id="r5", timestamp=T0 + 4, model="gpt-4o", status_code="teapot", user_id=["odd"]),
    _line(id="r6", timestamp=T0 + 5, kind="counter", key="signups", n=2, model=""),
    b"   ",
    _line(id="r7", timestamp=T0 + 6, input_tokens=3),
    _line(id="r8", timestamp=T0 + 7, model="claude-sonnet-4-5", session_id="@").replace(
        b'"@"', b'"\xfe"'
    ),
    _line(id="r9", timestamp=T0 + 8, model="gpt-4o", user_id="@").replace(b'"@"', b"1e999"),
    _line(id="r10", timestamp=T0 + 9, model="gpt-4o")[:-4],  # torn: no newline, cut short
]
CALLS = ["r1", "r2", "r5", "r8", "r9"]  # what every command reads as calls
SKIPPED = [
    (3, "bad JSON"),
    (5, "input_tokens is not an integer ≥ 0"),
    (6, "success is not true or false"),
    (10, "model missing or not a string"),
    (13, "torn last line (incomplete write)"),
]
WARNING = f"5 malformed lines skipped (first: {DAY_FILE}:3: bad JSON)"


def test_every_reading_command_reads_the_same_lines(cli: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / DAY_FILE).write_bytes(b"\n".join(ODD_LINES))
    d = ("-d", str(data))

    report = cli("report", "--all", "--json", *d)
    assert report.json()["totals"]["requests"] == len(CALLS)
    assert WARNING in report.stderr
    assert report.json()["first_skipped_line"] == {
        "file": DAY_FILE,
        "line": 3,
        "reason": "bad JSON",
    }
    for by in ("user", "session", "tag:team"):
        assert cli("report", "--all", "--by", by, "--json", *d).json()["totals"]["requests"] == 5

    logs = cli("logs", "--all", "-n", "100", "--json", *d)
    assert sorted(orjson.loads(x)["id"] for x in logs.stdout.splitlines()) == CALLS
    assert WARNING in logs.stderr

    doctor = cli("doctor", "--json", *d).json()
    assert (doctor["records"], doctor["files"][0]["counter_keys"]) == (len(CALLS), 1)
    assert [(m["line"], m["reason"]) for m in doctor["malformed"]] == SKIPPED

    exports = {
        fmt: cli("export", "--all", "--format", fmt, "--out", "-", *d)
        for fmt in ("json", "csv", "prom", "html")
    }
    assert all(WARNING in result.stderr for result in exports.values())
    assert exports["json"].json()["totals"]["requests"] == len(CALLS)
    assert sum(int(row.split(",")[2]) for row in exports["csv"].stdout.splitlines()[1:]) == 5
    prom = [x for x in exports["prom"].stdout.splitlines() if x.startswith("aiusage_requests")]
    assert sum(float(x.rsplit(" ", 1)[1]) for x in prom) == len(CALLS)
    assert f"Requests<b>{len(CALLS)}</b>" in exports["html"].stdout

    parquet = cli("export", "--all", "--format", "parquet", "--out", tmp_path / "lake", *d)
    assert WARNING in parquet.stderr
    table = pq.read_table(tmp_path / "lake" / "date=2026-11-01" / "part-0.parquet")
    assert sorted(table.column("id").to_pylist()) == CALLS
    assert (
        cli("export", "--all", "--format", "parquet", "--strict", "--out", tmp_path / "x", *d)
    ).exit_code == 3

    # The importers' check of ids already stored sees every record the reports count.
    source = tmp_path / "again.jsonl"
    source.write_bytes(b"".join(_line(id=i, ts=T0, m="gpt-4o") + b"\n" for i in CALLS))
    mapping = ("--map", "id=id", "--map", "timestamp=ts", "--map", "model=m")
    imported = cli("import", "jsonl", source, *mapping, "--json", *d).json()
    assert (imported["imported"], imported["duplicates"]) == (0, len(CALLS))

    # reprice rewrites the calls and copies every other line as it was.
    reprice = cli("reprice", "--all", "--json", *d)
    assert reprice.json()["totals"]["requests"] == len(CALLS)
    after = (data / DAY_FILE).read_bytes().split(b"\n")
    kept = {n for n, _ in SKIPPED} | {4, 8, 9}
    assert [after[n - 1] for n in sorted(kept)] == [ODD_LINES[n - 1] for n in sorted(kept)]
    assert cli("report", "--all", "--json", *d).json()["totals"]["requests"] == len(CALLS)


def test_watch_counts_the_calls_a_report_counts(tmp_path: Path) -> None:
    now = time.time()
    source = Source(tmp_path, load_table(), "USD")
    follower = Follower(source, resolve_tz("UTC"))
    assert follower.poll(now).requests == 0
    day = DayFile(day_of(now), day_path(tmp_path, day_of(now)))
    day.path.write_bytes(b"\n".join(ODD_LINES))
    state = follower.poll(now)
    assert state.requests == len(CALLS)
    query = Query((), "total", ZoneInfo("UTC"), TimeRange(None, None))
    assert build_report(source, query)["totals"]["requests"] == state.requests


NAMES = st.sampled_from(["ann", "bob", "ümlaut", "", "@"])
WRONG = st.sampled_from([None, "12", -1, 1.5, [], {}, True, "x", 10**15 + 1, "@", "#"])
# Values either side of the bounds (README "The record": bounds).
EDGES = st.sampled_from(
    [2**53, 2**53 + 1, 1e9, 1e9 * 1.000001, 1e10, 1e11, 1e300, 4102444799.5, 4102444800, 0, 599]
)
base_records = st.fixed_dictionaries(
    {
        "timestamp": st.one_of(
            st.floats(T0, T0 + 80_000), st.sampled_from([0, 4102444799.5, 4102444800, 253402297200])
        ),
        "model": st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "acme-private", "@"]),
    },
    optional={
        "id": st.text("abc", min_size=1, max_size=3),
        "user_id": NAMES,
        "session_id": NAMES,
        "input_tokens": st.integers(0, 10**6),
        "output_tokens": st.integers(0, 10**6),
        "cost": st.floats(0, 10),
        "success": st.booleans(),
        "duration_ms": st.floats(0, 1e5),
        "tags": st.dictionaries(st.just("team"), NAMES, max_size=1),
        "kind": st.sampled_from(["call", "counter", "other", 5]),
        "key": st.sampled_from(["signups", None, ""]),
        "n": st.one_of(st.integers(-3, 3), st.sampled_from([2**53, 2**53 + 1, "2"])),
        "status_code": st.one_of(st.integers(100, 599), st.just("teapot")),
        "note": NAMES,
    },
)


@st.composite
def odd_lines(draw: st.DrawFn) -> bytes:
    """One line of a day file, without its newline: a record, one of its fields of the wrong
    type, a mark in front, bytes that are not UTF-8 (where ``@`` was), numbers beyond a float
    or 64 bits (``#``), nesting too deep, junk, blank, or a line cut short."""
    rec = draw(base_records)
    if draw(st.booleans()):
        rec[draw(st.sampled_from(sorted(rec)))] = draw(st.one_of(WRONG, EDGES))
    line = orjson.dumps(rec).replace(b'"@"', draw(st.sampled_from([b'"a\xff"', b'"\xfe\xfe"'])))
    line = line.replace(
        b'"#"', draw(st.sampled_from([b"1e999", b"-1e400", b"9" * 30, str(2**70).encode()]))
    )
    form = draw(
        st.sampled_from(
            ["plain"] * 6 + ["bom", "crlf", "deep", "nested", "huge", "junk", "blank", "cut"]
        )
    )
    if form == "bom":
        return BOM + line
    if form == "crlf":
        return line + b"\r"
    if form == "deep":
        return line[:-1] + b', "x": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    if form == "nested":  # deeper than orjson writes, or than the typed reader reads
        depth = draw(st.sampled_from([300, 1000]))
        return line[:-1] + b', "x": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    if form == "huge":  # an integer of more digits than any decoder converts, in any member
        member = draw(st.sampled_from([b"user_id", b"session_id", b"tags", b"x", b"cost"]))
        digits = b"-" * draw(st.integers(0, 1)) + b"1" + b"0" * draw(st.sampled_from([4300, 6000]))
        return line[:-1] + b', "' + member + b'": ' + digits + b"}"
    if form == "junk":
        return draw(st.binary(max_size=12).filter(lambda b: b"\n" not in b))
    if form == "blank":
        return draw(st.sampled_from([b"", b"  ", b"\t"]))
    if form == "cut":
        return line[: draw(st.integers(1, len(line) - 1))]
    return line


def _read_by_every_command(data: Path, out: Path) -> dict[str, tuple[int, Any]]:
    """Per reading command: the calls it read and the lines it skipped (how many, where,
    why)."""
    source = Source(data, load_table(), "USD")
    everything = TimeRange(None, None)
    seen: dict[str, tuple[int, Any]] = {}
    for dims in [(), ("user",), ("session",), ("tag:team",), ("model", "key")]:
        query = Query(dims, "day", ZoneInfo("UTC"), everything)
        rollup = run_query(source, query)
        seen[f"report {dims}"] = (rollup.records, rollup.skipped)
        doc = build_report(source, query)
        seen[f"report {dims} document"] = (doc["totals"]["requests"], doc["skipped_lines"])
    doctor = build_doctor(source, now=T0)
    seen["doctor"] = (doctor["records"], doctor["malformed"])
    calls, skipped = newest_calls(source, time_range=everything, limit=10**6)
    seen["logs"] = (len(calls), skipped)
    written, skipped = write_parquet(list_files(data), out, everything)
    rows = sum(pq.read_metadata(path).num_rows for path in written)
    seen["parquet"] = (rows, skipped)
    return seen


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(odd_lines(), max_size=12), last_newline=st.booleans())
def test_every_reading_command_counts_the_same_lines(
    lines: list[bytes], last_newline: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        text = b"\n".join(lines) + (b"\n" if last_newline else b"")
        (data / DAY_FILE).write_bytes(text)
        seen = _read_by_every_command(data, Path(tmp) / "lake")
        calls, skipped = seen["report ()"]
        assert {n for n, _ in seen.values()} == {calls}, seen
        malformed = [(m["file"], m["line"], m["reason"]) for m in seen["doctor"][1]]
        assert malformed == skipped.locations
        for name, (_, other) in seen.items():
            if isinstance(other, Skipped):
                assert (other.count, other.locations) == (skipped.count, skipped.locations), name
            elif isinstance(other, int):
                assert other == skipped.count, name

        # reprice rewrites records only, and they stay records.
        rewrite_file(
            DayFile(dt.date(2026, 11, 1), data / DAY_FILE), load_table(), TimeRange(None, None)
        )
        before, after = text.split(b"\n"), (data / DAY_FILE).read_bytes().split(b"\n")
        if len(after) == len(before) + 1:  # a last line without a newline, rewritten with one
            assert after.pop() == b""
        reader = line_reader()
        for line, now in zip(before, after, strict=True):
            assert now == line or reader.row(line) is not None
        again = _read_by_every_command(data, Path(tmp) / "lake")["report ()"]
        assert (again[0], again[1].locations) == (calls, skipped.locations)

        # watch, following the same lines appended to today's file, counts what a report does.
        today = Path(tmp) / "today"
        source = Source(today, load_table(), "USD")
        clock = time.time()
        today.mkdir()
        follower = Follower(source, resolve_tz("UTC"))
        follower.poll(clock)
        day_path(today, day_of(clock)).write_bytes(text)
        query = Query((), "total", ZoneInfo("UTC"), TimeRange(None, None))
        assert follower.poll(clock).requests == run_query(source, query).records


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


# Lines at and beyond the bounds (README "The record": bounds), and what every reader says.
BOUND_LINES: list[tuple[bytes, str | None]] = [
    (_line(id="b1", timestamp=T0, model="gpt-4o", cost=1e300), "cost is beyond 1e9"),
    (_line(id="b2", timestamp=T0, model="gpt-4o", cost=1e9, input_tokens=2**53), None),
    (_line(id="b3", timestamp=T0, model="gpt-4o", duration_ms=1e306), "duration_ms is beyond 1e10"),
    (
        _line(id="b4", timestamp=T0, model="gpt-4o", ttfb_ms=1.5).replace(b"1.5", b"1e999"),
        "ttfb_ms is beyond 1e10",
    ),
    (
        _line(id="b5", timestamp=253402297200, model="gpt-4o"),
        "timestamp is not epoch seconds from 1970-01-01 up to 2100-01-01",
    ),
    (
        _line(id="b6", timestamp=T0, model="gpt-4o", output_tokens=2**53 + 1),
        "output_tokens is beyond 2^53",
    ),
    (_line(id="b7", timestamp=T0, model="gpt-4o", kind=5), "kind is not call or counter"),
    (_line(id="b8", timestamp=T0, model="gpt-4o", kind="weird"), "kind is not call or counter"),
    (
        _line(id="b9", timestamp=T0, kind="counter", key=None),
        "counter without a key name or a whole n within ±2^53",
    ),
    (
        _line(id="b10", timestamp=T0, kind="counter", key="k", n="2"),
        "counter without a key name or a whole n within ±2^53",
    ),
    (
        _line(id="b11", timestamp=T0, kind="counter", model="m", key="k", n=2**60),
        "counter without a key name or a whole n within ±2^53",
    ),
    (_line(id="b12", timestamp=T0, kind="counter", key="k", n=-(2**53)), None),
    (
        _line(id="b13", timestamp=T0, model="gpt-4o", user_id="@", status_code="@").replace(
            b'"@"', str(2**70).encode()
        ),
        None,
    ),
    (
        _line(id="b14", timestamp=T0, model="gpt-4o", session_id="@", tags={"team": "@"}).replace(
            b'"@"', _deep(300)
        ),
        None,
    ),
    (_line(id="b15", timestamp=T0, model="gpt-4o", x="@").replace(b'"@"', _deep(1100)), "bad JSON"),
    (
        _line(id="b16", timestamp=T0, model="gpt-4o", x="@").replace(
            b'"@"', b'{"a":' * 1000 + b"1" + b"}" * 1000
        ),
        "nested too deeply",
    ),
]


def test_every_reading_command_skips_the_same_lines_beyond_the_bounds(
    cli: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / DAY_FILE).write_bytes(b"".join(line + b"\n" for line, _ in BOUND_LINES))
    d = ("-d", str(data))
    users = cli("report", "--all", "--by", "user", "--json", *d)
    assert users.exit_code == 0, users.stderr
    rows = json.loads(users.stdout)["rows"]  # orjson would read the id as a float
    assert sorted(str(row["user_id"]) for row in rows) == [str(2**70), "None"]
    seen = _read_by_every_command(data, tmp_path / "lake")
    expected = [(DAY_FILE, n, why) for n, (_, why) in enumerate(BOUND_LINES, 1) if why is not None]
    calls, skipped = seen["report ()"]
    assert (calls, skipped.locations) == (3, expected)
    assert {n for n, _ in seen.values()} == {calls}, seen
    for name, (_, other) in seen.items():
        if isinstance(other, Skipped):
            assert other.locations == expected, name
    assert run_query(
        Source(data, load_table(), "USD"),
        Query(("key",), "total", ZoneInfo("UTC"), TimeRange(None, None), counters=True),
    ).counters == {"k": -(2**53)}
    for args in [
        ("logs", "--json"),
        ("top-users",),
        ("export", "--format", "csv", "--out", "-"),
        ("reprice",),
    ]:
        result = cli(*args, "--all", *d)
        assert result.exit_code == 0, (args, result.stderr)
    assert cli("report", "--all", "--json", *d).json()["totals"]["requests"] == calls


@pytest.mark.parametrize("damage", ["cut short", "not a gzip"])
def test_a_damaged_gzip_is_a_skipped_line_for_every_command(tmp_path: Path, damage: str) -> None:
    import gzip

    data = tmp_path / "data"
    data.mkdir()
    lines = b"".join(
        orjson.dumps({"id": f"{i:032x}", "timestamp": T0 + i, "model": "gpt-4o", "cost": 0.1})
        + b"\n"
        for i in range(40)
    )
    body = gzip.compress(lines)[:-12] if damage == "cut short" else b"\x1f\x8b\x08\x00junk"
    (data / (DAY_FILE + ".gz")).write_bytes(body)
    later = orjson.dumps({"id": "f" * 32, "timestamp": T0 + 86400, "model": "gpt-4o", "cost": 1})
    (data / "usage_2026-11-02.jsonl").write_bytes(later + b"\n")
    seen = _read_by_every_command(data, tmp_path / "lake")
    calls, skipped = seen["report ()"]
    assert skipped.count == 1
    assert "damaged gzip" in skipped.locations[0][2]
    # The lines before the damage count (all but the one being read when it showed).
    assert calls == (40 if damage == "cut short" else 1)
    assert {n for n, _ in seen.values()} == {calls}, seen
