"""The one aggregator: a single streaming pass over the data files fills a :class:`Rollup`
grouped by period × the requested dimensions; every report, top list and export is a view of
it (:mod:`aiusage.views.report`).

A rollup's groups are keyed by ``(period_key, *dimension_values, currency)``; costs are summed
as integer picos (10⁻¹² of the record's currency) so sums never drift and rollups merge
exactly. Currency conversion and everything else per group happen after the pass.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from fractions import Fraction
from itertools import chain, compress, repeat
from typing import Any
from zoneinfo import ZoneInfo

from aiusage.engine.histogram import CANONICAL, Histogram, counts_of, merged, size
from aiusage.engine.histogram import sum_of as histogram_sum
from aiusage.engine.intervals import Intervals
from aiusage.engine.timerange import TimeRange
from aiusage.errors import UsageError
from aiusage.pricing.price import Price
from aiusage.pricing.table import PricingTable
from aiusage.records.skipped import Skipped

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


def group_by(values: Iterable[str]) -> tuple[str, ...]:
    """The dimensions of ``--by`` options, each one name or a comma-separated list
    (``--by user,model`` = ``--by user --by model``), in order, each once."""
    dims = [d.strip() for value in values for d in value.split(",") if d.strip()]
    for dim in dims:
        dimension_field(dim)  # an unknown name is a usage error here, not mid-pass
    return tuple(dict.fromkeys(dims))


def dimension_field(dim: str) -> str:
    """The output field name of a ``--by`` dimension (``user`` → ``user_id``)."""
    if dim.startswith("tag:") and len(dim) > 4:
        return dim
    try:
        return DIMENSIONS[dim]
    except KeyError:
        choices = ", ".join([*DIMENSIONS, "tag:NAME"])
        raise UsageError(f"unknown --by field {dim!r} (choose from {choices})") from None


_INTS = frozenset({int})
# How each field of :class:`Acc` is stored (its ``kind`` metadata; counts have none).
_HISTOGRAM: Mapping[str, str] = {"kind": "histogram"}
_TIME: Mapping[str, str] = {"kind": "time"}


def _dump_histogram(hist: Histogram) -> list[Any]:
    """A histogram as JSON data: a list of buckets as it is; counts as two lists, the
    buckets and their counts."""
    if isinstance(hist, list):
        return hist
    return [list(hist), list(hist.values())]


def _load_histogram(data: list[Any]) -> Histogram:
    """A histogram from :func:`_dump_histogram`'s data; ``ValueError`` if it is not one."""
    if type(data) is not list:
        raise ValueError("histogram of another layout")
    # Checked in one bulk pass (C speed); buckets become the shared int objects.
    if len(data) == 2 and type(data[0]) is list:
        keys, counts = data
        if type(counts) is not list or not _INTS.issuperset(map(type, chain(keys, counts))):
            raise ValueError("histogram of another layout")
        return dict(zip(map(CANONICAL.get, keys, keys), counts, strict=True))
    if not _INTS.issuperset(map(type, data)):
        raise ValueError("histogram of another layout")
    return list(map(CANONICAL.get, data, data))


