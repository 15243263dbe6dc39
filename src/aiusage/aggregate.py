"""The one aggregator: a single streaming pass over the data files fills a :class:`Rollup`
grouped by period × the requested dimensions; every report, top list and export is a view of
it (:mod:`aiusage.report`).

A rollup's groups are keyed by ``(period_key, *dimension_values, currency)``; costs are summed
as integer picos (10⁻¹² of the record's currency) so sums never drift and rollups merge
exactly. Currency conversion and everything else per group happen after the pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from aiusage.errors import UsageError
from aiusage.histogram import bucket_of, merge_into
from aiusage.pricing import Price, PricingTable
from aiusage.records import check_read
from aiusage.store import DayFile, iter_lines
from aiusage.timerange import PeriodKeys, TimeRange

COST_SCALE = 10**12  # costs are summed as integer picos of their currency

# --by name → record field. ``tag:NAME`` groups by one tag.
DIMENSIONS: Mapping[str, str] = {
    "user": "user_id",
    "model": "model",
    "function": "function",
    "provider": "provider",
    "session": "session_id",
    "anchor": "anchor_id",
    "key": "api_key",
}


def dimension_field(dim: str) -> str:
    """The output field name of a ``--by`` dimension (``user`` → ``user_id``)."""
    if dim.startswith("tag:") and len(dim) > 4:
        return dim
    try:
        return DIMENSIONS[dim]
    except KeyError:
        choices = ", ".join([*DIMENSIONS, "tag:NAME"])
        raise UsageError(f"unknown --by field {dim!r} (choose from {choices})") from None


class Acc:
    """The metrics of one group, summed over its records (mergeable)."""

    __slots__ = (
        "cache_read",
        "cache_write",
        "cost",
        "dur_hist",
        "dur_n",
        "dur_sum",
        "input",
        "output",
        "reasoning",
        "requests",
        "successes",
        "ttfb_hist",
        "ttfb_n",
        "ttfb_sum",
        "unpriced",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.successes = 0
        self.input = 0
        self.output = 0
        self.cache_read = 0
        self.cache_write = 0
        self.reasoning = 0
        # Integer picos while scanning; an exact Fraction once converted between currencies.
        self.cost: int | Fraction = 0
        self.unpriced = 0
        self.dur_sum = 0.0
        self.dur_n = 0
        self.dur_hist: dict[int, int] = {}
        self.ttfb_sum = 0.0
        self.ttfb_n = 0
        self.ttfb_hist: dict[int, int] = {}

    def merge(self, other: Acc, *, cost: int | Fraction | None = None) -> None:
        """Add ``other``'s metrics (``cost`` replaces its cost, e.g. after conversion)."""
        self.requests += other.requests
        self.successes += other.successes
        self.input += other.input
        self.output += other.output
        self.cache_read += other.cache_read
        self.cache_write += other.cache_write
        self.reasoning += other.reasoning
        self.cost += other.cost if cost is None else cost
        self.unpriced += other.unpriced
        self.dur_sum += other.dur_sum
        self.dur_n += other.dur_n
        merge_into(self.dur_hist, other.dur_hist)
        self.ttfb_sum += other.ttfb_sum
        self.ttfb_n += other.ttfb_n
        merge_into(self.ttfb_hist, other.ttfb_hist)

    def state(self) -> tuple[Any, ...]:
        """Every summed value, for equality checks."""
        return tuple(
            sorted(getattr(self, s).items())
            if isinstance(getattr(self, s), dict)
            else getattr(self, s)
            for s in self.__slots__
        )


@dataclass(frozen=True)
class Filters:
    """Record filters: each field must take one of the given values; tags must all match."""

    fields: Mapping[str, frozenset[str]] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.fields or self.tags)


@dataclass(frozen=True)
class Query:
    """What one pass computes: the dimensions and period to group by, in which zone, over
    which range, for which records."""

    dims: tuple[str, ...]
    period: str
    tz: ZoneInfo
    range: TimeRange
    filters: Filters = Filters()

    def __post_init__(self) -> None:
        for dim in self.dims:
            dimension_field(dim)


@dataclass
class Skipped:
    """Lines that were not records: how many, and where the first was and why."""

    count: int = 0
    first: tuple[str, int, str] | None = None

    def add(self, path: str, lineno: int, reason: str) -> None:
        """Count one skipped line."""
        self.count += 1
        if self.first is None:
            self.first = (path, lineno, reason)

    def merge(self, other: Skipped) -> None:
        """Add another count (the earliest first location wins)."""
        self.count += other.count
        if self.first is None:
            self.first = other.first


@dataclass
class Rollup:
    """Groups of summed metrics from one or more passes (merge with :meth:`merge`)."""

    dims: tuple[str, ...]
    period: str
    groups: dict[tuple[Any, ...], Acc] = field(default_factory=dict)
    skipped: Skipped = field(default_factory=Skipped)
    unpriced_models: Counter[str] = field(default_factory=Counter)
    records: int = 0

    def merge(self, other: Rollup) -> None:
        """Add another rollup of the same query into this one."""
        if (other.dims, other.period) != (self.dims, self.period):
            raise ValueError("cannot merge rollups of different queries")
        for key, acc in other.groups.items():
            mine = self.groups.get(key)
            if mine is None:
                mine = self.groups[key] = Acc()
            mine.merge(acc)
        self.skipped.merge(other.skipped)
        self.unpriced_models.update(other.unpriced_models)
        self.records += other.records

    def currencies(self) -> set[str]:
        """The currencies the summed costs are in."""
        return {key[-1] for key in self.groups}

    def fold(
        self, keep: Iterable[str], *, currency: str, pricing: PricingTable, period: bool = True
    ) -> dict[tuple[Any, ...], Acc]:
        """Merge groups down to ``(period_key?, *keep)``, converting costs to ``currency``."""
        positions = [self.dims.index(d) + 1 for d in keep]
        if period:
            positions.insert(0, 0)
        out: dict[tuple[Any, ...], Acc] = {}
        rates: dict[str, Fraction] = {}
        for key, acc in self.groups.items():
            cur = key[-1]
            cost: int | Fraction = acc.cost
            if cur != currency and cost:
                # Exact (rational) conversion: totals are the same however rows are grouped.
                if cur not in rates:
                    rates[cur] = pricing.rate(cur, currency)
                cost = cost * rates[cur]
            folded = tuple(key[p] for p in positions)
            target = out.get(folded)
            if target is None:
                target = out[folded] = Acc()
            target.merge(acc, cost=cost)
        return out


