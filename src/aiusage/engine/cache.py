"""The incremental rollup cache: a report after the first reads only what changed.

For each query shape (dimensions, period, zone, filters, cost mode, pricing table version,
aiusage version) and each day file wholly inside the query's range, the file's rollup is
stored under ``<data dir>/.cache/rollups/<shape>/`` with the byte offset it covers and the
file's identity (inode, the byte its records begin at — after what the day's gzip holds of
it — and a hash of the bytes just before the offset). Next time:

- same file, same size → the cached rollup is used as it is (closed days never change);
- same file, grown (today's file, or a back-filled day) → the cache is resumed from the
  offset and only the new lines are read;
- anything else (rewritten, truncated, compacted, its begin moved, a corrupt or foreign
  cache entry) → the entry is ignored and rebuilt from a full read of the file.

A query of windows that end now (``stats``) caches each file wholly inside one window as
the same query over one period (``total``), relabelled as that window: the entries do not
depend on when it runs. Files only partly inside the range (or straddling a window's
start), files holding records of another day, gzip files that changed, and queries that
need every record in order (intervals, audits) are read as usual. Everything under
``.cache/`` is derived and safe to delete (``aiusage cache clear``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from bisect import bisect_right
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from aiusage._version import __version__
from aiusage.engine.rollup import Query, Rollup
from aiusage.engine.scan import (
    Progress,
    file_size,
    plan_segments,
    scan,
    scan_file,
    workers_for,
)
from aiusage.engine.timerange import TimeRange
from aiusage.errors import DataError
from aiusage.pricing.table import PricingTable
from aiusage.store.atomic import write_atomic
from aiusage.store.dayfiles import DAY_SECONDS, DayFile, day_of, is_open
from aiusage.store.gc_pause import gc_paused
from aiusage.store.processes import map_in_processes
from aiusage.store.safepath import private_mkdir


def _debug(message: str, exc: BaseException) -> None:
    """Log ``message`` % ``exc`` at debug level on the ``aiusage`` logger (:mod:`logging` is
    imported only then: most runs log nothing)."""
    import logging

    logging.getLogger("aiusage").debug(message, exc)


# 6: a histogram of a few values stored as their buckets (5: every value by name; 4: stored
# accumulators as lists of 18 values by position). An entry of another format is rebuilt:
# it is in another shape's directory, and refused on load.
FORMAT = 6
# A byte of cache entry takes about as long to load and merge as 8 bytes of data file to
# scan (55 vs 6.5 ns): a month of fine-grained entries is worth sharing between processes.
ENTRY_COST = 8
TAIL = 4096  # bytes before the cached offset that must be unchanged to resume
IDLE_DAYS = 30  # a query shape no report used for this long is deleted
TIDY_SECONDS = 86400  # how often the cache looks for what to delete
# A process's share of the files: (files, query, pricing, shape, currency, cost mode).
RunJob = tuple[list[DayFile], Query, PricingTable, str, str, str]
# The same without the files: (query, pricing, shape, currency, cost mode).
ShapeJob = tuple[Query, PricingTable, str, str, str]


class RollupCache:
    """Per-file rollups of query shapes, under ``<data dir>/.cache/rollups``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = data_dir / ".cache" / "rollups"
        self.hits = 0
        self.resumed = 0
        self.misses = 0

    def clear(self) -> int:
        """Delete every cached rollup; how many files were removed."""
        if not self.root.parent.exists():
            return 0
        n = sum(1 for p in self.root.parent.rglob("*") if p.is_file())
        shutil.rmtree(self.root.parent)
        return n

    def scan(
        self,
        files: list[DayFile],
        query: Query,
        pricing: PricingTable,
        *,
        default_currency: str,
        cost_mode: str,
        progress: Progress | None = None,
    ) -> Rollup:
        """The rollup of ``query`` over ``files``, from cached per-file rollups where they
        are still valid; equal to :func:`aiusage.engine.scan.scan` of the same arguments. The
        files to read are read (and cached) in parallel processes when there are megabytes
        of them."""
        if query.audit or query.intervals_by:
            return scan(
                files,
                query,
                pricing,
                default_currency=default_currency,
                cost_mode=cost_mode,
                progress=progress,
            )
        shape = _shape(_cached_form(query), pricing, default_currency, cost_mode)
        with contextlib.suppress(OSError):
            os.utime(self.root / shape)  # in use: not idle (see tidy)
        job = (query, pricing, shape, default_currency, cost_mode)
        closed = _closed_prefix(files, query)
        with gc_paused():
            rollup = self._closed_run(files[:closed], job, progress)
            rollup.merge(self._runs(files[closed:], job, progress))
        self.tidy()
        return rollup

    def _runs(self, files: list[DayFile], job: ShapeJob, progress: Progress | None) -> Rollup:
        """The rollup of ``files`` from their per-file entries (in processes, when there are
        megabytes of them)."""
        weights = [self._work(job[2], f) for f in files]
        workers = workers_for(sum(weights))
        if workers < 2:
            return self._tally(self._run((files, *job), progress))
        plan = plan_segments(files, workers, cut_files=False, weights=weights)
        runs = [[day_file for day_file, _, _ in run] for run in plan]
        rollup = Rollup.of(job[0])
        for part in map_in_processes(self._run, [(run, *job) for run in runs]):
            rollup.merge(self._tally(part))
        return rollup

    def _closed_run(self, files: list[DayFile], job: ShapeJob, progress: Progress | None) -> Rollup:
        """The rollup of a run of closed days: from one range entry when none of the files has
        changed since it was stored, else from the per-file entries, then stored as one (a
        warm report over a month loads one rollup instead of merging thirty)."""
        query, shape = job[0], job[2]
        if len(files) < 2:
            return self._runs(files, job, progress)
        entry = self.root / shape / _range_name(files, query.range)
        before = _identities(files)
        if before is not None:
            cached = _load_range(entry, query, before)
            if cached is not None:
                self.hits += len(files)
                with contextlib.suppress(OSError):
                    os.utime(entry)  # in use: not idle (see tidy)
                return cached
        rollup = self._runs(files, job, progress)
        # Stored only if no file changed while it was read (its identity taken before).
        if before is not None and _identities(files) == before:
            self._write(entry, {"format": FORMAT, "files": before, "rollup": rollup.state()})
        return rollup

    def tidy(self, *, now: float | None = None) -> int:
        """At most once a day, delete what no report will read again: the query shapes no
        report used for :data:`IDLE_DAYS` (one-off filters, older aiusage versions), the
        entries of day files that are gone (pruned, or compacted to ``.gz``) and the
        leftovers of writes killed midway. How many files were deleted."""
        now = time.time() if now is None else now
        marker = self.root / ".tidied"
        try:
            if now - marker.stat().st_mtime < TIDY_SECONDS:
                return 0
        except FileNotFoundError:
            if not self.root.is_dir():
                return 0
        except OSError:
            return 0
        removed = 0
        try:
            marker.touch(mode=0o600)
            present = {p.name for p in self.data_dir.iterdir()}
            for shape in self.root.iterdir():
                if not shape.is_dir():
                    continue
                entries = list(shape.iterdir())
                if now - shape.stat().st_mtime > IDLE_DAYS * 86400:
                    shutil.rmtree(shape, ignore_errors=True)
                    removed += len(entries)
                    continue
                for entry in entries:
                    if _gone(entry, present, now):
                        entry.unlink(missing_ok=True)
                        removed += 1
        except OSError as exc:  # a read-only or vanishing cache: tidied next time
            _debug("aiusage: rollup cache not tidied: %s", exc)
        return removed

    def _work(self, shape: str, day_file: DayFile) -> int:
        """The work a file will take, in bytes of data file to scan: its size, or when it has
        a cache entry written after it changed, the entry's size × :data:`ENTRY_COST` (a
        guess, for sharing out the work; each entry is checked when it is read)."""
        try:
            entry = self._entry(shape, day_file).stat()
            if entry.st_mtime >= day_file.path.stat().st_mtime:
                return entry.st_size * ENTRY_COST
        except OSError:
            pass
        return file_size(day_file)

    def _tally(self, part: tuple[Rollup, Counter[str]]) -> Rollup:
        rollup, outcomes = part
        self.hits += outcomes["hit"]
        self.resumed += outcomes["resumed"]
        self.misses += outcomes["miss"]
        return rollup

    def _entry(self, shape: str, day_file: DayFile) -> Path:
        return self.root / shape / f"{day_file.path.name}.json"

    def _run(self, job: RunJob, progress: Progress | None = None) -> tuple[Rollup, Counter[str]]:
        """The rollup of a run of files, in order — each file's from the cache (``hit``),
        resumed from it (``resumed``), read whole and cached (``miss``) or read (``read``:
        not cacheable) — and how many files were each."""
        files, query, pricing, shape, default_currency, cost_mode = job
        today = day_of(time.time())
        rollup = Rollup.of(query)
        outcomes: Counter[str] = Counter()
        for done, day_file in enumerate(files, 1):
            growing = is_open(day_file, today)
            made = None
            cacheable = _cache_query(query, day_file)
            if cacheable is not None:
                file_query, window = cacheable
                made = self._file_rollup(
                    day_file, file_query, pricing, shape, default_currency, cost_mode, growing
                )
                if made is not None and window is not None:
                    made = _as_window(made[0], query.period, window), made[1]
            if made is None:
                scan_file(
                    day_file,
                    query,
                    pricing,
                    rollup,
                    default_currency=default_currency,
                    cost_mode=cost_mode,
                    complete_lines_only=growing,
                )
                outcomes["read"] += 1
            else:
                rollup.merge(made[0])
                outcomes[made[1]] += 1
            if progress is not None:
                progress(done, len(files))
        return rollup, outcomes

    def _file_rollup(
        self,
        day_file: DayFile,
        query: Query,
        pricing: PricingTable,
        shape: str,
        default_currency: str,
        cost_mode: str,
        growing: bool,
    ) -> tuple[Rollup, str] | None:
        """The file's rollup — cached, resumed from the cache or read whole and stored — and
        which it was; ``None`` when it cannot be cached (it holds records of another day)."""
        entry = self._entry(shape, day_file)
        try:
            stat = day_file.path.stat()
        except OSError:
            return None
        day_query = replace(
            query, range=TimeRange(day_file.start, day_file.start + DAY_SECONDS), audit=True
        )
        cached = _load(entry, query)
        part, offset = None, day_file.begin
        if cached is not None:
            part, offset, identity = cached
            if not _same_file(day_file, stat, offset, identity):
                part, offset = None, day_file.begin
        if part is not None and offset == stat.st_size:
            return part, "hit"
        if part is not None and day_file.compressed:
            part, offset = None, day_file.begin  # a gzip file cannot be resumed
        outcome = "miss" if part is None else "resumed"
        if part is None:
            part = Rollup.of(query)
        offset = scan_file(
            day_file,
            day_query,
            pricing,
            part,
            default_currency=default_currency,
            cost_mode=cost_mode,
            start=offset,
            complete_lines_only=growing,
        )
        if part.misplaced.count:
            return None
        if day_file.compressed:
            offset = stat.st_size
        self._store(entry, part, offset, _identity(day_file, stat, offset))
        return part, outcome

    def _store(self, entry: Path, part: Rollup, offset: int, identity: dict[str, Any]) -> None:
        self._write(
            entry,
            {"format": FORMAT, "offset": offset, "identity": identity, "rollup": part.state()},
        )

    def _write(self, entry: Path, doc: dict[str, Any]) -> None:
        try:
            data = orjson.dumps(doc)
            private_mkdir(entry.parent)
            # Not synced: after a crash, a torn entry is caught on load and rebuilt.
            write_atomic(entry, data, durable=False)
        except (OSError, DataError, TypeError) as exc:
            # A read-only data dir, a full disk, a cost too large for JSON: no cache, same answer.
            _debug("aiusage: rollup cache not written: %s", exc)


