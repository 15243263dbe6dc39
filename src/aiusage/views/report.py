"""Report views: the ``aiusage.report/1`` and ``aiusage.top-users/1`` documents (README:
Machine output) built from one :class:`~aiusage.engine.rollup.Rollup`.

Every document is a plain dict: ``schema``, ``generated_at``, ``range`` (``since``,
``until``, ``tz``), ``currency`` and the view's data. Its rows and totals are typed
(:class:`~aiusage.views.document.Metrics`, ``ReportRow``, ``TopUser``, ``ModelRow``), so the
renderers in :mod:`aiusage.output` are checked against the keys built here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from itertools import repeat
from operator import add, attrgetter, itemgetter, neg
from typing import Any, Literal, cast, overload

from aiusage.engine.rollup import Acc, Query, dimension_field
from aiusage.engine.timerange import PeriodKeys
from aiusage.errors import UsageError
from aiusage.store.gc_pause import gc_paused
from aiusage.views.document import (
    METRIC_KEYS,
    METRICS,
    ModelRow,
    ReportRow,
    Source,
    TopUser,
    envelope,
    filters_doc,
    fold,
    metric_values,
    metrics,
    money,
    not_counted,
    run_query,
    total,
)

TOP_BY: Mapping[str, Literal["cost", "total_tokens", "requests"]] = {
    "cost": "cost",
    "tokens": "total_tokens",
    "requests": "requests",
}


def _sort_key(sort: str) -> tuple[str, bool]:
    """(field, descending) for a ``--sort`` value; ``-`` prefix flips the order."""
    flip = sort.startswith("-")
    name = sort.lstrip("-")
    descending = name in METRICS
    return name, descending != flip


def _sorted_rows(rows: list[ReportRow], sort: str, fields: list[str]) -> list[ReportRow]:
    name, descending = _sort_key(sort)
    allowed = {"period", *fields, *METRICS}
    if name not in allowed:
        raise UsageError(
            f"cannot sort by {name!r} (choose from period, {', '.join([*fields, *METRICS])})"
        )

    def value(row: ReportRow) -> Any:
        # A --sort name is any column: the period, a group field or a metric.
        columns: Mapping[str, Any] = row
        return columns.get(name)

    def key(row: ReportRow) -> tuple[bool, Any]:
        v = value(row)
        return (v is None, v if v is not None else 0)

    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    return sorted(present, key=key, reverse=descending) + missing


Entry = tuple[tuple[Any, ...], Acc, dict[str, int] | None]


# Rows built together (their metrics a column at a time), as JSON writes them.
ROWS_AT_A_TIME = 2000


class ReportRows(Sequence[ReportRow]):
    """A report's rows, each built from its group (key, accumulator, requests per model) when
    it is read: a report of hundreds of thousands of groups is written chunk by chunk
    (:func:`aiusage.output.json_csv.json_chunks`), never held whole as rows."""

    def __init__(self, entries: list[Entry], fields: list[str]) -> None:
        self._entries = entries
        self._fields = fields

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> ReportRow: ...

    @overload
    def __getitem__(self, index: slice) -> ReportRows: ...

    def __getitem__(self, index: int | slice) -> ReportRow | ReportRows:
        if isinstance(index, slice):
            return ReportRows(self._entries[index], self._fields)
        (row,) = self._rows([self._entries[index]])
        return row

    def __iter__(self) -> Iterator[ReportRow]:
        entries = self._entries
        for start in range(0, len(entries), ROWS_AT_A_TIME):
            yield from self._rows(entries[start : start + ROWS_AT_A_TIME])

    def _rows(self, entries: list[Entry]) -> list[ReportRow]:
        """The rows of some groups, their keys in the documented order: period, group
        fields, models (the most used first; not in a report by model) and metrics."""
        heads: Iterable[tuple[Any, ...]] = map(itemgetter(0), entries)
        names = ("period", *self._fields, *METRIC_KEYS)
        if entries and entries[0][2] is not None:
            names = ("period", *self._fields, "models", *METRIC_KEYS)
            heads = ((*key, _most_used(used or {})) for key, _, used in entries)
        values = metric_values(list(map(itemgetter(1), entries)))
        # The one untyped step: the group fields' names are only known at run time.
        return cast(
            list[ReportRow], list(map(dict, map(zip, repeat(names), map(add, heads, values))))
        )


def _most_used(requests: dict[str, int]) -> list[str]:
    """The models of a row, the most used first."""
    return sorted(requests, key=lambda m: (-requests[m], m))


def _in_report_order(entries: list[Entry]) -> list[Entry]:
    """Periods in order; within a period, the most expensive group first, then by the
    group's values as text."""
    periods: dict[Any, list[Entry]] = {}
    for entry in entries:
        periods.setdefault(entry[0][0], []).append(entry)
    ordered: list[Entry] = []
    for period in sorted(periods):
        ordered += _by_cost(periods[period])
    return ordered


