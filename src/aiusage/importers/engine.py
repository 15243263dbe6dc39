"""The import engine shared by every source: what an import did, stable ids, per-file
offsets, and the sink that skips what the store holds already and writes the rest.

Imports are idempotent and incremental:

- Each imported record's ``id`` is derived from its source identity (Claude Code: the
  message id and request id), so the same call imported twice is recognised.
- The ids already stored for a day are read the first time a record of that day comes up,
  and records already there are skipped. This covers re-runs, resumed sessions replaying
  history, and the same message in several files.
- Per source file, the byte offset read so far is kept in
  ``<data dir>/imports/<source>.json`` with the file's inode. A file that grew is read from
  there; a rewritten or truncated one is read again from the start (ids keep that safe).

Nothing is written until the whole source has been read: an import that fails (a bad
mapped row) writes nothing.

Source folders are walked by :func:`source_files`, one symbolic-link policy for every
importer: a link (to a file or a directory) is followed only when its target stays inside
the folder being imported; any other is skipped and counted. Loops are walked once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from aiusage.errors import UsageError
from aiusage.records.batch import Preparer
from aiusage.store.atomic import write_atomic
from aiusage.store.dayfiles import (
    DAY_SECONDS,
    DayFile,
    append_lines,
    day_of,
    day_path,
    ensure_data_dir,
    list_files,
    open_data,
)
from aiusage.store.safepath import private_mkdir

if TYPE_CHECKING:
    from aiusage.workspace import Workspace

KEEP = 5  # records kept for a dry run's preview

Progress = Callable[[int, int], None]
"""Called with (bytes read, bytes in all) as an import goes."""


@dataclass
class ImportResult:
    """What an import did: records written, already present, and lines (and symbolic links
    out of the folder) skipped, by why; ``records`` holds the first few records, for a dry
    run to show."""

    source: str
    files: int = 0
    lines: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        """Count one line that is not a call."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def derived_id(*parts: str) -> str:
    """A stable record id from a source identity."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def epoch(value: Any) -> float | None:
    """Epoch seconds from epoch seconds or milliseconds, or an ISO 8601 string."""
    if isinstance(value, str):  # first: the common case
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000 if value > 1e11 else float(value)
    return None


class Sink:
    """Collects an import's records: skips ids seen in this run or stored already,
    validates and prices the rest (raising :class:`aiusage.errors.AiusageError` on an
    invalid one), and writes them, per day in time order, on :meth:`write`."""

    def __init__(self, result: ImportResult, workspace: Workspace) -> None:
        self.result = result
        self.data_dir = workspace.data_dir
        self.preparer = Preparer(
            workspace.pricing, default_currency=workspace.default_currency, now=time.time()
        )
        self.seen: set[str] = set()
        # Per UTC day number: the ids stored already, and the day's file.
        self.stored: dict[int, set[Any]] = {}
        self.paths: dict[int, Path] = {}
        # The data dir's files by day, listed when the first record comes (nothing is
        # written before the end: one listing holds for every day).
        self.files: dict[dt.date, list[DayFile]] | None = None
        self.days: dict[int, list[tuple[float, bytes]]] = {}

    def seen_before(self, record_id: str) -> bool:
        """Whether this run had ``record_id`` already (then it counts as a duplicate)."""
        if record_id in self.seen:
            self.result.duplicates += 1
            return True
        self.seen.add(record_id)
        return False

    def add(self, fields: Mapping[str, Any]) -> None:
        """Take one record's fields (its ``id`` set)."""
        self.take(fields["id"], *self.prepare(fields))

    def prepare(self, fields: Mapping[str, Any]) -> tuple[float, bytes]:
        """The first half of :meth:`add`, which changes nothing (a worker process can do
        it): the record's timestamp and its line (raises
        :class:`aiusage.errors.AiusageError` on invalid fields)."""
        out = bytearray()
        timestamp, _ = self.preparer.fields(fields, out)
        return timestamp, bytes(out)

    def take(self, record_id: Any, timestamp: float, line: bytes) -> None:
        """The second half of :meth:`add`: keep a prepared record unless its day holds
        its id already."""
        day = int(timestamp // DAY_SECONDS)
        stored = self.stored.get(day)
        if stored is None:
            date = day_of(timestamp)
            stored = self.stored[day] = self._stored_ids(date)
            self.paths[day] = day_path(self.data_dir, date)
        if record_id in stored:
            self.result.duplicates += 1
            return
        lines = self.days.get(day)
        if lines is None:
            lines = self.days[day] = []
        lines.append((timestamp, line))
        self.result.imported += 1
        if len(self.result.records) < KEEP:
            self.result.records.append(orjson.loads(line))

    def _stored_ids(self, day: dt.date) -> set[Any]:
        """The record ids already stored for a UTC day."""
        if self.files is None:
            self.files = {}
            if self.data_dir.is_dir():
                for day_file in list_files(self.data_dir):
                    self.files.setdefault(day_file.day, []).append(day_file)
        files = self.files.get(day)
        if not files:
            return set()
        # Here: an import into an empty data dir never needs the reader's module.
        from aiusage.records.reader import stored_ids

        return stored_ids(files)

    def write(self) -> None:
        """Append what was taken to the day files (and let it go)."""
        if not self.days:
            return
        ensure_data_dir(self.data_dir)
        for day in sorted(self.days):
            lines = self.days.pop(day)
            lines.sort(key=operator.itemgetter(0))
            append_lines(self.paths[day], list(map(operator.itemgetter(1), lines)))


# --- offsets of files already read -----------------------------------------------------------


class Offsets:
    """Per source file, how far an earlier import read it (``<data dir>/imports/``)."""

    def __init__(self, data_dir: Path, source: str) -> None:
        self.path = data_dir / "imports" / f"{source}.json"
        try:
            state = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            state = {}
        self.state: dict[str, Any] = state if isinstance(state, dict) else {}
        self.updates: dict[str, dict[str, int]] = {}

    def unread(self, path: Path) -> tuple[int, int]:
        """Where to read ``path`` from (its saved offset if it only grew since, else 0), and
        how many bytes it has from there."""
        stat = path.stat()
        saved = self.state.get(str(path)) or {}
        offset = saved.get("offset", 0)
        start = offset if saved.get("ino") == stat.st_ino and stat.st_size >= offset else 0
        return start, stat.st_size - start

    def lines(self, path: Path, start: int) -> Iterator[memoryview]:
        """The whole lines of ``path`` from ``start``, without their newlines (a line still
        being written is left for next time); the offset after the last one is remembered.
        Each line is a view into the file's bytes, read at once: no copy of it is made."""
        with open_data(path, start) as fh:
            data = fh.read()
            ino = os.fstat(fh.fileno()).st_ino
        self.updates[str(path)] = {"ino": ino, "offset": start + data.rfind(b"\n") + 1}
        view = memoryview(data)
        find = data.find
        at = 0
        while (end := find(b"\n", at)) >= 0:
            yield view[at:end]
            at = end + 1

    def save(self) -> None:
        """Write the offsets of this run."""
        self.state.update(self.updates)
        private_mkdir(self.path.parent)
        write_atomic(self.path, orjson.dumps(self.state))


OUTSIDE_LINK = "symbolic link leading out of the folder"


def source_files(
    folder: Path, suffix: str, result: ImportResult, *, below: str | None = None
) -> list[Path]:
    """The files named ``*suffix`` anywhere below ``folder`` (or its subfolder ``below``),
    sorted, each file once: a symbolic link is followed only when its target is inside
    ``folder`` (else it is counted in ``result.skipped``), and a directory reached twice (a
    loop) is walked once."""
    start = folder / below if below else folder
    if not start.is_dir():
        return []
    top = os.path.realpath(folder)
    found: dict[tuple[int, int], tuple[bool, Path]] = {}  # file identity: (via a link, path)
    walked: set[tuple[int, int]] = set()
    pending = [start]
    while pending:
        directory = pending.pop()
        try:
            info = directory.stat()
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in walked:
            continue
        walked.add((info.st_dev, info.st_ino))
        for entry in entries:
            link = entry.is_symlink()
            if link and not _inside(os.path.realpath(entry.path), top):
                result.skip(OUTSIDE_LINK)
                continue
            try:
                if entry.is_dir():
                    pending.append(Path(entry.path))
                    continue
                if not entry.is_file() or not entry.name.endswith(suffix):
                    continue
                identity = (entry.stat().st_dev, entry.stat().st_ino)
            except OSError:  # vanished meanwhile
                continue
            if identity not in found or (found[identity][0] and not link):
                found[identity] = (link, Path(entry.path))
    return sorted(path for _, path in found.values())


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def given_dirs(given: Sequence[Path]) -> list[Path]:
    """The source dirs the user named, each of which must be a directory (a typo must not
    pass for "nothing to import")."""
    for directory in given:
        if not directory.is_dir():
            why = "not a directory" if directory.exists() else "no such directory"
            raise UsageError(f"cannot read {directory}: {why}")
    return list(given)
