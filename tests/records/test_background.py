"""The background writer: records handed to one thread, written in batches, none lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

import aiusage
from aiusage.store.dayfiles import iter_lines, list_files


def _records(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for f in list_files(directory) for line in iter_lines(f.path)]


def test_background_writing(data_dir: Path) -> None:
    aiusage.configure(background=True)
    try:
        for i in range(200):
            aiusage.record(data_dir=data_dir, model="gpt-4o", input_tokens=i)
        assert aiusage.flush(10)
    finally:
        aiusage.configure(background=False)
    assert sorted(r["input_tokens"] for r in _records(data_dir)) == list(range(200))


def test_turning_background_off_writes_everything_and_ends_the_thread(data_dir: Path) -> None:
    import threading

    def writer_threads() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name == "aiusage-writer"]

    def burst(start: int) -> None:
        for i in range(start, start + 300):
            aiusage.record(data_dir=data_dir, model="gpt-4o", input_tokens=i)

    aiusage.configure(background=True)
    try:
        threads = [threading.Thread(target=burst, args=(k * 300,)) for k in range(4)]
        for t in threads:
            t.start()
        aiusage.configure(background=False)  # while they are still recording
        for t in threads:
            t.join()
        aiusage.configure(background=True)  # a new thread when asked again
        burst(1200)
        assert writer_threads() == ["aiusage-writer"]
    finally:
        aiusage.configure(background=False)
    assert writer_threads() == []
    assert sorted(r["input_tokens"] for r in _records(data_dir)) == list(range(1500))


# Run in a process of its own: a forked pytest would run pytest's exit in every child.
FORKING = """
import multiprocessing, os, sys
import aiusage

data_dir, how = sys.argv[1], sys.argv[2]


def burst(start):
    for i in range(start, start + 100):
        aiusage.record(data_dir=data_dir, model="gpt-4o", input_tokens=i)


def child(start):
    burst(start)
    ok = aiusage.flush(10)  # what was queued so far, by the child's own writer
    burst(start + 100)  # then exits without flush(): the tail is written on the way out
    if not ok:
        sys.exit(5)


aiusage.configure(background=True)
burst(0)  # some of these are still queued in the parent when it forks
if how == "os.fork":
    pids = []
    for k in range(3):
        pid = os.fork()
        if pid == 0:
            child(1000 * (k + 1))
            sys.exit(0)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
else:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=child, args=(1000 * (k + 1),)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    codes = [p.exitcode for p in procs]
    with ctx.Pool(2) as pool:  # workers that end with os._exit, without a flush
        pool.map(burst, [5000, 5100, 5200, 5300])
burst(100)  # the parent goes on recording after the fork
sys.exit(max(codes))
"""


@pytest.mark.parametrize("how", ["os.fork", "multiprocessing"])
def test_records_made_around_a_fork_are_written_once(tmp_path: Path, how: str) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {**os.environ, "AIUSAGE_BACKGROUND": "0"}
    done = subprocess.run(
        [sys.executable, "-c", FORKING, str(data_dir), how], env=env, timeout=120, check=False
    )
    assert done.returncode == 0  # 5: flush() failed in a child
    expected = list(range(200)) + [k * 1000 + i for k in (1, 2, 3) for i in range(200)]
    if how == "multiprocessing":
        expected += list(range(5000, 5400))
    assert sorted(r["input_tokens"] for r in _records(data_dir)) == sorted(expected)


TERMINATED = """
import multiprocessing, sys, time
import aiusage
from aiusage.records import background

data_dir, ending = sys.argv[1], sys.argv[2]
write_all = background.BackgroundWriter._write_all


def slowly(self, items):  # a writer thread, were records queued, would still be busy
    time.sleep(0.5)
    write_all(self, items)


background.BackgroundWriter._write_all = slowly


def task(start):
    for i in range(start, start + 100):
        aiusage.record(data_dir=data_dir, model="gpt-4o", input_tokens=i)
    return start  # returns while its records are still queued


aiusage.configure(background=True)  # the parent itself records nothing
pool = multiprocessing.get_context("fork").Pool(1)
pool.map(task, [0])
if ending == "terminate":  # as a Pool used as a context manager ends: SIGTERM
    pool.terminate()
else:  # the worker ends with os._exit, after multiprocessing's exit handlers
    pool.close()
pool.join()
"""


@pytest.mark.parametrize("ending", ["terminate", "close"])
def test_a_pool_worker_writes_what_it_queued_however_the_pool_ends(
    tmp_path: Path, ending: str
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {**os.environ, "AIUSAGE_BACKGROUND": "0"}
    done = subprocess.run(
        [sys.executable, "-c", TERMINATED, str(data_dir), ending], env=env, timeout=60, check=False
    )
    assert done.returncode == 0
    assert sorted(r["input_tokens"] for r in _records(data_dir)) == list(range(100))


BUSY = """
import multiprocessing, sys, time
import aiusage


def busy(data_dir):
    aiusage.configure(background=True)
    aiusage.record(data_dir=data_dir, model="gpt-4o", input_tokens=1)
    return sum(range(3 * 10**8))  # seconds in C: a Python signal handler would wait for it


pool = multiprocessing.get_context("fork").Pool(1)
pool.apply_async(busy, (sys.argv[1],))
time.sleep(1)
started = time.time()
pool.terminate()
pool.join()
print(time.time() - started)
"""


def test_pool_terminate_ends_a_busy_worker_that_recorded_at_once(tmp_path: Path) -> None:
    # Nothing of aiusage's stands between SIGTERM and the end of a worker.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", BUSY, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 1.0
    assert [r["input_tokens"] for r in _records(data_dir)] == [1]
