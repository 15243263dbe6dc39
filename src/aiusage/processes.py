"""Running a function over jobs in worker processes, one process per job: the parallel scan
and the parallel validation of a large ``record --batch`` file.

:mod:`multiprocessing` is imported on first use: it costs about 15 ms of start-up that most
commands never need.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


def map_in_processes(fn: Callable[[Job], Result], jobs: Sequence[Job]) -> list[Result]:
    """``fn`` over ``jobs``, each in a process of its own, results in order. Workers are
    forked where the platform allows (they share the parent's memory: nothing to pickle
    but the job), spawned elsewhere."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
        return list(pool.map(fn, jobs))
