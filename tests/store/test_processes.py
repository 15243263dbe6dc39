"""Jobs in worker processes: results in order, and a worker's failure never loses a job."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aiusage.store.processes import each_in_processes, map_in_processes

PARENT = os.getpid()

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forked workers are Linux's")


def square_and_pid(n: int) -> tuple[int, int]:
    return n * n, os.getpid()


def test_results_come_back_in_order_from_several_processes() -> None:
    results = map_in_processes(square_and_pid, [1, 2, 3, 4])
    assert [r for r, _ in results] == [1, 4, 9, 16]
    pids = [pid for _, pid in results]
    assert pids[0] == os.getpid()  # this process takes the first job
    assert len(set(pids)) == 4


def waits_for_its_file(path: str) -> str:
    """Here: the path at once; in a worker, once the path exists (made by the caller), or
    after 10 s."""
    give_up = time.monotonic() + 10
    while os.getpid() != PARENT and not os.path.exists(path) and time.monotonic() < give_up:
        time.sleep(0.01)
    return path


def test_the_first_result_comes_while_the_workers_still_run(tmp_path: Path) -> None:
    jobs = [str(tmp_path / "first"), str(tmp_path / "second")]
    results = each_in_processes(waits_for_its_file, jobs)
    start = time.monotonic()
    assert next(results) == jobs[0]
    assert time.monotonic() - start < 5  # not after the worker: it waits for the file
    Path(jobs[1]).touch()
    assert list(results) == [jobs[1]]


def says_its_pid_and_waits(path: str) -> int:
    """In a worker: writes its pid to ``path``, then waits for ever; here: returns at once."""
    if os.getpid() != PARENT:
        Path(path + ".tmp").write_text(str(os.getpid()))
        os.rename(path + ".tmp", path)
        while True:
            time.sleep(1)
    return 0


def test_closing_early_stops_the_workers(tmp_path: Path) -> None:
    jobs = [str(tmp_path / "first"), str(tmp_path / "worker")]
    results = each_in_processes(says_its_pid_and_waits, jobs)
    assert next(results) == 0
    give_up = time.monotonic() + 10
    while not os.path.exists(jobs[1]) and time.monotonic() < give_up:
        time.sleep(0.01)
    worker = int(Path(jobs[1]).read_text())
    results.close()
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(worker, 0)


def fails_in_a_worker(n: int) -> int:
    if os.getpid() != PARENT:
        if n == 2:
            os._exit(9)  # dies without a word
        raise RuntimeError("worker trouble")
    return -n


def test_a_failed_or_dead_worker_has_its_job_done_here() -> None:
    assert map_in_processes(fails_in_a_worker, [1, 2, 3]) == [-1, -2, -3]


class Refused(Exception):
    pass


def always_fails(n: int) -> int:
    raise Refused(f"job {n}")


def test_a_job_that_fails_everywhere_raises_its_own_error() -> None:
    with pytest.raises(Refused, match="job 1"):
        map_in_processes(always_fails, [1, 2])


def test_one_job_runs_here() -> None:
    assert map_in_processes(square_and_pid, [5]) == [(25, os.getpid())]


def test_a_process_with_other_threads_is_not_forked() -> None:
    import threading

    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, daemon=True)
    helper.start()
    try:
        results = map_in_processes(square_and_pid, [1, 2, 3])
    finally:
        stop.set()
        helper.join()
    assert results == [(1, PARENT), (4, PARENT), (9, PARENT)]


class DiesWhilePickled:
    """A result that a worker starts to send, then dies (or fails) in the middle of."""

    def __init__(self, how: str) -> None:
        self.how = how

    def __reduce__(self) -> tuple[type[int], tuple[int]]:
        if os.getpid() != PARENT:
            if self.how == "dies":
                os._exit(0)  # exit status 0, the payload cut short
            raise RuntimeError("cannot pickle")
        return int, (0,)


def half_sent(job: tuple[int, str]) -> list[object]:
    n, how = job
    # Megabytes before the bad part: the parent is already reading them from the pipe.
    return [b"x" * (1 << 20)] * 4 + [n, DiesWhilePickled(how)]


@pytest.mark.parametrize("how", ["dies", "fails"])
def test_a_result_cut_short_in_the_pipe_has_its_job_done_here(how: str) -> None:
    results = map_in_processes(half_sent, [(1, how), (2, how)])
    assert [r[4] for r in results] == [1, 2]
    assert all(type(r[5]) is DiesWhilePickled for r in results)  # made here, not unpickled


def large(n: int) -> list[int]:
    return list(range(n, n + 300_000))  # megabytes of pickle: many pipe buffers


def test_large_results_stream_through_the_pipe() -> None:
    assert map_in_processes(large, [0, 1, 2]) == [large(0), large(1), large(2)]


def _refuse() -> object:
    raise ValueError("cannot be unpickled here")


class Unloadable:
    """Pickles fine; unpickling it raises (a result the parent cannot load)."""

    def __reduce__(self) -> tuple[Callable[[], object], tuple[()]]:
        return _refuse, ()


BIG = b"x" * (4 << 20)  # far more than a pipe holds


def unloadable_then_big(n: int) -> object:
    # Worker 1's result fails to load while most of it is still to be written; the later
    # workers, with big results of their own, are still writing too.
    if os.getpid() != PARENT and n == 1:
        return Unloadable(), BIG
    return n, BIG


def test_a_result_that_cannot_be_loaded_is_redone_not_waited_for() -> None:
    import signal

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("map_in_processes hung")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        results = map_in_processes(unloadable_then_big, [0, 1, 2, 3])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert [r[0] for r in results] == [0, 1, 2, 3]
