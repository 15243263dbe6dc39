"""Recording calls: appending prepared records to the store, in the caller's thread or
through the background writer, and the per-request context (:func:`context`) laid under
every record made inside it. The public functions over it (``aiusage.record()``,
``@aiusage.track``) are in :mod:`aiusage.api`."""

from __future__ import annotations

import contextlib
import contextvars
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from aiusage.records.background import BackgroundWriter
from aiusage.records.batch import Preparer
from aiusage.records.schema import Record, new_id, serialize
from aiusage.store.dayfiles import (
    DAY_SECONDS,
    append_line,
    append_lines,
    day_of,
    day_path,
    ensure_data_dir,
)

_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "aiusage_context", default=None
)
_background: BackgroundWriter | None = None
_settings = {"background": os.environ.get("AIUSAGE_BACKGROUND", "") not in ("", "0")}


READY_KEPT = 64  # data dirs known to exist, so appends skip the mkdir
_ready_dirs: set[Path] = set()


def write(data_dir: Path, records: Iterable[Record]) -> int:
    """Append records to the files of their UTC days; the number written."""
    by_day: dict[Path, list[bytes]] = defaultdict(list)
    for rec in records:
        by_day[day_path(data_dir, day_of(rec["timestamp"]))].append(serialize(rec))
    _append(data_dir, by_day)
    return sum(len(v) for v in by_day.values())


def _append(data_dir: Path, by_day: Mapping[Path, list[bytes]]) -> None:
    if by_day and data_dir not in _ready_dirs:
        ensure_data_dir(data_dir)
        if len(_ready_dirs) >= READY_KEPT:
            _ready_dirs.clear()  # bounded: checking a dir again costs one stat
        _ready_dirs.add(data_dir)
    for path, lines in sorted(by_day.items()):
        append_lines(path, lines)


DAY_PATHS_KEPT = 256  # (data dir, day) -> day file path, so a record builds no path
_day_paths: dict[tuple[str, int], str] = {}


def record_now(directory: str, preparer: Preparer, fields: dict[str, Any]) -> Record:
    """Validate, price and append one record through the bulk path (the same bytes as
    :func:`prepare` + :func:`write`, a fifth of the time) to the day file's kept descriptor
    (:func:`~aiusage.store.dayfiles.append_line`); the record written."""
    # Set here, not by the shared Preparer, so threads never share an id or a clock reading.
    if fields.get("id") is None:
        fields["id"] = new_id()
    if fields.get("timestamp") is None:
        fields["timestamp"] = time.time()
    out = bytearray()
    timestamp, rec = preparer.record(fields, out)
    key = (directory, int(timestamp // DAY_SECONDS))
    path = _day_paths.get(key)
    if path is None:
        path = _day_file(*key)
    append_line(path, bytes(out))
    return rec


def _day_file(directory: str, day: int) -> str:
    """The path of a day's file, its data dir made sure of (once per day and dir)."""
    ensure_data_dir(Path(directory))
    if len(_day_paths) >= DAY_PATHS_KEPT:
        _day_paths.clear()  # bounded: a path is cheap to build again
    path = _day_paths[directory, day] = os.fspath(
        day_path(Path(directory), day_of(day * DAY_SECONDS))
    )
    return path


@contextlib.contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (``user_id``, ``session_id``, ``tags``, ...) to every record made inside
    the block, in this thread or task."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def with_context(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` laid over those of the enclosing :func:`context` blocks."""
    return {**(_context.get() or {}), **fields}


def in_background() -> bool:
    """Whether records are handed to the background writer (:func:`configure`)."""
    return bool(_settings["background"])


def submit(data_dir: Path, rec: Record) -> None:
    """Hand a prepared record to the background writer."""
    _writer().submit(data_dir, rec)


def configure(*, background: bool | None = None) -> None:
    """Process-wide settings of the Python API. ``background=True`` hands records to a
    writer thread (flushed at exit, or by :func:`flush`) instead of appending them in the
    caller's thread; ``$AIUSAGE_BACKGROUND=1`` sets it too. ``background=False`` writes
    what is queued and ends the thread."""
    if background is not None:
        _settings["background"] = background
        if not background and _background is not None:
            _background.close()


def flush(timeout: float | None = None) -> bool:
    """Wait until every record handed to the background writer is on disk; whether that
    happened within ``timeout`` seconds."""
    return _background.flush(timeout) if _background is not None else True


def _writer() -> BackgroundWriter:
    global _background
    if _background is None:
        _background = BackgroundWriter(write)
    return _background