def _by_cost(entries: list[Entry]) -> list[Entry]:
    """One period's entries, the most expensive first, then by their values as text."""
    keys = list(map(itemgetter(0), entries))
    costs = map(neg, map(money, map(attrgetter("cost"), map(itemgetter(1), entries))))
    texts = [map(str, map(itemgetter(i), keys)) for i in range(1, len(keys[0]))]
    # Each entry's sort key made column by column in C, and the entries sorted through
    # them: a fraction of a key function's time. A period at a time, so that the keys of
    # hundreds of thousands of groups are never all held at once.
    order = list(zip(costs, *texts, strict=True))
    return list(map(entries.__getitem__, sorted(range(len(entries)), key=order.__getitem__)))


# Folding, totalling and ordering hundreds of thousands of groups makes no cycles: the
# collector's passes over them would find nothing (a third of a large report's tail).
@gc_paused()
def build_report(
    source: Source,
    query: Query,
    *,
    sort: str | None = None,
    limit: int | None = None,
    now: float | None = None,
    stream_rows: bool = False,
) -> dict[str, Any]:
    """The ``aiusage.report/1`` document: totals and one row per period × group. With
    ``stream_rows``, its ``rows`` are a :class:`ReportRows` sequence, each row built when it
    is read (for writing a large report in bounded memory), else a list."""
    dims = query.dims
    with_models = "model" not in dims
    scan_query = Query(
        dims=(*dims, "model") if with_models else dims,
        period=query.period,
        tz=query.tz,
        range=query.range,
        filters=query.filters,
    )
    rollup = run_query(source, scan_query)
    fields = [dimension_field(d) for d in dims]
    groups = fold(source, rollup, dims, period=True)
    # Requests per model of each row, straight from the groups (period, *dims, model,
    # currency): a fold would copy every group's histograms to read one count.
    models: dict[tuple[Any, ...], dict[str, int]] = {}
    if with_models:
        width = len(dims) + 1
        for key, acc in rollup.groups.items():
            used = models.setdefault(key[:width], {})
            used[key[width]] = used.get(key[width], 0) + acc.requests
    if (
        not dims
        and query.period != "total"
        and query.range.since is not None
        and query.range.until is not None
    ):
        for pk in PeriodKeys(query.period, query.tz).keys_between(
            query.range.since, query.range.until
        ):
            groups.setdefault((pk,), Acc())
    entries = [
        (key, acc, models.get(key, {}) if with_models else None) for key, acc in groups.items()
    ]
    if sort is None:
        # Sorted before any row is built, so that rows can be built as they are written.
        rows: Sequence[ReportRow] = ReportRows(_in_report_order(entries), fields)
    else:
        rows = _sorted_rows(list(ReportRows(entries, fields)), sort, fields)
    if limit is not None:
        rows = rows[:limit]
    if not stream_rows:
        rows = list(rows)
    totals = total(source, rollup)
    doc = envelope("report", query.range, query.tz, source.currency, now=now)
    doc.update(
        {
            "period": query.period,
            "group_by": fields,
            "filters": filters_doc(query.filters),
            "totals": metrics(totals),
            "rows": rows,
            **not_counted(rollup),
        }
    )
    return doc