Getter = Callable[[dict[str, Any]], Any]


def _text(value: Any) -> str | None:
    """A dimension value as text (foreign files may hold numbers where strings belong)."""
    return value if value is None or type(value) is str else str(value)


def _getter(name: str, price_of: Callable[[str], Price | None]) -> Getter:
    """A function from a record to the value of field ``name`` (``tag:X`` for a tag)."""
    if name.startswith("tag:"):
        tag = name[4:]

        def get_tag(rec: dict[str, Any]) -> str | None:
            return _text((rec.get("tags") or {}).get(tag))

        return get_tag
    if name == "provider":
        return lambda rec: provider_of(rec, price_of)

    def get_field(rec: dict[str, Any]) -> str | None:
        return _text(rec.get(name))

    return get_field


def provider_of(rec: Mapping[str, Any], price_of: Callable[[str], Price | None]) -> str | None:
    """A record's provider, inferred from its price entry when the record has none."""
    provider = rec.get("provider")
    if provider is None:
        price = price_of(rec["model"])
        provider = price.provider if price is not None else None
    return provider if isinstance(provider, str) else None


def _key_function(
    dims: tuple[str, ...], price_of: Callable[[str], Price | None]
) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A function from a record to its dimension values (in ``dims`` order)."""
    getters = [_getter(dimension_field(dim), price_of) for dim in dims]
    return lambda rec: tuple(get(rec) for get in getters)


def _filter_function(
    filters: Filters, price_of: Callable[[str], Price | None]
) -> Callable[[dict[str, Any]], bool] | None:
    """A predicate keeping the records that pass ``filters``, or ``None`` without filters."""
    if not filters:
        return None
    wanted: list[tuple[Getter, frozenset[str]]] = [
        (_getter(dimension_field(dim), price_of), allowed)
        for dim, allowed in filters.fields.items()
    ]
    wanted += [(_getter(f"tag:{t}", price_of), frozenset({v})) for t, v in filters.tags.items()]
    return lambda rec: all(get(rec) in allowed for get, allowed in wanted)


def scan(
    files: Iterable[DayFile],
    query: Query,
    pricing: PricingTable,
    *,
    default_currency: str,
) -> Rollup:
    """One pass over ``files``: every call record in ``query.range`` that passes the filters,
    summed into groups."""
    rollup = Rollup(query.dims, query.period)
    for day_file in files:
        scan_file(day_file.path, query, pricing, rollup, default_currency=default_currency)
    return rollup


def scan_file(
    path: Path,
    query: Query,
    pricing: PricingTable,
    rollup: Rollup,
    *,
    default_currency: str,
) -> None:
    """Add one data file's records to ``rollup`` (the per-record hot path)."""
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    groups = rollup.groups
    skipped = rollup.skipped
    period_key = PeriodKeys(query.period, query.tz).key
    since = query.range.since
    until = query.range.until
    price_of = pricing.lookup
    dim_values = _key_function(query.dims, price_of)
    keep = _filter_function(query.filters, price_of)
    unpriced_models = rollup.unpriced_models
    name = path.name
    count = 0
    lineno = 0
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
        if rec.get("kind", "call") != "call":
            continue
        ts = rec["timestamp"]
        if (since is not None and ts < since) or (until is not None and ts >= until):
            continue
        if keep is not None and not keep(rec):
            continue
        inp = rec.get("input_tokens") or 0
        out = rec.get("output_tokens") or 0
        cr = rec.get("cache_read_tokens") or 0
        cw = rec.get("cache_write_tokens") or 0
        cost = rec.get("cost")
        currency = rec.get("currency")
        unpriced = False
        if cost is None or currency is None:
            price = price_of(rec["model"])
            if cost is None:
                if price is None:
                    unpriced = True
                    unpriced_models[rec["model"]] += 1
                    cost_picos = 0
                else:
                    exact = price.cost(
                        input_tokens=inp,
                        output_tokens=out,
                        cache_read_tokens=cr,
                        cache_write_tokens=cw,
                    )
                    cost_picos = int((exact * COST_SCALE).to_integral_value())
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
        if rec.get("success", True) is not False:
            acc.successes += 1
        acc.input += inp
        acc.output += out
        acc.cache_read += cr
        acc.cache_write += cw
        acc.reasoning += rec.get("reasoning_tokens") or 0
        acc.cost += cost_picos
        if unpriced:
            acc.unpriced += 1
        dur = rec.get("duration_ms")
        if dur is not None:
            acc.dur_sum += dur
            acc.dur_n += 1
            hist = acc.dur_hist
            b = bucket_of(dur)
            hist[b] = hist.get(b, 0) + 1
        ttfb = rec.get("ttfb_ms")
        if ttfb is not None:
            acc.ttfb_sum += ttfb
            acc.ttfb_n += 1
            hist = acc.ttfb_hist
            b = bucket_of(ttfb)
            hist[b] = hist.get(b, 0) + 1
        count += 1
    rollup.records += count
