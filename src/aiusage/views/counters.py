"""Counters (seed 000, README: Analyses): named counts incremented with ``aiusage incr`` and summed
over a range, together with the keys derived from call records.

Derived keys: ``api.total_requests``, ``api.error_count``, ``llm.api_calls``,
``llm.tokens_used``, ``user.<id>.requests`` and ``feature.<function>.requests``. A counter
record with the same key as a derived one adds to it.
"""

from __future__ import annotations

from typing import Any

from aiusage.engine.rollup import Filters, Query
from aiusage.engine.timerange import TimeRange
from aiusage.views.document import Source, envelope, fold, not_counted, run_query


def derived_counters(per_group: dict[tuple[Any, ...], Any]) -> dict[str, int]:
    """The counter keys that call records imply, from a rollup folded by (user, function)."""
    out: dict[str, int] = {}

    def add(key: str, n: int) -> None:
        out[key] = out.get(key, 0) + n

    for (user, function), acc in per_group.items():
        add("api.total_requests", acc.requests)
        add("llm.api_calls", acc.requests)
        add("api.error_count", acc.requests - acc.successes)
        add("llm.tokens_used", acc.input + acc.output + acc.cache_read + acc.cache_write)
        if user is not None:
            add(f"user.{user}.requests", acc.requests)
        if function is not None:
            add(f"feature.{function}.requests", acc.requests)
    return out


def build_counters(
    source: Source,
    *,
    tz: Any,
    time_range: TimeRange,
    now: float,
    prefix: str | None = None,
    filters: Filters | None = None,
) -> dict[str, Any]:
    """The ``aiusage.counters/1`` document: every counter over the range, ``prefix``-filtered,
    from the records passing ``filters`` (a counter record has a key, a user and tags: a
    filter on any other field leaves only the derived counters)."""
    query = Query(
        ("user", "function"),
        "total",
        tz,
        time_range,
        filters or Filters(),
        counters=True,
        latency=False,
    )
    rollup = run_query(source, query)
    derived = derived_counters(fold(source, rollup, ("user", "function")))
    keys = sorted(set(derived) | set(rollup.counters))
    rows = [
        {
            "key": key,
            "value": derived.get(key, 0) + rollup.counters.get(key, 0),
            "counted": rollup.counters.get(key, 0),
            "derived": derived.get(key, 0),
        }
        for key in keys
        if prefix is None or key.startswith(prefix)
    ]
    doc = envelope("counters", time_range, tz, source.currency, now=now)
    doc.update({"prefix": prefix, "counters": rows, **not_counted(rollup)})
    return doc
