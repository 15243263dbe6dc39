"""The bulk write path: the fast typed path writes exactly what ``prepare`` writes, refuses
exactly what it refuses, and a file read in parallel parts equals one sequential read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiusage.errors import AiusageError
from aiusage.pricing.table import load_table
from aiusage.records import batch as ingest
from aiusage.records.batch import (
    Preparer,
    Written,
    batch_errors,
    read_batch,
    read_batch_file,
    write_batch,
)
from aiusage.records.prepare import prepare
from aiusage.records.schema import serialize
from strategies import secrets_in_text

TABLE = load_table()
NOW = 1_795_000_000.5

counts = st.one_of(st.integers(0, 10**6), st.just(-1), st.just(True), st.just(2.0))
# Texts holding secrets too: both paths scrub them alike.
secret_texts = secrets_in_text().map(lambda placed: placed[0])
texts = st.one_of(st.none(), st.text(max_size=6), st.integers(0, 99), secret_texts)
fields = st.fixed_dictionaries(
    {
        "id": st.one_of(
            st.text(min_size=1, max_size=8), st.just(""), st.just("id AKIAIOSFODNN7EXAMPLE")
        )
    },
    optional={
        "v": st.sampled_from([1, 2, 1.0]),
        "kind": st.sampled_from(["call", "counter", "other"]),
        "timestamp": st.one_of(
            st.floats(0, 4e9, allow_nan=False), st.integers(0, 4_000_000_000), st.just(-5)
        ),
        "model": st.sampled_from(
            [
                "gpt-4o",
                "claude-sonnet-4-5",
                "qwen-plus",
                " gpt-4o",
                "mystery-model",
                "",
                7,
                "gsk_Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1",
                " AKIAIOSFODNN7EXAMPLE",
            ]
        ),
        "provider": texts,
        "user_id": texts,
        "function": texts,
        "input_tokens": counts,
        "output_tokens": counts,
        "cache_read_tokens": counts,
        "cache_write_tokens": counts,
        "cache_write_1h_tokens": st.one_of(st.none(), counts),
        "reasoning_tokens": st.one_of(st.just(0), counts),
        "total_tokens": st.one_of(st.none(), counts),
        "cost": st.one_of(st.none(), st.floats(0, 10, allow_nan=False), st.just(-1.0)),
        "currency": st.sampled_from([None, "USD", "CNY", "eur", "US", "€€€"]),
        "duration_ms": st.one_of(st.none(), st.floats(0, 1e6), st.integers(0, 100)),
        "success": st.sampled_from([None, True, False, 1]),
        "error_msg": texts,
        "status_code": st.sampled_from([None, 200, 429, 99, True]),
        "api_key": st.sampled_from([None, "", "sk-abcdefghijklmnop", "short", "sk-…9f3a"]),
        "tags": st.one_of(
            st.sampled_from([None, {}, {"team": "a"}, {"n": 1}]),
            st.dictionaries(
                st.text(max_size=3) | secret_texts, secret_texts, min_size=1, max_size=2
            ),
        ),
        "service_tier": st.sampled_from([None, "batch", "default"]),
        "host": st.sampled_from([None, "", "box"]),
        "key": st.just("k"),
    },
)


def slow(given: dict[str, Any]) -> bytes | str:
    try:
        return serialize(prepare(given, table=TABLE, now=NOW))
    except AiusageError as exc:
        return str(exc)


def fast(given: dict[str, Any], *, as_line: bool) -> bytes | str:
    out = bytearray()
    preparer = Preparer(TABLE, now=NOW)
    try:
        if as_line:
            preparer.line(orjson.dumps(given), out)
        else:
            preparer.fields(given, out)
    except AiusageError as exc:
        assert not out, "a refused record appends nothing"
        return str(exc)
    return bytes(out)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(fields, st.booleans())
def test_fast_path_writes_and_refuses_exactly_what_prepare_does(
    given: dict[str, Any], as_line: bool
) -> None:
    assert fast(given, as_line=as_line) == slow(given)


def test_fast_path_prices_a_plain_call() -> None:
    out = bytearray()
    prepared = Preparer(TABLE, now=NOW).line(
        b'{"model":"gpt-4o","input_tokens":1000000,"output_tokens":0}\n', out
    )
    rec = orjson.loads(out)
    assert rec["cost"] == 2.5
    assert rec["currency"] == "USD"
    assert rec["provider"] == "openai"
    assert rec["timestamp"] == NOW
    assert len(rec["id"]) == 32
    assert prepared == (NOW, None)


def test_unknown_model_is_reported_unpriced() -> None:
    out = bytearray()
    prepared = Preparer(TABLE, now=NOW).line(b'{"model":"mystery","input_tokens":1}', out)
    assert prepared.unpriced_model == "mystery"
    assert orjson.loads(out)["cost"] is None


def _batch_file(tmp_path: Path, n: int, bad: tuple[int, ...] = ()) -> Path:
    lines = []
    for i in range(n):
        rec: dict[str, Any] = {
            "model": "gpt-4o",
            "input_tokens": i,
            "timestamp": 1_795_000_000 + i * 37,
        }
        if i % 2:  # the others get their id from their bytes and offset, in any part
            rec["id"] = f"r{i}"
        lines.append(b"{not json" if i + 1 in bad else orjson.dumps(rec))
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_parallel_file_read_equals_sequential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _batch_file(tmp_path, 9000)
    data_dir = tmp_path / "data"
    with open(path, "rb") as fh:
        sequential = read_batch(fh, data_dir, table=TABLE)
    monkeypatch.setattr(ingest, "PARALLEL_BYTES", 1)
    parallel = read_batch_file(path, data_dir, table=TABLE)
    assert parallel.count == sequential.count == 9000
    assert len(parallel.lines) == len(sequential.lines) > 1
    for day in sequential.lines:
        assert b"".join(parallel.lines[day]) == b"".join(sequential.lines[day])
    assert write_batch(data_dir, parallel) == Written(9000, 0)


def test_parallel_errors_keep_their_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "PARALLEL_BYTES", 1)
    path = _batch_file(tmp_path, 5000, bad=(3, 4999))
    batch = read_batch_file(path, tmp_path / "data", table=TABLE, max_errors=5)
    assert batch.invalid == 2
    assert not batch.lines
    messages = batch_errors(batch)
    assert [m.split(":")[0] for m in messages] == ["line 3", "line 4999"]
    with pytest.raises(AiusageError):
        write_batch(tmp_path / "data", batch)


def test_error_count_is_summarised(tmp_path: Path) -> None:
    path = _batch_file(tmp_path, 50, bad=tuple(range(1, 31)))
    batch = read_batch_file(path, tmp_path / "data", table=TABLE, max_errors=20)
    messages = batch_errors(batch)
    assert len(messages) == 21
    assert messages[-1] == "30 invalid lines in all"


def test_parallel_read_keeps_a_last_line_without_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _batch_file(tmp_path, 3001)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    monkeypatch.setattr(ingest, "PARALLEL_BYTES", 1)
    batch = read_batch_file(path, tmp_path / "data", table=TABLE)
    assert batch.count == 3001
    assert batch.line_count == 3001


def _rerun_batch(tmp_path: Path) -> list[bytes]:
    """A batch over three days: lines with ids and without, two of them identical."""
    lines = []
    for i in range(60):
        rec: dict[str, Any] = {"model": "gpt-4o", "input_tokens": i, "timestamp": NOW + i * 3000}
        if i % 3 == 0:
            rec["id"] = f"given-{i}"
        lines.append(orjson.dumps(rec) + b"\n")
    lines.append(lines[1])  # the same call twice: two records
    return lines


def _stored(data_dir: Path) -> list[dict[str, Any]]:
    from aiusage.records.reader import DayReader, Skipped

    return [
        rec
        for day_file in ingest.list_files(data_dir)
        for rec in DayReader(day_file, Skipped()).records()
    ]


def test_a_batch_fed_again_after_a_kill_completes_without_duplicates(tmp_path: Path) -> None:
    lines = _rerun_batch(tmp_path)
    source = tmp_path / "batch.jsonl"
    source.write_bytes(b"".join(lines))
    earlier = orjson.dumps({"id": "earlier", "model": "gpt-4o", "timestamp": NOW}) + b"\n"

    def run(data_dir: Path) -> Written:
        return write_batch(data_dir, read_batch_file(source, data_dir, table=TABLE))

    # What a whole run writes, file by file in the order they are written.
    whole = tmp_path / "whole"
    whole.mkdir()
    (whole / "usage_2026-11-18.jsonl").write_bytes(earlier)
    assert run(whole) == Written(61, 0)
    written = [(f.path.name, f.path.read_bytes()) for f in ingest.list_files(whole)]
    assert len(written) == 3
    total = sum(len(data) for _, data in written) - len(earlier)
    oracle = sorted(orjson.loads(line)["input_tokens"] for line in lines)
    for cut in range(0, total + 1, 97):  # a kill after `cut` bytes: mid-line, mid-file
        data_dir = tmp_path / f"cut-{cut}"
        data_dir.mkdir()
        left = cut + len(earlier)
        for name, data in written:
            if left > 0:
                (data_dir / name).write_bytes(data[:left])
            left -= len(data)
        done = run(data_dir)
        stored = _stored(data_dir)
        assert sorted(r.get("input_tokens", 0) for r in stored if r["id"] != "earlier") == oracle
        assert [r["id"] for r in stored].count("earlier") == 1
        assert done.written + done.already == 61
        assert run(data_dir) == Written(0, 61)  # a third run has nothing left to do


def test_lines_without_an_id_get_the_same_one_every_run(tmp_path: Path) -> None:
    lines = [b'{"model":"gpt-4o","input_tokens":5,"timestamp":1795000000}\n'] * 2
    ids = [
        [orjson.loads(x)["id"] for x in b"".join(b.lines[p][0] for p in b.lines).splitlines()]
        for b in (read_batch(lines, tmp_path, table=TABLE) for _ in range(2))
    ]
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == 2  # identical lines are two calls