def _gone(entry: Path, present: set[str], now: float) -> bool:
    """Whether a file of a shape's directory will not be read again: a write killed midway,
    a range entry unused for two days, the entry of a day file that is gone."""
    if entry.name.startswith(".") and ".tmp-" in entry.name:
        return now - entry.stat().st_mtime > 3600
    if entry.name.startswith(RANGE_PREFIX):
        return now - entry.stat().st_mtime > 2 * TIDY_SECONDS
    return entry.suffix == ".json" and entry.name[:-5] not in present


RANGE_PREFIX = "range-"  # a range entry's name: this, a hash of its files' names, .json
MERGED_PERIODS = frozenset({"week", "month", "total"})  # periods whose days merge


def _closed_prefix(files: list[DayFile], query: Query) -> int:
    """How many of the first files are closed days wholly inside a query of calendar
    periods longer than a day: the run a range entry can hold."""
    if query.edges:  # windows that end now (stats) move with the clock: per file only
        return 0
    if query.period not in MERGED_PERIODS:
        # Days or hours stay apart in the rollup: one entry of them all would merge
        # nothing, only be parsed whole at once (a peak of memory) instead of day by day.
        return 0
    today = day_of(time.time())
    n = 0
    for day_file in files:
        if is_open(day_file, today) or not _inside(day_file, query.range):
            break
        n += 1
    return n


