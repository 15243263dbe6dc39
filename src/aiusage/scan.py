"""The pass: streams the data files of a query's range, record by record, into a
:class:`~aiusage.aggregate.Rollup`. This is the per-record hot path; everything per group
happens after it (:meth:`Rollup.fold` and the views).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from aiusage.aggregate import (
    COST_SCALE,
    Acc,
    Query,
    Rollup,
    dimension_field,
    filter_function,
    getter,
    key_function,
)
from aiusage.errors import UsageError
from aiusage.histogram import bucket_of
from aiusage.intervals import Intervals
from aiusage.prices import Price
from aiusage.pricing import PricingTable
from aiusage.records import check_read
from aiusage.store import DAY_SECONDS, DayFile, iter_lines
from aiusage.timerange import PeriodKeys

COST_MODES = ("recorded", "auto", "current")


def price_picos(price: Price, rec: dict[str, Any]) -> int:
    """The cost of a record at today's price, in picos of the price's currency."""
    return int((price.cost_of(rec) * COST_SCALE).to_integral_value())


def period_function(query: Query) -> Callable[[float], object]:
    """The function from a timestamp to its bucket: a calendar period key, or the index of
    the window in ``query.edges``."""
    if query.edges:
        edges = query.edges
        return lambda ts: bisect_right(edges, ts) - 1
    return PeriodKeys(query.period, query.tz).key


def scan(
    files: Iterable[DayFile],
    query: Query,
    pricing: PricingTable,
    *,
    default_currency: str,
    cost_mode: str = "recorded",
) -> Rollup:
    """One pass over ``files``: every call record in ``query.range`` that passes the filters,
    summed into groups (and counters, intervals, audit notes when the query asks).

    ``cost_mode``: ``recorded`` (or ``auto``) sums the cost stored in each record and prices
    only records that have none; ``current`` re-prices every record with ``pricing``.
    """
    rollup = Rollup(query.dims, query.period)
    for day_file in files:
        scan_file(
            day_file, query, pricing, rollup, default_currency=default_currency, cost_mode=cost_mode
        )
    return rollup


def scan_file(
    day_file: DayFile,
    query: Query,
    pricing: PricingTable,
    rollup: Rollup,
    *,
    default_currency: str,
    cost_mode: str = "recorded",
) -> None:
    """Add one data file's records to ``rollup`` (see :func:`scan`)."""
    if cost_mode not in COST_MODES:
        raise UsageError(f"unknown --cost {cost_mode!r} (choose from {', '.join(COST_MODES)})")
    reprice = cost_mode == "current"
    factor_of = pricing.account_factor if pricing.has_accounts else None
    path: Path = day_file.path
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    groups = rollup.groups
    skipped = rollup.skipped
    period_key = period_function(query)
    since = query.range.since
    until = query.range.until
    price_of = pricing.lookup
    dim_values = key_function(query.dims, price_of)
    keep = filter_function(query.filters, price_of)
    unpriced_models = rollup.unpriced_models
    counters = rollup.counters if query.counters else None
    call_times: dict[str, list[float]] = {}
    interval_of = (
        getter(dimension_field(query.intervals_by), price_of) if query.intervals_by else None
    )
    day_start = day_file.start
    misplaced = rollup.misplaced if query.audit else None
    name = path.name
    count = 0
    for lineno, line in enumerate(iter_lines(path), 1):
        if not line.strip():
            continue
        try:
            rec = loads(line)
        except decode_error:
            torn = not line.endswith(b"\n")
            skipped.add(name, lineno, "torn last line (incomplete write)" if torn else "bad JSON")
            continue
        reason = check_read(rec)
        if reason is not None:
            skipped.add(name, lineno, reason)
            continue
        ts = rec["timestamp"]
        if misplaced is not None and not day_start <= ts < day_start + DAY_SECONDS:
            misplaced.add(name, lineno, f"timestamp {ts} is not on {day_file.day}")
        if (since is not None and ts < since) or (until is not None and ts >= until):
            continue
        if rec.get("kind", "call") != "call":
            if (
                counters is not None
                and rec.get("kind") == "counter"
                and isinstance(rec.get("key"), str)
            ):
                n = rec.get("n", 1)
                if isinstance(n, int) and not isinstance(n, bool):
                    counters[rec["key"]] += n
            continue
        if keep is not None and not keep(rec):
            continue
        inp = rec.get("input_tokens") or 0
        out = rec.get("output_tokens") or 0
        cr = rec.get("cache_read_tokens") or 0
        cw = rec.get("cache_write_tokens") or 0
        cost = None if reprice else rec.get("cost")
        currency = rec.get("currency")
        unpriced = False
        if cost is None or currency is None:
            price = price_of(rec["model"])
            if cost is None:
                if price is not None:
                    cost_picos = price_picos(price, rec)
                    currency = price.currency
                elif reprice and rec.get("cost") is not None:
                    # Today's table does not know the model: keep what was recorded.
                    cost_picos = round(rec["cost"] * COST_SCALE)
                else:
                    unpriced = True
                    unpriced_models[rec["model"]] += 1
                    cost_picos = 0
            else:
                cost_picos = round(cost * COST_SCALE)
            if currency is None:
                currency = price.currency if price is not None else default_currency
        else:
            cost_picos = round(cost * COST_SCALE)
        key = (period_key(ts), *dim_values(rec), currency)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = Acc()
        acc.requests += 1
        success = rec.get("success", True) is not False
        if success:
            acc.successes += 1
        acc.input += inp
        acc.output += out
        acc.cache_read += cr
        acc.cache_write += cw
        if cr:
            acc.cache_hits += 1
        acc.reasoning += rec.get("reasoning_tokens") or 0
        acc.cost += cost_picos
        if factor_of is None:
            acc.actual += cost_picos
        else:
            factor = factor_of(rec.get("user_id"), rec.get("api_key"))
            acc.actual += cost_picos if factor is None else round(cost_picos * factor)
        if unpriced:
            acc.unpriced += 1
        acc.first_ts = min(acc.first_ts, ts)
        acc.last_ts = max(acc.last_ts, ts)
        dur = rec.get("duration_ms")
        if dur is not None:
            acc.dur_sum += round(dur * 1000)
            acc.dur_n += 1
            hist = acc.dur_hist
            b = bucket_of(dur)
            hist[b] = hist.get(b, 0) + 1
        ttfb = rec.get("ttfb_ms")
        if ttfb is not None:
            acc.ttfb_sum += round(ttfb * 1000)
            acc.ttfb_n += 1
            hist = acc.ttfb_hist
            b = bucket_of(ttfb)
            hist[b] = hist.get(b, 0) + 1
        if interval_of is not None and success:
            who = interval_of(rec)
            if who is not None:
                times = call_times.get(who)
                if times is None:
                    call_times[who] = [ts]
                else:
                    times.append(ts)
        count += 1
    rollup.records += count
    _add_intervals(rollup.intervals, call_times)


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