@gc_paused()
def build_top_users(
    source: Source,
    query: Query,
    *,
    by: str = "cost",
    limit: int = 10,
    now: float | None = None,
) -> dict[str, Any]:
    """The ``aiusage.top-users/1`` document: the users with the highest cost, tokens or
    requests, each with their share of the total and favourite model."""
    if by not in TOP_BY:
        raise UsageError(f"cannot rank users by {by!r} (choose from {', '.join(TOP_BY)})")
    if limit < 1:
        raise UsageError(f"--limit must be at least 1, got {limit}")
    # Percentiles are shown per user: kept per user, not per user × model (a tenth of the
    # histograms to merge, store and load).
    scan_query = Query(
        ("user", "model"), "total", query.tz, query.range, query.filters, latency_by=("user",)
    )
    rollup = run_query(source, scan_query)
    per_user = fold(source, rollup, ("user",))
    per_model = fold(source, rollup, ("user", "model"), latency=False)  # requests, cost
    favourite: dict[str | None, tuple[int, int | Fraction, str]] = {}
    for (user, model), acc in per_model.items():
        candidate = (acc.requests, acc.cost, model)
        best = favourite.get(user)
        if (
            best is None
            or candidate[:2] > best[:2]
            or (candidate[:2] == best[:2] and model < best[2])
        ):
            favourite[user] = candidate
    metric = TOP_BY[by]
    totals = metrics(total(source, rollup))
    grand = totals[metric]
    ranked = sorted(
        ((user, metrics(acc)) for (user,), acc in per_user.items()),
        key=lambda um: (-um[1][metric], -um[1]["cost"], str(um[0])),
    )
    entries: list[TopUser] = [
        {
            "user_id": user,
            **m,
            "share": round(m[metric] / grand, 6) if grand else None,
            "favourite_model": favourite[user][2] if user in favourite else None,
            "rank": rank,
        }
        for rank, (user, m) in enumerate(ranked, 1)
    ]
    doc = envelope("top-users", query.range, query.tz, source.currency, now=now)
    doc.update(
        {
            "by": by,
            "limit": limit,
            "filters": filters_doc(query.filters),
            "totals": totals,
            "users_total": len(entries),
            "users": entries[:limit],
            **not_counted(rollup),
        }
    )
    return doc


def report_columns(doc: Mapping[str, Any]) -> list[str]:
    """The column order of a report document's rows: period, group fields, models, metrics."""
    with_models = bool(doc["rows"]) and "models" in doc["rows"][0]
    return ["period", *doc["group_by"], *(["models"] if with_models else []), *METRICS]


def top_users_columns() -> list[str]:
    """The column order of a top-users document's entries."""
    return ["rank", "user_id", "favourite_model", "share", *METRICS]


@gc_paused()
def build_models(source: Source, query: Query, *, now: float | None = None) -> dict[str, Any]:
    """The ``aiusage.models/1`` document: models side by side (seed 003 case 3) — cost per
    call, cost per 1K output tokens, success rate and latency — cheapest per call first."""
    rollup = run_query(source, Query(("model",), "total", query.tz, query.range, query.filters))
    per_model = fold(source, rollup, ("model",))
    grand = metrics(total(source, rollup))
    rows: list[ModelRow] = []
    for (model,), acc in per_model.items():
        m = metrics(acc)
        priced = acc.requests - acc.unpriced
        rows.append(
            {
                "model": model,
                "cost_per_call": m["cost"] / priced if priced else None,
                "cost_per_1k_output_tokens": m["cost"] / acc.output * 1000
                if acc.output and priced
                else None,
                "avg_input_tokens": round(
                    (acc.input + acc.cache_read + acc.cache_write) / acc.requests, 1
                ),
                "avg_output_tokens": round(acc.output / acc.requests, 1),
                "cost_share": m["cost"] / grand["cost"] if grand["cost"] else None,
                **m,
            }
        )
    rows.sort(key=lambda r: (r["cost_per_call"] is None, r["cost_per_call"] or 0, r["model"]))
    doc = envelope("models", query.range, query.tz, source.currency, now=now)
    doc.update(
        {
            "filters": filters_doc(query.filters),
            "totals": grand,
            "rows": rows,
            **not_counted(rollup),
        }
    )
    return doc
