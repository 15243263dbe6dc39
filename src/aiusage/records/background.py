"""Optional background writing for latency-sensitive services (seed 001's async logging):
records are validated and priced in the caller's thread, then handed to one writer thread
that appends them in batches. Queued records are flushed at interpreter exit.

Off by default: ``aiusage.configure(background=True)`` turns it on. When the queue is full
the caller writes the record itself, so nothing is dropped.

Forking: a child starts with an empty queue and no thread (the parent's queued records are
the parent's to write), starts its own writer on its first record, and writes its queue
when it exits (``sys.exit`` or the end of the program). A ``multiprocessing`` child (a
``Process``, a ``Pool`` worker) writes each record in the caller's thread instead: it ends
with ``os._exit``, or is terminated with SIGTERM at any moment (a ``Pool`` used as a context
manager ends its workers so), and a queue would lose what it held — while a signal handler
that flushed it could run with the queue's lock held, and would delay a terminate. A
process ended by ``os._exit`` called directly, or by a signal, loses what it had queued:
call :meth:`BackgroundWriter.flush` first.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger("aiusage")

MAX_QUEUED = 100_000
BATCH = 5_000

Writer = Callable[[Path, list[dict[str, Any]]], object]
Item = tuple[Path, dict[str, Any]]  # a record and the data dir it goes to


class BackgroundWriter:
    """One daemon thread appending queued records with ``write(data_dir, records)``."""

    def __init__(self, write: Writer) -> None:
        self._write = write
        self._queue: queue.Queue[Item | None] = queue.Queue(MAX_QUEUED)
        self._thread: threading.Thread | None = None
        # Held to start, queue to and stop the thread, so no record lands in a queue that
        # no thread will read.
        self._lock = threading.Lock()
        self._exit_registered = False
        self._in_child: bool | None = None  # a multiprocessing child (found on first use)
        if hasattr(os, "register_at_fork"):
            # The lock is held across the fork, so the child's copy of the queue is never
            # caught half-changed; the child then drops it (see the module's docstring).
            os.register_at_fork(
                before=self._lock.acquire,
                after_in_parent=self._lock.release,
                after_in_child=self._forget_parent,
            )

    def submit(self, data_dir: Path, rec: dict[str, Any]) -> None:
        """Queue one record (written by the caller when the queue is full, and always in a
        ``multiprocessing`` child: see the module's docstring)."""
        if self._in_child is None:
            self._in_child = _in_multiprocessing_child()
        if self._in_child:
            self._write_one(data_dir, [rec])
            return
        with self._lock:
            self._start()
            try:
                self._queue.put_nowait((data_dir, rec))
                return
            except queue.Full:
                pass
        self._write(data_dir, [rec])

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued record is written; whether that happened in time."""
        if self._thread is None:
            return True
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def close(self) -> None:
        """Write every queued record and end the writer thread (a later record starts a new
        one): a process that is done with background writing runs no thread of ours."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)  # the writer's last item
                thread.join()

    def _forget_parent(self) -> None:
        """In a forked child: a lock, queue and thread of its own (the parent's thread does
        not run in the child; its queue holds records the parent writes)."""
        self._lock = threading.Lock()
        self._queue = queue.Queue(MAX_QUEUED)
        self._thread = None
        self._in_child = None

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="aiusage-writer", daemon=True)
            self._thread.start()
            if not self._exit_registered:
                atexit.register(self.flush, 10.0)
                self._exit_registered = True

    def _run(self) -> None:
        last = False
        while not last:
            items = [self._queue.get()]
            while len(items) < BATCH:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            last = None in items  # :meth:`close` queues nothing after it
            self._write_all([item for item in items if item is not None])
            for _ in items:
                self._queue.task_done()

    def _write_all(self, items: list[Item]) -> None:
        by_dir: dict[Path, list[dict[str, Any]]] = defaultdict(list)
        for data_dir, rec in items:
            by_dir[data_dir].append(rec)
        for data_dir, records in by_dir.items():
            self._write_one(data_dir, records)

    def _write_one(self, data_dir: Path, records: list[dict[str, Any]]) -> None:
        """Append ``records`` to one data dir; a failure is logged (background writing
        never raises into the caller's code)."""
        try:
            self._write(data_dir, records)
        except Exception as exc:
            logger.error("aiusage: %d calls not recorded: %s", len(records), exc)


def _in_multiprocessing_child() -> bool:
    """Whether this process was started by :mod:`multiprocessing` (a ``Process`` or a
    ``Pool`` worker)."""
    mp = sys.modules.get("multiprocessing")
    return mp is not None and mp.parent_process() is not None
