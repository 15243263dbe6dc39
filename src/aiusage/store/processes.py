"""Running a function over jobs in worker processes: the parallel scan and the parallel
validation of a large ``record --batch`` file.

On Linux the workers are forked: they share the parent's memory (the query, the pricing
table, a memory-mapped input), only their results travel back, pickled, through a pipe, and
the parent does the first job itself. A worker that fails in any way has its job done again
by the parent, which then raises the real error or gets the result. A process that runs
other threads (an application calling the library) is never forked: it does every job.
Elsewhere (no ``fork``) a spawned process pool does the work; :mod:`multiprocessing` is
imported only then, as it costs about 15 ms of start-up.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from typing import TypeVar

from aiusage.store.gc_pause import gc_paused

Job = TypeVar("Job")
Result = TypeVar("Result")


def map_in_processes(fn: Callable[[Job], Result], jobs: Sequence[Job]) -> list[Result]:
    """``fn`` over ``jobs``, each in a process of its own (this one takes the first),
    results in order."""
    with closing(each_in_processes(fn, jobs)) as results:
        return list(results)


def each_in_processes(
    fn: Callable[[Job], Result], jobs: Sequence[Job]
) -> Generator[Result, None, None]:
    """:func:`map_in_processes`, each result as soon as it and those before it are done: the
    first (this process's) while the workers still run. Closing the iterator early stops
    the workers."""
    if len(jobs) < 2:
        yield from map(fn, jobs)
        return
    if sys.platform != "linux":
        yield from _spawned(fn, jobs)
        return
    if threading.active_count() > 1:
        # A host application's threads (``aiusage.remaining()`` in a web server): a fork
        # copies none of them, and may copy a lock one of them holds. Done here instead.
        yield from map(fn, jobs)
        return
    pending: list[tuple[int, int]] = []
    try:
        for job in jobs[1:]:
            pending.append(_fork(fn, job, [fd for _, fd in pending]))
        yield fn(jobs[0])
        for job in jobs[1:]:
            yield _collect(pending.pop(0), fn, job)
    finally:
        for pid, fd in pending:  # interrupted: no worker outlives the call
            _stop(pid)
            os.close(fd)


def _fork(fn: Callable[[Job], Result], job: Job, others: list[int]) -> tuple[int, int]:
    """Start a worker on ``job``: its pid and the read end of its result pipe. ``others``
    are the read ends of the workers started before it, which it closes: a worker holding
    another's would keep that one writing into a pipe the parent has given up on (its
    result cut short), waiting for ever."""
    import pickle  # here, before the fork: a run that forks no worker never needs it

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: one job, one pickled result, then exit without cleanup
        status = 1
        try:
            for fd in (read_end, *others):
                os.close(fd)
            result = fn(job)
            with open(write_end, "wb") as pipe:  # written as it is pickled, never whole
                pickle.dump(result, pipe, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            # os._exit: the parent's buffered output and exit handlers are not the worker's.
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _collect(child: tuple[int, int], fn: Callable[[Job], Result], job: Job) -> Result:
    """A worker's result, or, when it failed or died, the job done here."""
    import pickle

    pid, fd = child
    loaded = False
    try:
        with open(fd, "rb") as pipe:
            # Read as it arrives: the payload is never whole in memory beside its result.
            try:
                with gc_paused():
                    result: Result = pickle.load(pipe)
                loaded = True
            except Exception:  # a truncated payload: treated like a failed worker
                pass
        # The pipe is closed first: a worker still writing into it ends (EPIPE), not hangs.
        _, status = os.waitpid(pid, 0)
    except BaseException:
        _stop(pid)
        raise
    if loaded and status == 0:
        return result
    return fn(job)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:  # already gone
        pass


def _spawned(fn: Callable[[Job], Result], jobs: Sequence[Job]) -> list[Result]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
        return list(pool.map(fn, jobs))
