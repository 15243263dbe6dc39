"""Load and crash: many writers lose nothing; a killed writer breaks nothing."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from aiusage.store.dayfiles import iter_lines, list_files

MIDNIGHT = dt.datetime(2026, 11, 2, tzinfo=dt.UTC).timestamp()
N = 20_000


def _api_writer(data_dir: str, worker: int) -> None:
    import aiusage

    for i in range(N):
        ts = MIDNIGHT - 30 + (i % 60)  # either side of a UTC midnight
        aiusage.record(data_dir=data_dir, raise_errors=True, timestamp=ts, model="gpt-4o-mini",
                       input_tokens=i, output_tokens=worker, user_id=f"w{worker}")  # fmt: skip


def _batch_writer(data_dir: str, worker: int) -> None:
    lines = b"".join(
        orjson.dumps(
            {
                "timestamp": MIDNIGHT - 30 + (i % 60),
                "model": "gpt-4o",
                "input_tokens": i,
                "output_tokens": worker,
            }
        )
        + b"\n"
        for i in range(N)
    )
    for start in range(0, N, 2000):  # several batches, interleaving with the others
        chunk = b"".join(lines.splitlines(keepends=True)[start : start + 2000])
        subprocess.run(
            [sys.executable, "-m", "aiusage", "record", "--batch", "-", "-d", data_dir],
            input=chunk,
            check=True,
            capture_output=True,
        )


def _reader(
    data_dir: str, stop: multiprocessing.synchronize.Event, results: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    from zoneinfo import ZoneInfo

    from aiusage.engine.rollup import Query
    from aiusage.engine.scan import scan
    from aiusage.engine.timerange import TimeRange
    from aiusage.pricing.table import load_table

    table, seen = load_table(), []
    while not stop.is_set():
        rollup = scan(
            list_files(Path(data_dir)),
            Query((), "total", ZoneInfo("UTC"), TimeRange(None, None)),
            table,
            default_currency="USD",
        )
        seen.append((rollup.records, rollup.skipped.count))
    results.put(seen)


def test_eight_writers_across_midnight_lose_nothing(tmp_path: Path) -> None:
    """8 processes × 20,000 appends (4 with the Python API, 4 with --batch) → exactly
    160,000 valid records, each in its UTC day's file; readers meanwhile never crash and
    never count a half line."""
    ctx = multiprocessing.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=_reader, args=(str(tmp_path), stop, results))
    reader.start()
    writers = [
        ctx.Process(target=_api_writer if w < 4 else _batch_writer, args=(str(tmp_path), w))
        for w in range(8)
    ]
    for p in writers:
        p.start()
    for p in writers:
        p.join(timeout=600)
        assert p.exitcode == 0
    stop.set()
    seen = results.get(timeout=120)
    reader.join(timeout=60)
    assert reader.exitcode == 0
    assert all(skipped == 0 for _, skipped in seen)
    assert [n for n, _ in seen] == sorted(n for n, _ in seen)  # counts only grow
    total = 0
    for day_file in list_files(tmp_path):
        for line in iter_lines(day_file.path):
            assert line.endswith(b"\n")
            rec = orjson.loads(line)
            assert dt.datetime.fromtimestamp(rec["timestamp"], dt.UTC).date() == day_file.day
            total += 1
    assert total == 8 * N


# "ready" once the first record is on disk: on a loaded machine the kill may come before the
# loop has written anything, and the test needs a day file to tear.
WRITER = """
import sys, aiusage
d = sys.argv[1]
i = 0
while True:
    aiusage.record(data_dir=d, raise_errors=True, model="gpt-4o", input_tokens=i, tags={"pad": "x" * 3000})
    if i == 0:
        print("ready", flush=True)
    i += 1
"""


def test_sigkill_mid_stream_loses_no_complete_record(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    for round_ in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE
        )
        assert proc.stdout is not None
        proc.stdout.readline()
        time.sleep(0.05 + 0.02 * round_)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # A torn line, as a crash mid-write would leave it.
    day_file = next(iter(list_files(tmp_path)))
    with open(day_file.path, "ab") as fh:
        fh.write(b'{"timestamp": 1, "model": "gpt-4o", "input_tok')

    def parses(line: bytes) -> bool:
        try:
            return isinstance(orjson.loads(line), dict)
        except orjson.JSONDecodeError:
            return False

    lines = [line for f in list_files(tmp_path) for line in iter_lines(f.path)]
    complete = sum(1 for line in lines if parses(line))
    broken = len(lines) - complete  # the torn fragment, and any a kill left mid-write
    doctor = cli("doctor", "-d", tmp_path, "--json")
    assert doctor.exit_code == 3
    assert doctor.json()["malformed"][-1]["reason"] == "torn last line (incomplete write)"
    # No lock is left held: the next append goes through at once, on a fresh line.
    start = time.time()
    assert cli("record", "-d", tmp_path, "-m", "gpt-4o", "-i", "1").exit_code == 0
    assert time.time() - start < 10
    report = cli(
        "report", "-d", tmp_path, "--all", "--period", "total", "--json", "--no-cache"
    ).json()
    assert report["totals"]["requests"] == complete + 1
    assert report["skipped_lines"] == broken >= 1