@dataclass(slots=True, eq=False)
class Acc:
    """The metrics of one group, summed over its records (mergeable).

    The fields are the one declaration of what an accumulator holds: :meth:`dump` and
    :meth:`load` follow their order, and a stored rollup names them (:meth:`Rollup.state`),
    so adding or reordering one cannot shift another's value.
    """

    requests: int = 0
    successes: int = 0
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_hits: int = 0
    reasoning: int = 0
    # Integer picos while scanning; an exact Fraction once converted between currencies.
    cost: int | Fraction = 0
    # What was actually paid after account multipliers and free tiers (seed 002).
    actual: int | Fraction = 0
    unpriced: int = 0
    # Latency sums in integer microseconds: exact, so merged rollups equal one pass.
    dur_sum: int = 0
    dur_hist: Histogram = field(default_factory=list, metadata=_HISTOGRAM)
    ttfb_sum: int = 0
    ttfb_hist: Histogram = field(default_factory=list, metadata=_HISTOGRAM)
    # A time's default is its value while the group has no record (stored as null).
    first_ts: float = field(default=math.inf, metadata=_TIME)
    last_ts: float = field(default=-math.inf, metadata=_TIME)
    max_tokens: int = 0  # the biggest single call (all token kinds)

    @property
    def dur_n(self) -> int:
        """How many records had a duration (each is counted once in its histogram)."""
        return size(self.dur_hist)

    @property
    def ttfb_n(self) -> int:
        """How many records had a time to first byte."""
        return size(self.ttfb_hist)

    def merge(self, other: Acc, *, rate: Fraction | None = None, latency: bool = True) -> None:
        """Add ``other``'s metrics, its costs multiplied by ``rate`` (currency conversion);
        without ``latency``, all but the latency histograms (for views that show no
        percentiles: merging those is most of a merge's work)."""
        self.requests += other.requests
        self.successes += other.successes
        self.input += other.input
        self.output += other.output
        self.cache_read += other.cache_read
        self.cache_write += other.cache_write
        self.cache_hits += other.cache_hits
        self.reasoning += other.reasoning
        if rate is None:
            self.cost += other.cost
            self.actual += other.actual
        else:
            # Rational arithmetic is slow: the product is reused when both costs are equal
            # (no account multipliers).
            cost = other.cost * rate
            self.cost += cost
            self.actual += cost if other.actual == other.cost else other.actual * rate
        self.unpriced += other.unpriced
        if latency:
            self.merge_latency(other)
        self.first_ts = min(self.first_ts, other.first_ts)
        self.last_ts = max(self.last_ts, other.last_ts)
        self.max_tokens = max(self.max_tokens, other.max_tokens)

    @classmethod
    def sum_of(cls, accs: Sequence[Acc]) -> Acc:
        """One accumulator of all of ``accs`` (field by field: a loop in C per field, not a
        merge per accumulator)."""
        out = cls()
        for name in _SUMMED:
            setattr(out, name, sum(map(operator.attrgetter(name), accs)))
        for name in _HISTOGRAM_NAMES:
            setattr(out, name, histogram_sum(list(map(operator.attrgetter(name), accs))))
        out.first_ts = min(map(operator.attrgetter("first_ts"), accs), default=math.inf)
        out.last_ts = max(map(operator.attrgetter("last_ts"), accs), default=-math.inf)
        out.max_tokens = max(map(operator.attrgetter("max_tokens"), accs), default=0)
        return out

    def __reduce__(self) -> tuple[type[Acc], tuple[Any, ...]]:
        # Pickled as the constructor's arguments (a parallel scan's results cross a pipe):
        # half the bytes and time of the dict of slots a slotted dataclass pickles by default.
        return Acc, _fields_of(self)

    def copy(self, *, latency: bool = True, rate: Fraction | None = None) -> Acc:
        """A separate accumulator of the same sums (without ``latency``: no histograms),
        its costs multiplied by ``rate`` (currency conversion)."""
        twin = Acc()
        twin.merge(self, latency=latency)
        if rate is not None:  # set, not added to zero: one rational product, not three
            twin.cost = self.cost * rate
            twin.actual = twin.cost if self.actual == self.cost else self.actual * rate
        return twin

    def merge_latency(self, other: Acc) -> None:
        """Add ``other``'s latency sums and histograms only."""
        self.dur_sum += other.dur_sum
        self.dur_hist = merged(self.dur_hist, other.dur_hist)
        self.ttfb_sum += other.ttfb_sum
        self.ttfb_hist = merged(self.ttfb_hist, other.ttfb_hist)

    def dump(self) -> list[Any]:
        """Every field as JSON-ready data, in the order of :data:`ACC_FIELDS` (the names a
        stored rollup records once for all its rows, see :meth:`Rollup.state`)."""
        row = list(_fields_of(self))
        for i in _HISTOGRAMS_AT:
            row[i] = _dump_histogram(row[i])
        for i, empty in _TIMES_AT:
            if row[i] == empty:
                row[i] = None
        return row

    @classmethod
    def load(cls, row: list[Any]) -> Acc:
        """An accumulator from :meth:`dump`'s data; ``ValueError`` if it is not that."""
        if type(row) is not list or len(row) != len(ACC_FIELDS):
            raise ValueError("accumulator of another layout")
        # Checked in bulk (C speed): a foreign cache must not yield strings or floats here.
        if not _INTS.issuperset(map(type, _counts_in(row))):
            raise ValueError("accumulator of another layout")
        values = row.copy()
        for i in _HISTOGRAMS_AT:
            flat = values[i]
            # Empty for most groups of a rollup whose latency is kept apart (latency_by).
            values[i] = [] if flat == [] else _load_histogram(flat)
        for i, empty in _TIMES_AT:
            values[i] = empty if values[i] is None else float(values[i])
        return cls(*values)  # positional in declaration order, as ACC_FIELDS is

    def state(self) -> tuple[Any, ...]:
        """Every summed value, for equality checks."""
        return tuple(
            sorted(counts_of(value).items()) if kind == "histogram" else value
            for value, kind in zip(map(getattr, repeat(self), ACC_FIELDS), _KINDS, strict=True)
        )