def _range_name(files: list[DayFile], time_range: TimeRange) -> str:
    """A range entry's name: its files and the query's range (a record stored in another
    day's file counts in one range and not in another of the same files)."""
    names = [time_range.since, time_range.until, *(f"{f.path.name}:{f.begin}" for f in files)]
    return f"{RANGE_PREFIX}{hashlib.sha256(orjson.dumps(names)).hexdigest()[:24]}.json"


def _identities(files: list[DayFile]) -> list[list[Any]] | None:
    """Each file's name, size and identity (see :func:`_identity`), or ``None`` when one
    cannot be read."""
    try:
        out = []
        for day_file in files:
            stat = day_file.path.stat()
            identity = _identity(day_file, stat, stat.st_size)
            out.append([day_file.path.name, stat.st_size, identity])
    except OSError:
        return None
    return out


def _load_range(entry: Path, query: Query, files: list[list[Any]]) -> Rollup | None:
    """A range entry's rollup, when its files are exactly ``files`` as they are now."""
    try:
        doc = orjson.loads(entry.read_bytes())
        if doc.get("format") != FORMAT or doc.get("files") != files:
            return None
        return Rollup.from_state(doc["rollup"], query)
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


def _cached_form(query: Query) -> Query:
    """The query whose per-file rollups are cached for ``query``: itself, or for a query of
    windows that end now (``stats``), the same query over one period (``total``), so that
    the entries do not depend on when it runs."""
    return replace(query, period="total", edges=()) if query.edges else query


