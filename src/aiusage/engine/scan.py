"""The pass: streams the data files of a query's range, record by record, into a
:class:`~aiusage.engine.rollup.Rollup`. This is the per-record hot path; everything per group
happens after it (:meth:`Rollup.fold` and the views).
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import os
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiusage.engine.histogram import (
    BUCKET_AT,
    LOG_GAMMA,
    MIN_VALUE,
    SAMPLES,
    ZERO_BUCKET,
    counts_of,
)
from aiusage.engine.intervals import Intervals
from aiusage.engine.rollup import (
    COST_SCALE,
    Acc,
    Query,
    Rollup,
    dimension_field,
    filter_function,
    getter,
    key_function,
    plain_fields,
)
from aiusage.engine.timerange import SLOT_SECONDS, PeriodKeys
from aiusage.pricing.modes import parse_cost_mode
from aiusage.pricing.table import PricingTable
from aiusage.store.dayfiles import DayFile, day_of, is_open
from aiusage.store.gc_pause import gc_paused
from aiusage.store.processes import map_in_processes

Progress = Callable[[int, int], None]


def period_function(query: Query) -> tuple[dict[int, Any], Callable[[float], object]]:
    """``(known, key)``: ``key`` maps a timestamp to its bucket — a calendar period key, or
    the index of the window in ``query.edges`` —, and ``known`` maps 15-minute slots
    (``int(ts // SLOT_SECONDS)``) whose bucket ``key`` has found whole to that bucket. The
    pass looks in ``known`` first: a lookup instead of a call, once per record."""
    if query.edges:
        edges = query.edges
        return {}, lambda ts: bisect_right(edges, ts) - 1
    keys = PeriodKeys(query.period, query.tz)
    return keys.known_slots, keys.key


def fields_read(query: Query, *, accounts: bool = False, dedupe: bool = False) -> frozenset[str]:
    """The :class:`~aiusage.records.reader.Row` fields a pass of ``query`` reads, beyond
    :data:`~aiusage.records.reader.READ_ALWAYS`: the grouped, filtered and interval
    dimensions (``tags`` for a tag), ``user_id`` and ``api_key`` for account multipliers,
    ``id`` when deduplicating, counter fields."""
    names = {dimension_field(d) for d in (*query.dims, *query.filters.fields)}
    if query.intervals_by:
        names.add(dimension_field(query.intervals_by))
    fields = {"tags" if n.startswith("tag:") else n for n in names}
    if query.filters.tags:
        fields.add("tags")
    if accounts:
        fields |= {"user_id", "api_key"}
    if dedupe:
        fields.add("id")
    if query.counters:
        fields |= {"key", "n"}
    return frozenset(fields)


def scan(
    files: Iterable[DayFile],
    query: Query,
    pricing: PricingTable,
    *,
    default_currency: str,
    cost_mode: str = "recorded",
    progress: Progress | None = None,
) -> Rollup:
    """One pass over ``files``: every call record in ``query.range`` that passes the filters,
    summed into groups (and counters, intervals, audit notes when the query asks).

    ``cost_mode``: ``recorded`` (or ``auto``) sums the cost stored in each record and prices
    only records that have none; ``current`` re-prices every record with ``pricing``.

    A scan of :data:`PARALLEL_BYTES` or more is split into runs of about equal size, one per
    core, that are scanned in parallel and merged in order (rollups merge exactly).
    """
    files = list(files)
    try:
        workers = workers_for(sum(map(file_size, files)))
    except OSError:
        workers = 1  # a file gone since it was listed: scan_file says so
    if workers < 2:
        segments: list[Segment] = [(f, f.begin, None) for f in files]
        return _scan_segments((segments, query, pricing, default_currency, cost_mode), progress)
    # Request intervals are measured per file in time order: their files stay whole.
    plan = plan_segments(files, workers, cut_files=query.intervals_by is None)
    parts = map_in_processes(
        _scan_segments, [(run, query, pricing, default_currency, cost_mode) for run in plan]
    )
    rollup = Rollup.of(query)
    with gc_paused():
        for part in parts:
            rollup.merge(part)
    return rollup


# A piece of a scan: a data file from byte ``start`` up to byte ``end`` (``None``: its end).
Segment = tuple[DayFile, int, int | None]

# Below this many bytes (about 9,000 records), a second process costs more than it saves.
PARALLEL_BYTES = 4 << 20


def workers_for(size: int) -> int:
    """How many processes to read ``size`` bytes with: one per core (at most 8), from
    :data:`PARALLEL_BYTES` (``AIUSAGE_PROCESSES`` overrides the core count)."""
    wanted = os.environ.get("AIUSAGE_PROCESSES", "")
    cores = int(wanted) if wanted.isdigit() else (os.cpu_count() or 1)
    return 1 if cores < 2 or size < PARALLEL_BYTES else min(cores, 8)


def file_size(day_file: DayFile) -> int:
    """The bytes of a file to read (from its begin), or for gzip an estimate of its data's
    (JSON lines compress about 8×)."""
    size = day_file.path.stat().st_size
    return size * 8 if day_file.compressed else size - day_file.begin


def plan_segments(
    files: list[DayFile], workers: int, *, cut_files: bool, weights: list[int] | None = None
) -> list[list[Segment]]:
    """The files in at most ``workers`` contiguous runs of about equal work, in order. The
    work of a file is its size, or its given weight (then it is never cut); plain files may
    be cut at a line start when ``cut_files``, gzip files never are."""
    sizes = [file_size(f) for f in files] if weights is None else weights
    target = sum(sizes) / workers
    plan: list[list[Segment]] = [[]]
    room = target
    for day_file, work in zip(files, sizes, strict=True):
        start = day_file.begin
        size = start + work  # positions in the file, from its begin
        while True:
            if room <= 0 and len(plan) < workers:
                plan.append([])
                room = target
            rest = size - start
            whole = (
                day_file.compressed or not cut_files or weights is not None or len(plan) == workers
            )
            pos = start + max(int(room), 1)
            cut = size if whole or rest <= room else _line_start(day_file.path, pos)
            if cut >= size:
                plan[-1].append((day_file, start, None))
                room -= rest
                break
            plan[-1].append((day_file, start, cut))
            room -= cut - start
            start = cut
    return [run for run in plan if run]


def _line_start(path: Path, pos: int) -> int:
    """The first line start after byte ``pos - 1`` of a plain file (its size when none)."""
    with open(path, "rb") as fh:
        fh.seek(pos - 1)
        return pos - 1 + len(fh.readline())


def _scan_segments(
    job: tuple[list[Segment], Query, PricingTable, str, str], progress: Progress | None = None
) -> Rollup:
    """One rollup of a run of segments (a process's share of a parallel scan)."""
    segments, query, pricing, default_currency, cost_mode = job
    rollup = Rollup.of(query)
    today = day_of(time.time())
    # A pass makes no reference cycles: the collector's passes would find nothing to free.
    with gc_paused():
        for done, (day_file, start, end) in enumerate(segments, 1):
            scan_file(
                day_file,
                query,
                pricing,
                rollup,
                default_currency=default_currency,
                cost_mode=cost_mode,
                start=start,
                end=end,
                complete_lines_only=end is None and is_open(day_file, today),
            )
            if progress is not None:
                progress(done, len(segments))
    return rollup


def scan_merged(
    files: Iterable[DayFile],
    query: Query,
    pricing: PricingTable,
    *,
    default_currency: str,
    cost_mode: str = "recorded",
    progress: Progress | None = None,
) -> Rollup:
    """Like :func:`scan`, for the files of several data dirs (app servers that each wrote
    their own): records with an ``id`` seen before on the same day are counted once. Memory
    for the ids is one day's worth."""
    rollup = Rollup.of(query)
    today = day_of(time.time())
    seen: set[Any] = set()
    current: dt.date | None = None
    ordered = sorted(files, key=lambda f: (f.day, not f.compressed))
    for done, day_file in enumerate(ordered, 1):
        if day_file.day != current:
            seen, current = set(), day_file.day
        scan_file(
            day_file,
            query,
            pricing,
            rollup,
            default_currency=default_currency,
            cost_mode=cost_mode,
            complete_lines_only=is_open(day_file, today),
            seen=seen,
        )
        if progress is not None:
            progress(done, len(ordered))
    return rollup


# The per-record loop of every report: one function, its cases inlined, because a call per
# record costs more than the work (measured: 16% on a plain report).
def scan_file(  # noqa: C901, PLR0912, PLR0915
    day_file: DayFile,
    query: Query,
    pricing: PricingTable,
    rollup: Rollup,
    *,
    default_currency: str,
    cost_mode: str = "recorded",
    start: int | None = None,
    end: int | None = None,
    complete_lines_only: bool = False,
    seen: set[Any] | None = None,
) -> int:
    """Add one data file's records to ``rollup`` (see :func:`scan`), from byte ``start``
    (default: its begin) up to byte ``end`` (plain files; both at line starts). With
    ``complete_lines_only``, a last line without its newline is left for later (a writer may be
    in the middle of it). With ``seen``, a record whose ``id`` is already in it is a duplicate
    (the same day merged from several data dirs) and is counted once. Returns the offset read up
    to.
    """
    # Here, not at the top: a report with no day file to read needs no reader, nor the
    # structs of a record's cost (nor msgspec).
    from aiusage.pricing.cost import TokenCounts, cost_of_record
    from aiusage.records.reader import DayReader

    mode = parse_cost_mode(cost_mode)
    reprice = mode == "current"
    factor_of = pricing.account_factor if pricing.has_accounts else None
    ceil, log = math.ceil, math.log
    buckets, samples = BUCKET_AT, SAMPLES
    slot_seconds = SLOT_SECONDS
    latency = query.latency
    groups = rollup.groups
    known_slots, period_key = period_function(query)
    known_slot = known_slots.get
    since = -math.inf if query.range.since is None else query.range.since
    until = math.inf if query.range.until is None else query.range.until
    price_of = pricing.lookup
    make_key = key_function(query.dims, price_of, rows=True)
    # The key of plain fields, built in the loop (a call per record costs more than it):
    # from one field, or from a tuple of several.
    plain = plain_fields(query.dims)
    one = operator.attrgetter(plain[0]) if plain is not None and len(plain) == 1 else None
    many = operator.attrgetter(*plain) if plain is not None and len(plain) > 1 else None
    # Latency kept apart, by fewer dimensions (see Query.latency_by): a second key a record.
    latency_groups = rollup.latency_groups if query.latency_by is not None else None
    latency_key = key_function(query.latency_by or (), price_of, rows=True)
    keep = filter_function(query.filters, price_of, rows=True)
    unpriced_models = rollup.unpriced_models
    counters = rollup.counters if query.counters else None
    call_times: dict[str, list[float]] = {}
    interval_of = (
        getter(dimension_field(query.intervals_by), price_of, rows=True)
        if query.intervals_by
        else None
    )
    shared = rollup.key_values.setdefault
    count = 0
    with DayReader(
        day_file,
        rollup.skipped,
        fields=fields_read(query, accounts=factor_of is not None, dedupe=seen is not None),
        start=start,
        end=end,
        complete_lines_only=complete_lines_only,
        misplaced=rollup.misplaced if query.audit else None,
    ) as reader:
        for rec in reader:
            try:
                ts = rec.timestamp
                kind = rec.kind
                model = rec.model
                # An id a foreign file wrote as a list or an object is no id (it cannot be hashed).
                if seen is not None and isinstance(rec.id, str | int | float):
                    if rec.id in seen:
                        rollup.duplicates += 1
                        continue
                    seen.add(rec.id)
                if ts < since or ts >= until:
                    continue
                if kind != "call":
                    # Counter records (a key, a user, tags) are filtered like calls.
                    if counters is not None and kind == "counter" and (keep is None or keep(rec)):
                        counter_key = rec.key
                        n = rec.n
                        if type(counter_key) is str and type(n) is int:
                            counters[counter_key] += n
                    continue
                if keep is not None and not keep(rec):
                    continue
                cost = rec.cost
                currency = rec.currency
                unpriced = False
                if cost is not None and currency is not None and not reprice:
                    # cost_of_record's first case, inlined: a recorded cost in a recorded currency
                    # stands. Most records are that, and calling it for each of them makes the
                    # pass ~15% slower.
                    cost_picos = round(cost * COST_SCALE)
                else:
                    charge = cost_of_record(
                        price_of(model),
                        TokenCounts(
                            rec.input_tokens or 0,
                            rec.output_tokens or 0,
                            rec.cache_read_tokens or 0,
                            rec.cache_write_tokens or 0,
                            rec.cache_write_1h_tokens or 0,
                            rec.reasoning_tokens or 0,
                        ),
                        cost=cost,
                        currency=currency,
                        success=rec.success,
                        batch=rec.service_tier == "batch",
                        mode=mode,
                        default_currency=default_currency,
                    )
                    currency = charge.currency
                    if charge.picos is None:
                        unpriced = True
                        unpriced_models[model] += 1
                        cost_picos = 0
                    else:
                        cost_picos = charge.picos
                # ts ≥ 0 (the reader's bound): its whole seconds' slot is its slot.
                pk = known_slot(int(ts) // slot_seconds)
                if pk is None:
                    pk = period_key(ts)
                if many is not None:
                    key = (pk, *many(rec), currency)
                elif one is not None:
                    key = (pk, one(rec), currency)
                else:
                    key = make_key(pk, rec, currency)
                try:
                    acc = groups.get(key)
                except TypeError:  # a foreign file's list or object where a name belongs
                    key = hashable(key)
                    acc = groups.get(key)
                if acc is None:
                    # A new group's values as the objects of groups before it: each value
                    # held (and sent between processes) once, not once per group.
                    key = tuple(map(shared, key, key))
                    acc = groups[key] = Acc()
                acc.requests += 1
                success = rec.success
                if success:
                    acc.successes += 1
                inp = rec.input_tokens
                if inp:
                    acc.input += inp
                out = rec.output_tokens
                if out:
                    acc.output += out
                cr = rec.cache_read_tokens
                if cr:
                    acc.cache_read += cr
                    acc.cache_hits += 1
                cw = rec.cache_write_tokens
                if cw:
                    acc.cache_write += cw
                rs = rec.reasoning_tokens
                if rs:
                    acc.reasoning += rs
                size = (inp or 0) + (out or 0) + (cr or 0) + (cw or 0)
                if size > acc.max_tokens:
                    acc.max_tokens = size
                acc.cost += cost_picos
                if factor_of is None:
                    acc.actual += cost_picos
                else:
                    factor = factor_of(rec.user_id, rec.api_key)
                    acc.actual += cost_picos if factor is None else round(cost_picos * factor)
                if unpriced:
                    acc.unpriced += 1
                if ts < acc.first_ts:
                    acc.first_ts = ts
                if ts > acc.last_ts:
                    acc.last_ts = ts
                if latency:
                    if latency_groups is not None:
                        lkey = latency_key(pk, rec, currency)
                        try:
                            held = latency_groups.get(lkey)
                        except TypeError:
                            lkey = hashable(lkey)
                            held = latency_groups.get(lkey)
                        if held is None:
                            held = latency_groups[lkey] = Acc()
                    else:
                        held = acc
                    dur = rec.duration_ms
                    if dur is not None:
                        held.dur_sum += round(dur * 1000)
                        # histogram.bucket_of, inlined: this runs twice per record.
                        b = buckets[ceil(log(dur) / LOG_GAMMA)] if dur > MIN_VALUE else ZERO_BUCKET
                        hist = held.dur_hist
                        # A few values' buckets listed, more counted (histogram.SAMPLES).
                        if isinstance(hist, list):
                            hist.append(b)
                            if len(hist) > samples:
                                held.dur_hist = counts_of(hist)
                        else:
                            hist[b] = hist.get(b, 0) + 1
                    ttfb = rec.ttfb_ms
                    if ttfb is not None:
                        held.ttfb_sum += round(ttfb * 1000)
                        b = (
                            buckets[ceil(log(ttfb) / LOG_GAMMA)]
                            if ttfb > MIN_VALUE
                            else ZERO_BUCKET
                        )
                        hist = held.ttfb_hist
                        if isinstance(hist, list):
                            hist.append(b)
                            if len(hist) > samples:
                                held.ttfb_hist = counts_of(hist)
                        else:
                            hist[b] = hist.get(b, 0) + 1
                if interval_of is not None and success:
                    who = interval_of(rec)
                    if who is not None and not isinstance(who, str | int | float):
                        who = str(who)
                    if who is not None:
                        times = call_times.get(who)
                        if times is None:
                            call_times[who] = [ts]
                        else:
                            times.append(ts)
                count += 1
            except Exception as exc:
                # Nothing known raises here (the reader checked the bounds): should something
                # still, the line is skipped and said, and the report carries on.
                reader.skip_last(f"cannot be summed ({type(exc).__name__}: {exc})")
    rollup.records += count
    _add_intervals(rollup.intervals, call_times)
    return reader.offset


def hashable(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """A group key with each value a foreign file wrote as a list or an object as its text."""
    return tuple(v if v is None or isinstance(v, str | int | float) else str(v) for v in key)


def _add_intervals(
    intervals: dict[str | None, Intervals], call_times: dict[str, list[float]]
) -> None:
    """Feed one file's call times, sorted, into the running gap statistics: lines within a
    day file may be slightly out of order (concurrent writers), days are in order."""
    for who, times in call_times.items():
        times.sort()
        iv = intervals.get(who)
        rest = times
        if iv is None:
            iv = intervals[who] = Intervals(first=times[0], last=times[0])
            rest = times[1:]
        for ts in rest:
            iv.add(ts)