# Acc's fields by name, and where each kind sits in a dumped row: all derived from the one
# declaration, so a field added or moved there moves here too (and stored rows, which carry
# the names, no longer match: they are rebuilt).
ACC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Acc))
_KINDS = [f.metadata.get("kind", "count") for f in fields(Acc)]
_HISTOGRAMS_AT = tuple(i for i, kind in enumerate(_KINDS) if kind == "histogram")
# Each time with its value while the group has no record (stored as null).
_TIMES_AT: tuple[tuple[int, float], ...] = tuple(
    (i, f.default)
    for i, f in enumerate(fields(Acc))
    if _KINDS[i] == "time" and isinstance(f.default, float)
)
_HISTOGRAM_NAMES = tuple(ACC_FIELDS[i] for i in _HISTOGRAMS_AT)
# The fields that add up (the others are histograms, extremes and times).
_SUMMED = tuple(
    name
    for name, kind in zip(ACC_FIELDS, _KINDS, strict=True)
    if kind == "count" and name != "max_tokens"
)
_fields_of = operator.attrgetter(*ACC_FIELDS)
_counts_in = operator.itemgetter(*(i for i, kind in enumerate(_KINDS) if kind == "count"))


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
    # Instead of calendar periods: bucket i holds [edges[i], edges[i+1]) (the last is open).
    edges: tuple[float, ...] = ()
    # Measure gaps between consecutive successful calls per value of this dimension.
    intervals_by: str | None = None
    # Also sum counter records (README: Analyses, counters) by key.
    counters: bool = False
    # Also note where records sit in the wrong day file (doctor).
    audit: bool = False
    # Latency percentiles wanted: without them the pass skips its costliest per-record work.
    latency: bool = True
    # The dimensions latency histograms are kept by, when not the groups' own (a subset of
    # ``dims``): top-users shows percentiles per user, not per user × model.
    latency_by: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for dim in self.dims:
            dimension_field(dim)
        if self.intervals_by is not None:
            dimension_field(self.intervals_by)
        if list(self.edges) != sorted(self.edges):
            raise ValueError("edges must be sorted")
        if self.latency_by is not None and not set(self.latency_by) <= set(self.dims):
            raise ValueError("latency_by must be some of the query's dims")


