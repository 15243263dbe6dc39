"""``aiusage stats``: how are we doing right now — the last minute, hour and 24 hours, the
current hour, today and this month (seeds 003 and 004), from one pass.

The windows all end now, so the pass buckets records by which window starts they are past
(:attr:`Query.edges`); a window's total is the sum of the buckets from its start on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiusage.engine.rollup import Acc, Filters, Query
from aiusage.engine.timerange import TimeRange, iso_local
from aiusage.views.document import Source, envelope, fold, metrics, not_counted, run_query

# Records stamped a little after now (clocks out of step) still count as now.
FUTURE_GRACE = 300.0
WINDOW_ORDER = ("last_1m", "last_1h", "last_24h", "this_hour", "today", "this_month")
BREAKDOWN_WINDOWS = ("this_hour", "today")


def window_starts(now: float, tz: Any) -> dict[str, float]:
    """When each window starts, for ``now`` in zone ``tz``."""
    local = dt.datetime.fromtimestamp(now, tz)
    hour = local.replace(minute=0, second=0, microsecond=0)
    day = dt.datetime(local.year, local.month, local.day, tzinfo=tz)
    month = dt.datetime(local.year, local.month, 1, tzinfo=tz)
    return {
        "last_1m": now - 60,
        "last_1h": now - 3600,
        "last_24h": now - 86400,
        "this_hour": hour.timestamp(),
        "today": day.timestamp(),
        "this_month": month.timestamp(),
    }


def _breakdown(groups: dict[str, Acc]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"name": name, **metrics(acc)} for name, acc in groups.items()]
    rows.sort(key=lambda r: (-r["cost"], -r["requests"], str(r["name"])))
    return rows


def build_stats(
    source: Source, *, tz: Any, now: float, filters: Filters | None = None
) -> dict[str, Any]:
    """The ``aiusage.stats/1`` document: metrics per window, and per model and per function
    for the current hour and today."""
    starts = window_starts(now, tz)
    edges = tuple(sorted(set(starts.values())))
    query = Query(
        dims=("model", "function"),
        period="window",
        tz=tz,
        range=TimeRange(edges[0], now + FUTURE_GRACE),
        filters=filters or Filters(),
        edges=edges,
    )
    rollup = run_query(source, query)
    folded = fold(source, rollup, ("model", "function"), period=True)
    windows: dict[str, Acc] = {name: Acc() for name in WINDOW_ORDER}
    by_model: dict[str, dict[str, Acc]] = {name: {} for name in BREAKDOWN_WINDOWS}
    by_function: dict[str, dict[str, Acc]] = {name: {} for name in BREAKDOWN_WINDOWS}
    for (edge, model, function), acc in folded.items():
        bucket_start = edges[edge]
        for name in WINDOW_ORDER:
            if bucket_start >= starts[name]:
                windows[name].merge(acc)
                if name in BREAKDOWN_WINDOWS:
                    by_model[name].setdefault(model, Acc()).merge(acc)
                    by_function[name].setdefault(function, Acc()).merge(acc)
    doc = envelope("stats", TimeRange(edges[0], now), tz, source.currency, now=now)
    doc.update(
        {
            "now": iso_local(now, tz),
            "windows": {
                name: {"since": iso_local(starts[name], tz), **metrics(windows[name])}
                for name in WINDOW_ORDER
            },
            "by_model": {name: _breakdown(by_model[name]) for name in BREAKDOWN_WINDOWS},
            "by_function": {name: _breakdown(by_function[name]) for name in BREAKDOWN_WINDOWS},
            **not_counted(rollup),
        }
    )
    return doc
