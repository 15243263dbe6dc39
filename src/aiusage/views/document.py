"""What every view shares: the envelope of README: Machine output, the metrics of a group, and
the one way to run a query (:func:`run_query`, a pass of :mod:`aiusage.engine.scan`)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from operator import add, attrgetter, sub
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast
from zoneinfo import ZoneInfo

from aiusage.engine.histogram import Histogram, bucket_value, ranker, size
from aiusage.engine.rollup import COST_SCALE, Acc, Filters, Query, Rollup, dimension_field
from aiusage.engine.scan import scan
from aiusage.engine.timerange import TimeRange, iso_local, iso_utc
from aiusage.pricing.table import PricingTable
from aiusage.records.skipped import Skipped
from aiusage.store.dayfiles import DayFile, files_between

METRICS = (
    "requests",
    "successes",
    "failures",
    "success_rate",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost",
    "avg_duration_ms",
    "p50_duration_ms",
    "p95_duration_ms",
    "p99_duration_ms",
    "avg_ttfb_ms",
    "p50_ttfb_ms",
    "p95_ttfb_ms",
    "p99_ttfb_ms",
    "unpriced_requests",
    "priced_coverage",
    "actual_cost",
)


class Metrics(TypedDict):
    """The metrics of one group (see :func:`metrics`): every row and total of the report,
    top-users and models documents carries them, under these keys."""

    requests: int
    successes: int
    failures: int
    success_rate: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cost: float
    actual_cost: float
    avg_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    p99_duration_ms: float | None
    avg_ttfb_ms: float | None
    p50_ttfb_ms: float | None
    p95_ttfb_ms: float | None
    p99_ttfb_ms: float | None
    unpriced_requests: int
    priced_coverage: float | None
    max_tokens_per_call: int
    first_seen: str | None
    last_seen: str | None


class ReportRow(Metrics):
    """A row of ``aiusage.report/1``: its period, then one key per ``group_by`` field (named
    at run time by ``--by``, so not listed here: read them with :func:`group_value`), the
    models it used most first (unless grouped by model) and its metrics."""

    period: str
    models: NotRequired[list[str]]


class TopUser(Metrics):
    """An entry of ``aiusage.top-users/1``: a user's metrics, share of the ranked metric's
    total, favourite model and rank."""

    user_id: str | None
    share: float | None
    favourite_model: str | None
    rank: int


class ModelRow(Metrics):
    """A row of ``aiusage.models/1``: a model's metrics and what one call costs."""

    model: str
    cost_per_call: float | None
    cost_per_1k_output_tokens: float | None
    avg_input_tokens: float
    avg_output_tokens: float
    cost_share: float | None


def group_value(row: ReportRow, field: str) -> Any:
    """A report row's value of group field ``field`` (``user_id``, ``tag:team``, …), ``None``
    when the report is not grouped by it."""
    columns: Mapping[str, Any] = row
    return columns.get(field)


_PERCENTILES = (0.50, 0.95, 0.99)
_NO_LATENCY = (None, None, None, None)
_rank = ranker(_PERCENTILES)


class _BucketMs(dict[int, float]):
    """Each bucket's estimate in ms as shown (3 decimals), worked out once per bucket: a
    report shows six per group."""

    def __missing__(self, bucket: int) -> float:
        ms = self[bucket] = round(bucket_value(bucket), 3)
        return ms


_BUCKET_MS = _BucketMs()


def _latency(total_us: int, hist: Histogram) -> tuple[float | None, ...]:
    """Mean, p50, p95 and p99 (ms) of one latency: its sum (µs) and histogram."""
    if type(hist) is list and len(hist) == 1:  # one call: half the groups of a large report
        only = _BUCKET_MS[hist[0]]
        # A whole number of µs in ms has three decimals at most: already what round(_, 3)
        # gives (a property test), which costs a decimal conversion.
        return total_us / 1000, only, only, only
    ranked = _rank(hist)
    if ranked is None:
        return _NO_LATENCY
    b50, b95, b99 = ranked
    ms = _BUCKET_MS
    n = len(hist) if type(hist) is list else size(hist)
    return round(total_us / 1000 / n, 3), ms[b50], ms[b95], ms[b99]