@dataclass
class Rollup:
    """Groups of summed metrics from one or more passes (merge with :meth:`merge`)."""

    dims: tuple[str, ...]
    period: str
    groups: dict[tuple[Any, ...], Acc] = field(default_factory=dict)
    skipped: Skipped = field(default_factory=Skipped)
    unpriced_models: Counter[str] = field(default_factory=Counter)
    records: int = 0
    counters: Counter[str] = field(default_factory=Counter)
    intervals: dict[str | None, Intervals] = field(default_factory=dict)
    # Records counted once although several data dirs hold them (same id, same day).
    duplicates: int = 0
    # Records whose UTC day is not their file's day (audit only).
    misplaced: Skipped = field(default_factory=Skipped)
    # With ``latency_by``: the latency sums and histograms, keyed by ``(period_key,
    # *latency_by values, currency)``; the groups then hold none.
    latency_by: tuple[str, ...] | None = None
    latency_groups: dict[tuple[Any, ...], Acc] = field(default_factory=dict)
    # The values of the group keys, each one object (see scan_file): not part of its state.
    key_values: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, query: Query) -> Rollup:
        """An empty rollup of ``query``."""
        return cls(query.dims, query.period, latency_by=query.latency_by)

    def merge(self, other: Rollup) -> None:
        """Add another rollup of the same query into this one. ``other`` is used up: its
        groups and intervals may become this rollup's own, so it must not be used after."""
        mine_query = (self.dims, self.period, self.latency_by)
        if (other.dims, other.period, other.latency_by) != mine_query:
            raise ValueError("cannot merge rollups of different queries")
        _merge_groups(self.groups, other.groups)
        _merge_groups(self.latency_groups, other.latency_groups)
        self.skipped.merge(other.skipped)
        self.unpriced_models.update(other.unpriced_models)
        self.records += other.records
        self.duplicates += other.duplicates
        self.counters.update(other.counters)
        self.misplaced.merge(other.misplaced)
        for value, later in other.intervals.items():
            mine_iv = self.intervals.get(value)
            if mine_iv is None:
                self.intervals[value] = later
            else:
                mine_iv.merge(later)

    def state(self) -> dict[str, Any]:
        """The rollup as JSON-ready data (groups, counts; not intervals or audit notes).
        Each group's values are named once for all groups, by ``fields``."""
        return {
            "fields": list(ACC_FIELDS),
            "groups": [[list(key), acc.dump()] for key, acc in self.groups.items()],
            "latency_groups": [[list(key), acc.dump()] for key, acc in self.latency_groups.items()],
            "skipped": {
                "count": self.skipped.count,
                "locations": [list(loc) for loc in self.skipped.locations],
            },
            "unpriced_models": dict(self.unpriced_models),
            "records": self.records,
            "counters": dict(self.counters),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], query: Query) -> Rollup:
        """A rollup of ``query`` from :meth:`state`'s data; ``ValueError`` if its groups
        name other fields, or the same in another order."""
        if tuple(state["fields"]) != ACC_FIELDS:
            raise ValueError("accumulators of another layout")
        rollup = cls.of(query)
        # Each value of the keys one object (as a pass makes them): parsed JSON has a new
        # string per key and value, and a month of entries holds the same few thousand.
        shared = rollup.key_values.setdefault
        for stored, values in state["groups"]:
            rollup.groups[tuple(map(shared, stored, stored))] = Acc.load(values)
        for key, values in state["latency_groups"]:
            rollup.latency_groups[tuple(key)] = Acc.load(values)
        skipped = state["skipped"]
        rollup.skipped = Skipped(
            int(skipped["count"]),
            [(str(f), int(n), str(r)) for f, n, r in skipped["locations"]],
        )
        rollup.unpriced_models = Counter(
            {str(k): int(v) for k, v in state["unpriced_models"].items()}
        )
        rollup.records = int(state["records"])
        rollup.counters = Counter({str(k): int(v) for k, v in state["counters"].items()})
        return rollup

    def _fold_latency_apart(
        self, keep: tuple[str, ...], *, currency: str, pricing: PricingTable, period: bool
    ) -> dict[tuple[Any, ...], Acc]:
        """:meth:`fold` of a rollup whose latency is kept by :attr:`latency_by`: the sums
        from the groups, the latency from the latency groups."""
        assert self.latency_by is not None
        if not set(keep) <= set(self.latency_by):
            raise ValueError(f"latency is kept by {self.latency_by}, not by {keep}")
        out = self.fold(keep, currency=currency, pricing=pricing, period=period, latency=False)
        own = {id(acc) for acc in self.groups.values()}  # shared by the fold: not changed
        apart = Rollup(self.latency_by, self.period, groups=self.latency_groups)
        for key, acc in apart.fold(keep, currency=currency, pricing=pricing, period=period).items():
            target = out.get(key)
            if target is None:
                target = out[key] = Acc()
            elif id(target) in own:
                target = out[key] = target.copy(latency=False)
            target.merge_latency(acc)
        return out

    def currencies(self) -> set[str]:
        """The currencies the summed costs are in."""
        return {key[-1] for key in self.groups}

    def total(self, *, currency: str, pricing: PricingTable) -> Acc:
        """All groups in one, costs in ``currency``: summed per currency first (integers),
        then converted once per currency, which is exactly the sum of the converted groups."""
        currencies = list(map(operator.itemgetter(-1), self.groups))
        accs = list(self.groups.values())
        out = Acc()
        for cur in dict.fromkeys(currencies):
            # This currency's groups, picked in C: a loop over every group costs more than
            # summing them.
            part = Acc.sum_of(list(compress(accs, map(operator.eq, currencies, repeat(cur)))))
            needs_rate = cur != currency and (part.cost or part.actual)
            out.merge(part, rate=pricing.rate(cur, currency) if needs_rate else None)
        if self.latency_groups:
            out.merge_latency(Acc.sum_of(list(self.latency_groups.values())))
        return out

    def fold(
        self,
        keep: Iterable[str],
        *,
        currency: str,
        pricing: PricingTable,
        period: bool = True,
        latency: bool = True,
    ) -> dict[tuple[Any, ...], Acc]:
        """Merge groups down to ``(period_key?, *keep)``, converting costs to ``currency``
        (without ``latency``: no latency histograms, see :meth:`Acc.merge`).

        A folded group made of one group in ``currency`` *is* that group's accumulator, not
        a copy (a report by all its dimensions copies nothing; without ``latency`` it may
        then hold histograms, which such views do not read): treat the result as read-only.
        With :attr:`latency_by`, ``keep`` must be some of those dims for latency.
        """
        keep = tuple(keep)
        if latency and self.latency_by is not None:
            return self._fold_latency_apart(keep, currency=currency, pricing=pricing, period=period)
        positions = [self.dims.index(d) + 1 for d in keep]
        if period:
            positions.insert(0, 0)
        pick = _key_picker(positions)
        rates = _Rates(pricing, currency)
        if len(positions) == len(self.dims) + 1:
            rekeyed = self._rekeyed(pick, rates, latency=latency)
            if rekeyed is not None:
                return rekeyed
        out: dict[tuple[Any, ...], Acc] = {}
        shared: set[int] = set()  # ids of the rollup's own accumulators placed in ``out``
        for key, acc in self.groups.items():
            rate = rates.of(key[-1], acc)
            folded = pick(key)
            target = out.get(folded)
            if target is None:
                if rate is None:  # without latency too: the views that ask read none
                    out[folded] = acc
                    shared.add(id(acc))
                else:
                    out[folded] = acc.copy(latency=latency, rate=rate)
                continue
            if id(target) in shared:  # a second group: the first one's own is not changed
                shared.discard(id(target))
                target = out[folded] = target.copy(latency=latency)
            target.merge(acc, rate=rate, latency=latency)
        return out

    def _rekeyed(
        self,
        pick: Callable[[tuple[Any, ...]], tuple[Any, ...]],
        rates: _Rates,
        *,
        latency: bool,
    ) -> dict[tuple[Any, ...], Acc] | None:
        """:meth:`fold` keeping the period and every dimension, when no two groups differ
        only by currency (else ``None``): each folded group is one group, re-keyed in one C
        pass (a report by all its dimensions folds hundreds of thousands of them), and
        converted where it is in another currency."""
        groups = self.groups
        out = dict(zip(map(pick, groups), groups.values(), strict=True))
        if len(out) < len(groups):
            return None
        for key in [key for key in groups if key[-1] != rates.currency]:
            acc = groups[key]
            rate = rates.of(key[-1], acc)
            if rate is not None:
                out[pick(key)] = acc.copy(latency=latency, rate=rate)
        return out


