"""Prompt-cache analysis (seed 002): how much of the prompt came from the provider's cache,
what that saved against the plain input price, and which cache TTL each user's call pattern
suggests.

Savings use today's pricing table: ``cache_read × (input − cache_read price)`` saved, minus
``cache_write × (cache_write − input price)`` paid extra for writing; a model without a price
has no savings figure.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from aiusage.engine.intervals import TTL_CHOICES, summary
from aiusage.engine.rollup import Acc, Filters, Query
from aiusage.engine.timerange import TimeRange
from aiusage.errors import UsageError
from aiusage.views.document import Source, envelope, fold, metrics, not_counted, run_query

PER = 1_000_000


def _rates(source: Source, model: str) -> tuple[Fraction, Fraction] | None:
    """(saved per cache-read token, extra per cache-write token) in the report currency."""
    price = source.pricing.lookup(model)
    if price is None:
        return None
    rate = source.pricing.rate(price.currency, source.currency)
    read = price.input if price.cache_read is None else price.cache_read
    write = price.input if price.cache_write is None else price.cache_write
    return (
        Fraction(price.input - read) * rate / PER,
        Fraction(write - price.input) * rate / PER,
    )


def _cache_row(acc: Acc, rates: tuple[Fraction, Fraction] | None) -> dict[str, Any]:
    prompt = acc.input + acc.cache_read + acc.cache_write
    saved = premium = None
    if rates is not None:
        saved = float(acc.cache_read * rates[0])
        premium = float(acc.cache_write * rates[1])
    return {
        "requests": acc.requests,
        "cache_hit_requests": acc.cache_hits,
        "request_hit_rate": round(acc.cache_hits / acc.requests, 6) if acc.requests else None,
        "prompt_tokens": prompt,
        "input_tokens": acc.input,
        "cache_read_tokens": acc.cache_read,
        "cache_write_tokens": acc.cache_write,
        "hit_rate": round(acc.cache_read / prompt, 6) if prompt else None,
        "saved": saved,
        "write_premium": premium,
        "net_saved": None if saved is None or premium is None else saved - premium,
        "cost": metrics(acc)["cost"],
    }


def build_cache(
    source: Source, *, tz: Any, time_range: TimeRange, now: float, filters: Filters | None = None
) -> dict[str, Any]:
    """The ``aiusage.cache/1`` document: cache hit rates and savings per model and overall."""
    query = Query(("model",), "total", tz, time_range, filters or Filters(), latency=False)
    rollup = run_query(source, query)
    per_model = fold(source, rollup, ("model",))
    rows = []
    total = Acc()
    saved = premium = 0.0
    for (model,), acc in per_model.items():
        row = {"model": model, **_cache_row(acc, _rates(source, model))}
        rows.append(row)
        total.merge(acc)
        saved += row["saved"] or 0.0
        premium += row["write_premium"] or 0.0
    rows.sort(key=lambda r: (-(r["net_saved"] or 0), -r["cache_read_tokens"], r["model"]))
    overall = _cache_row(total, None)
    overall.update(saved=saved, write_premium=premium, net_saved=saved - premium)
    doc = envelope("cache", time_range, tz, source.currency, now=now)
    doc.update({"totals": overall, "rows": rows, **not_counted(rollup)})
    return doc


def build_intervals(
    source: Source,
    *,
    tz: Any,
    time_range: TimeRange,
    now: float,
    by: str = "user",
    filters: Filters | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """The ``aiusage.intervals/1`` document: per user (or key), the minutes between
    consecutive successful calls and the cache TTL they suggest."""
    if by not in ("user", "key"):
        raise UsageError(f"--by must be user or key, got {by!r}")
    query = Query((), "total", tz, time_range, filters or Filters(), intervals_by=by)
    rollup = run_query(source, query)
    rows = [
        {"user_id" if by == "user" else "api_key": who, **summary(iv)}
        for who, iv in rollup.intervals.items()
        if iv.calls >= 2
    ]
    rows.sort(key=lambda r: (-r["calls"], str(next(iter(r.values())))))
    ttl_counts = {f"{m}min": 0 for m in TTL_CHOICES}
    for row in rows:
        ttl_counts[f"{row['recommended_ttl_minutes']}min"] += 1
    doc = envelope("intervals", time_range, tz, source.currency, now=now)
    doc.update(
        {
            "by": by,
            "groups_total": len(rows),
            "single_call_groups": sum(1 for iv in rollup.intervals.values() if iv.calls < 2),
            "recommended_ttl_counts": ttl_counts,
            "rows": rows[:limit] if limit else rows,
            **not_counted(rollup),
        }
    )
    return doc