def _cache_query(query: Query, day_file: DayFile) -> tuple[Query, int | None] | None:
    """How the file's rollup can come from the cache: the query to cache it under and, for a
    query of windows, the window the whole file lies in; ``None`` when it cannot (the file
    is not wholly inside the range, or straddles a window's start)."""
    if not query.edges:
        return (query, None) if _inside(day_file, query.range) else None
    edges = query.edges
    window = bisect_right(edges, day_file.start) - 1
    if window < 0:
        return None
    end = edges[window + 1] if window + 1 < len(edges) else query.range.until
    span = TimeRange(edges[window], end)
    if not _inside(day_file, span):
        return None
    return replace(_cached_form(query), range=span), window


def _as_window(part: Rollup, period: str, window: int) -> Rollup:
    """A file's one-period rollup as window ``window`` of a query of windows."""
    groups = {(window, *key[1:]): acc for key, acc in part.groups.items()}
    latency = {(window, *key[1:]): acc for key, acc in part.latency_groups.items()}
    return replace(part, period=period, groups=groups, latency_groups=latency)


def _inside(day_file: DayFile, time_range: TimeRange) -> bool:
    """Whether the file's whole UTC day lies in the range."""
    since, until = time_range.since, time_range.until
    return (since is None or since <= day_file.start) and (
        until is None or day_file.start + DAY_SECONDS <= until
    )


def _shape(query: Query, pricing: PricingTable, default_currency: str, cost_mode: str) -> str:
    """A fingerprint of everything besides the file that decides its rollup."""
    shape = {
        "v": [__version__, FORMAT],
        "dims": list(query.dims),
        "period": query.period,
        "tz": query.tz.key,
        "fields": {k: sorted(v) for k, v in sorted(query.filters.fields.items())},
        "tags": sorted(query.filters.tags.items()),
        "counters": query.counters,
        "latency": query.latency,
        "latency_by": query.latency_by,
        "cost": "current" if cost_mode == "current" else "recorded",
        "pricing": pricing.version,
        "currency": default_currency,
    }
    return hashlib.sha256(orjson.dumps(shape)).hexdigest()[:20]


def _tail_hash(path: Path, offset: int) -> str:
    with open(path, "rb") as fh:
        fh.seek(max(offset - TAIL, 0))
        return hashlib.sha256(fh.read(min(offset, TAIL))).hexdigest()


def _identity(day_file: DayFile, stat: os.stat_result, offset: int) -> dict[str, Any]:
    identity: dict[str, Any] = {"ino": stat.st_ino, "dev": stat.st_dev, "begin": day_file.begin}
    if day_file.compressed:
        identity.update(size=stat.st_size, mtime=stat.st_mtime_ns)
    else:
        identity["tail"] = _tail_hash(day_file.path, offset)
    return identity


def _same_file(
    day_file: DayFile, stat: os.stat_result, offset: int, identity: dict[str, Any]
) -> bool:
    """Whether the cached offset still describes the start of this file."""
    if (identity.get("ino"), identity.get("dev")) != (stat.st_ino, stat.st_dev):
        return False
    # An entry of a plain file read from its start is not one of it read after its held
    # prefix (a compaction left it beside its gzip), nor the other way round.
    if identity.get("begin", 0) != day_file.begin:
        return False
    if day_file.compressed:
        return (identity.get("size"), identity.get("mtime")) == (stat.st_size, stat.st_mtime_ns)
    return stat.st_size >= offset and identity.get("tail") == _tail_hash(day_file.path, offset)


def _load(entry: Path, query: Query) -> tuple[Rollup, int, dict[str, Any]] | None:
    """A cache entry, or ``None`` when it is missing, corrupt or from elsewhere."""
    try:
        doc = orjson.loads(entry.read_bytes())
        if doc.get("format") != FORMAT:
            return None
        part = Rollup.from_state(doc["rollup"], query)
        offset = doc["offset"]
        identity = doc["identity"]
        if type(offset) is not int or not isinstance(identity, dict):
            return None
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return part, offset, identity