class _Rates:
    """The exchange rates a fold converts with, each looked up once."""

    def __init__(self, pricing: PricingTable, currency: str) -> None:
        self.pricing = pricing
        self.currency = currency
        self._rates: dict[str, Fraction] = {}

    def of(self, cur: str, acc: Acc) -> Fraction | None:
        """The rate converting ``acc``'s costs (in ``cur``) to the fold's currency, ``None``
        when there is nothing to convert."""
        if cur == self.currency or not (acc.cost or acc.actual):
            return None
        rate = self._rates.get(cur)
        if rate is None:
            # Exact (rational) conversion: totals are the same however rows are grouped.
            rate = self._rates[cur] = self.pricing.rate(cur, self.currency)
        return rate


def _merge_groups(groups: dict[tuple[Any, ...], Acc], more: dict[tuple[Any, ...], Acc]) -> None:
    """Add ``more``'s groups into ``groups`` (``more`` is used up, see :meth:`Rollup.merge`)."""
    for key, acc in more.items():
        mine = groups.get(key)
        if mine is None:
            groups[key] = acc  # taken over, not copied: merging halves peak memory
        else:
            mine.merge(acc)


Getter = Callable[[Any], Any]


def _key_picker(positions: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A function from a group key to the tuple of its values at ``positions``."""
    if len(positions) > 1:
        return operator.itemgetter(*positions)
    if positions:
        (only,) = positions
        return lambda key: (key[only],)
    return lambda key: ()


def _text(value: Any) -> str | None:
    """A dimension value as text (foreign files may hold numbers where strings belong)."""
    return value if value is None or type(value) is str else str(value)


def getter(name: str, price_of: Callable[[str], Price | None], *, rows: bool = False) -> Getter:
    """A function from a record to the value of field ``name`` (``tag:X`` for a tag).
    Records are dicts, or with ``rows`` the typed rows of :mod:`aiusage.engine.scan`."""
    if name.startswith("tag:"):
        tag = name[4:]
        if rows:
            return lambda rec: _text((rec.tags or {}).get(tag))
        return lambda rec: _text((rec.get("tags") or {}).get(tag))
    if name == "provider":
        return lambda rec: provider_of(rec, price_of, rows=rows)
    if rows:
        return operator.attrgetter(name)
    return lambda rec: _text(rec.get(name))


def provider_of(
    rec: Any, price_of: Callable[[str], Price | None], *, rows: bool = False
) -> str | None:
    """A record's provider, inferred from its price entry when the record has none."""
    provider = rec.provider if rows else rec.get("provider")
    if provider is None:
        model = rec.model if rows else rec.get("model")
        # A counter record names no model: nothing to infer a provider from.
        price = price_of(model) if isinstance(model, str) else None
        provider = price.provider if price is not None else None
    return provider if isinstance(provider, str) else None


def key_function(
    dims: tuple[str, ...], price_of: Callable[[str], Price | None], *, rows: bool = False
) -> Callable[[Any, Any, str], tuple[Any, ...]]:
    """A function ``(period_key, record, currency)`` → the record's group key. Plain fields
    of typed rows (the common case) get a specialised function: this runs once per record."""
    names = [dimension_field(dim) for dim in dims]
    plain = rows and all(not n.startswith("tag:") and n != "provider" for n in names)
    if not names:
        return lambda pk, rec, cur: (pk, cur)
    if plain and len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda pk, rec, cur: (pk, one(rec), cur)
    if plain:
        many = operator.attrgetter(*names)
        return lambda pk, rec, cur: (pk, *many(rec), cur)
    getters = [getter(n, price_of, rows=rows) for n in names]
    return lambda pk, rec, cur: (pk, *(get(rec) for get in getters), cur)


def plain_fields(dims: tuple[str, ...]) -> tuple[str, ...] | None:
    """The record fields of ``dims`` when each is a plain field of a typed row (not a tag,
    not the provider, which may be inferred): a pass reads those itself."""
    names = tuple(dimension_field(dim) for dim in dims)
    return None if any(n.startswith("tag:") or n == "provider" for n in names) else names


def filter_function(
    filters: Filters, price_of: Callable[[str], Price | None], *, rows: bool = False
) -> Callable[[Any], bool] | None:
    """A predicate keeping the records that pass ``filters``, or ``None`` without filters."""
    if not filters:
        return None
    wanted: list[tuple[Getter, frozenset[str]]] = [
        (getter(dimension_field(dim), price_of, rows=rows), allowed)
        for dim, allowed in filters.fields.items()
    ]
    wanted += [
        (getter(f"tag:{t}", price_of, rows=rows), frozenset({v})) for t, v in filters.tags.items()
    ]
    return lambda rec: all(_member(get(rec), allowed) for get, allowed in wanted)


def _member(value: Any, allowed: frozenset[str]) -> bool:
    """``value in allowed``, false for values that cannot be (lists in foreign files)."""
    try:
        return value in allowed
    except TypeError:
        return False
