"""``aiusage watch`` follows today's file: records appended while it runs appear."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

import aiusage
from aiusage.engine.rollup import Filters
from aiusage.engine.timerange import resolve_tz
from aiusage.pricing.table import load_table
from aiusage.views.document import Source
from aiusage.views.live import Follower
from conftest import call, write_jsonl


def test_follower_reads_only_new_lines(data_dir: Path) -> None:
    aiusage.record(
        data_dir=data_dir,
        model="gpt-4o",
        input_tokens=1000,
        output_tokens=100,
        cost=1.0,
        currency="USD",
    )
    follower = Follower(Source(data_dir, load_table(), "USD"), resolve_tz("UTC"))
    state = follower.poll()
    assert (state.requests, state.cost) == (1, 1.0)
    offset = follower.offset
    aiusage.record(
        data_dir=data_dir, model="gpt-4o", input_tokens=10, success=False, cost=0.5, currency="USD"
    )
    with open(next(data_dir.glob("usage_*.jsonl")), "ab") as fh:
        fh.write(b'{"timestamp": 1, "model": "half-writ')  # a write in progress: not read yet
    state = follower.poll()
    assert (state.requests, state.failures, state.cost) == (2, 1, 1.5)
    assert follower.offset > offset
    assert state.latest[0]["success"] is False
    assert sum(state.calls_per_minute(time.time())) == 2


# `python -m aiusage ARGS` with Ctrl-C as a terminal delivers it, even where this run was
# started in the background: a shell starts background jobs with SIGINT ignored, a child
# inherits that, and Python then leaves it ignored.
INTERRUPTIBLE = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'aiusage'; runpy.run_module('aiusage', run_name='__main__', alter_sys=True)"
)


def test_watch_shows_records_as_they_arrive(data_dir: Path) -> None:
    env = {**os.environ, "COLUMNS": "100", "TZ": "UTC", "AIUSAGE_HOME": str(data_dir)}
    env.pop("NO_COLOR", None)
    leader, follower_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTIBLE, "watch", "--interval", "0.2"],
        stdin=follower_fd, stdout=follower_fd, stderr=follower_fd, env=env, close_fds=True,
    )  # fmt: skip
    os.close(follower_fd)
    seen = b""

    def read_until(needle: bytes, timeout: float) -> bool:
        nonlocal seen
        end = time.time() + timeout
        while time.time() < end:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
            if needle in seen:
                return True
        return False

    try:
        assert read_until(b"aiusage watch", 20), seen[-2000:]
        aiusage.record(
            data_dir=data_dir,
            model="pty-model-xyz",
            input_tokens=7,
            output_tokens=3,
            user_id="watcher",
        )
        assert read_until(b"pty-model-xyz", 20), seen[-2000:]
        proc.send_signal(signal.SIGINT)
        # Read on while it stops: a terminal nobody reads fills up, and its last redraw
        # would block on it for ever.
        end = time.time() + 20
        while proc.poll() is None and time.time() < end:
            read_until(b"\x00never", 0.2)
        assert proc.wait(timeout=1) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)


def test_follower_follows_every_data_dir_once(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    fields = {"model": "gpt-4o", "input_tokens": 10, "cost": 1.0, "currency": "USD"}
    copied = aiusage.record(data_dir=a, user_id="ann", **fields)
    aiusage.record(data_dir=b, user_id="bob", **fields)
    today = next(a.glob("usage_*.jsonl")).name
    with open(b / today, "ab") as fh:  # the same record in both dirs
        fh.write(orjson.dumps(copied) + b"\n")
    source = Source(a, load_table(), "USD", extra_dirs=(b,))
    follower = Follower(source, resolve_tz("UTC"))
    assert (follower.poll().requests, follower.state.cost) == (2, 2.0)
    assert sum(follower.state.calls_per_minute(time.time())) == 2
    later = aiusage.record(data_dir=b, user_id="bob", **fields)
    with open(a / today, "ab") as fh:  # copied again: counted once
        fh.write(orjson.dumps(later) + b"\n")
    assert follower.poll().requests == 3
    assert sum(follower.state.calls_per_minute(time.time())) == 3
    only_bob = Follower(
        source, resolve_tz("UTC"), filters=Filters(fields={"user": frozenset({"bob"})})
    )
    assert only_bob.poll().requests == 2
    aiusage.record(data_dir=a, user_id="ann", **fields)
    assert only_bob.poll().requests == 2


def test_follower_charges_new_lines_as_reports_do(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    follower = Follower(Source(data_dir, load_table(), "USD"), resolve_tz("UTC"))
    follower.poll()
    now = time.time()
    path = data_dir / f"usage_{time.strftime('%Y-%m-%d', time.gmtime(now))}.jsonl"
    write_jsonl(path, [
        call(now, model="qwen-plus", input_tokens=1000, cost=0.71),  # CNY: the entry's currency
        call(now, model="gpt-4o", input_tokens=1000, output_tokens=100),  # priced when read
    ])  # fmt: skip
    state = follower.poll()
    report = cli("report", "-d", data_dir, "--days", "1", "--json", "--no-cache").json()
    # Float sums of the same costs: the report's is exact, the follower's adds call by call.
    assert state.cost == pytest.approx(report["totals"]["cost"], rel=1e-12)
    assert report["totals"]["cost"] == pytest.approx(0.71 / 7.10 + 0.0035)
    assert state.latest[1]["currency"] == "CNY"