# The keys of a group's metrics, in the order every document writes them (Metrics' order).
METRIC_KEYS: tuple[str, ...] = tuple(Metrics.__annotations__)


def metrics(acc: Acc) -> Metrics:
    """The metrics of one group, as README: Machine output lists them (cost in the report
    currency)."""
    (values,) = metric_values([acc])
    return cast(Metrics, dict(zip(METRIC_KEYS, values, strict=True)))


def _ratio(part: int, whole: int) -> float | None:
    """``part / whole`` to 6 decimals (``None`` of nothing)."""
    if not whole:
        return None
    if part == whole:  # most groups: every call a success, every call priced
        return 1.0
    # round(_, 6) converts to decimal and back: kept to the ratios that need it.
    return round(part / whole, 6)


def _columns(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows of equal length as columns."""
    return list(zip(*rows, strict=True))


def metric_values(accs: Sequence[Acc]) -> list[tuple[Any, ...]]:
    """The metrics of each group (see :func:`metrics`), as its values in the order of
    :data:`METRIC_KEYS`. Worked out a column at a time, mostly in C: a report of hundreds of
    thousands of groups spends its tail here."""
    if not accs:
        return []
    requests = list(map(attrgetter("requests"), accs))
    successes = list(map(attrgetter("successes"), accs))
    inputs = list(map(attrgetter("input"), accs))
    outputs = list(map(attrgetter("output"), accs))
    reads = list(map(attrgetter("cache_read"), accs))
    writes = list(map(attrgetter("cache_write"), accs))
    unpriced = list(map(attrgetter("unpriced"), accs))
    firsts = [iso_utc(a.first_ts) if a.requests else None for a in accs]
    # Each latency's four values of every group, as four columns.
    durations = _columns(
        map(_latency, map(attrgetter("dur_sum"), accs), map(attrgetter("dur_hist"), accs))
    )
    ttfbs = _columns(
        map(_latency, map(attrgetter("ttfb_sum"), accs), map(attrgetter("ttfb_hist"), accs))
    )
    return list(
        zip(
            requests,
            successes,
            map(sub, requests, successes),
            list(map(_ratio, successes, requests)),
            inputs,
            outputs,
            reads,
            writes,
            map(attrgetter("reasoning"), accs),
            map(add, map(add, inputs, outputs), map(add, reads, writes)),
            map(money, map(attrgetter("cost"), accs)),
            map(money, map(attrgetter("actual"), accs)),
            *durations,
            *ttfbs,
            unpriced,
            list(map(_ratio, map(sub, requests, unpriced), requests)),
            map(attrgetter("max_tokens"), accs),
            firsts,
            # The first time again for a group of one call (half of a large report's).
            [
                first if a.last_ts == a.first_ts or not a.requests else iso_utc(a.last_ts)
                for first, a in zip(firsts, accs, strict=True)
            ],
            strict=True,
        )
    )


@dataclass(frozen=True)
class Source:
    """Where a view reads from and how it prices and converts: the data dir, pricing table,
    report currency and the currency assumed for records that name none."""

    data_dir: Path
    pricing: PricingTable
    currency: str
    default_currency: str = "USD"
    cost_mode: str = "recorded"
    use_cache: bool = False
    # More data dirs merged into the report (several machines), duplicates counted once.
    extra_dirs: tuple[Path, ...] = ()
    # Told (files read, files in all) as a pass goes, to show progress on long scans.
    progress: Callable[[int, int], None] | None = None


def source_files(source: Source, first: dt.date | None, last: dt.date | None) -> list[DayFile]:
    """The day files of every data dir of ``source`` whose UTC day lies in ``[first, last]``,
    by day (a day's files from several dirs side by side, in the order of the dirs)."""
    files = files_between(source.data_dir, first, last)
    for directory in source.extra_dirs:
        files += files_between(directory, first, last)
    return sorted(files, key=lambda f: f.day) if source.extra_dirs else files


def run_query(source: Source, query: Query) -> Rollup:
    """One pass over the files of ``query.range`` (through the rollup cache when the source
    allows it)."""
    files = source_files(source, query.range.first_day(), query.range.last_day())
    if source.extra_dirs:
        from aiusage.engine.scan import scan_merged

        return scan_merged(
            files,
            query,
            source.pricing,
            default_currency=source.default_currency,
            cost_mode=source.cost_mode,
            progress=source.progress,
        )
    if source.use_cache:
        from aiusage.engine.cache import RollupCache

        return RollupCache(source.data_dir).scan(
            files,
            query,
            source.pricing,
            default_currency=source.default_currency,
            cost_mode=source.cost_mode,
            progress=source.progress,
        )
    return scan(
        files,
        query,
        source.pricing,
        default_currency=source.default_currency,
        cost_mode=source.cost_mode,
        progress=source.progress,
    )


def envelope(
    kind: str, query_range: TimeRange, tz: ZoneInfo, currency: str, *, now: float | None = None
) -> dict[str, Any]:
    """The fields every document starts with (README: Machine output)."""
    generated = time.time() if now is None else now
    return {
        "schema": f"aiusage.{kind}/1",
        "generated_at": iso_utc(generated),
        "range": {
            "since": None if query_range.since is None else iso_local(query_range.since, tz),
            "until": None if query_range.until is None else iso_local(query_range.until, tz),
            "tz": tz.key,
        },
        "currency": currency,
    }


def skipped_doc(skipped: Skipped) -> dict[str, Any]:
    """How many lines were skipped and where the first one was."""
    first = skipped.first
    return {
        "skipped_lines": skipped.count,
        "first_skipped_line": None
        if first is None
        else {"file": first[0], "line": first[1], "reason": first[2]},
    }


def _unpriced(rollup: Rollup) -> list[dict[str, Any]]:
    return [
        {"model": m, "requests": n}
        for m, n in sorted(rollup.unpriced_models.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def filters_doc(filters: Filters) -> dict[str, Any]:
    """The ``filters`` of a document: field → sorted values, and ``tags``."""
    out: dict[str, Any] = {dimension_field(k): sorted(v) for k, v in filters.fields.items()}
    if filters.tags:
        out["tags"] = dict(filters.tags)
    return out


def not_counted(rollup: Rollup) -> dict[str, Any]:
    """What a view did not count: skipped lines (and where the first was), unpriced models."""
    out = {**skipped_doc(rollup.skipped), "unpriced_models": _unpriced(rollup)}
    if rollup.duplicates:
        out["duplicate_records"] = rollup.duplicates
    return out


def money(acc_cost: int | Fraction) -> float:
    """A summed cost (picos of the report currency) as a float amount, correctly rounded."""
    if type(acc_cost) is int:
        return acc_cost / COST_SCALE  # int / int is correctly rounded: no Fraction needed
    return acc_cost.numerator / (acc_cost.denominator * COST_SCALE)


def fold(
    source: Source,
    rollup: Rollup,
    dims: tuple[str, ...],
    *,
    period: bool = False,
    latency: bool = True,
) -> dict[tuple[Any, ...], Acc]:
    """``rollup``'s groups merged down to ``dims`` (and the period key when ``period``),
    costs in the report currency; ``latency=False`` for views without percentiles."""
    return rollup.fold(
        dims, currency=source.currency, pricing=source.pricing, period=period, latency=latency
    )


def total(source: Source, rollup: Rollup) -> Acc:
    """All of ``rollup``'s groups in one, costs in the report currency."""
    return rollup.total(currency=source.currency, pricing=source.pricing)
