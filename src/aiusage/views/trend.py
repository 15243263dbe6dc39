"""``aiusage trend`` and ``aiusage heatmap``: daily values over time, the 7-day average, the
month-end forecast (seed 003 case 2) and the 365-day activity calendar (seed 002).

Forecast: the cost (or tokens, requests) of this month's completed days plus the average of
the last 7 completed days for each day left, today included.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from aiusage.engine.rollup import Acc, Filters, Query
from aiusage.engine.timerange import TimeRange
from aiusage.errors import UsageError
from aiusage.views.document import Source, envelope, fold, metrics, money, not_counted, run_query

TREND_METRICS = {"cost": "cost", "tokens": "total_tokens", "requests": "requests"}
AVERAGE_DAYS = 7


def _day(d: dt.date, tz: Any) -> float:
    return dt.datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()


def _days_range(first: dt.date, last: dt.date, tz: Any) -> TimeRange:
    """Local days ``first`` to ``last`` (inclusive) as a time range."""
    return TimeRange(_day(first, tz), _day(last + dt.timedelta(days=1), tz))


def _value(acc: Acc, metric: str) -> float:
    if metric == "cost":
        return money(acc.cost)
    if metric == "total_tokens":
        return acc.input + acc.output + acc.cache_read + acc.cache_write
    return acc.requests


def daily(
    source: Source,
    *,
    tz: Any,
    first: dt.date | None,
    last: dt.date,
    filters: Filters | None = None,
) -> tuple[dict[str, Acc], Any]:
    """One pass: the metrics of every local day from ``first`` (``None``: the first day with
    records) to ``last``, and the rollup."""
    query = Query(
        dims=(),
        period="day",
        tz=tz,
        range=TimeRange(
            None if first is None else _day(first, tz), _day(last + dt.timedelta(days=1), tz)
        ),
        filters=filters or Filters(),
    )
    rollup = run_query(source, query)
    folded = fold(source, rollup, (), period=True)
    if first is None:
        first = min([dt.date.fromisoformat(day) for (day,) in folded] + [last])
    days: dict[str, Acc] = {}
    d = first
    while d <= last:
        days[d.isoformat()] = folded.get((d.isoformat(),), Acc())
        d += dt.timedelta(days=1)
    return days, rollup


def shown_days(time_range: TimeRange, *, tz: Any, now: float) -> tuple[dt.date | None, dt.date]:
    """The local days a range covers: from the day it starts on (``None`` when it is open:
    the first day with records) to the day it ends on (today when it is open)."""
    if time_range.until is None:
        last = dt.datetime.fromtimestamp(now, tz).date()
    else:
        last = dt.datetime.fromtimestamp(time_range.until - 1e-6, tz).date()
    if time_range.since is None:
        return None, last
    first = dt.datetime.fromtimestamp(time_range.since, tz).date()
    if first > last:
        raise UsageError("the range is empty: --since must be before --until")
    return first, last


def _last_days(days: int, *, tz: Any, now: float) -> tuple[dt.date, dt.date]:
    today = dt.datetime.fromtimestamp(now, tz).date()
    return today - dt.timedelta(days=days - 1), today


def build_trend(
    source: Source,
    *,
    tz: Any,
    now: float,
    days: int = 30,
    time_range: TimeRange | None = None,
    metric: str = "cost",
    filters: Filters | None = None,
) -> dict[str, Any]:
    """The ``aiusage.trend/1`` document: ``days`` daily values ending today (or the days of
    ``time_range``, whose last day is then "today"), the 7-day average, the month so far and
    the month-end forecast."""
    if metric not in TREND_METRICS:
        raise UsageError(f"unknown --metric {metric!r} (choose from {', '.join(TREND_METRICS)})")
    if time_range is None and days < 1:
        raise UsageError(f"--days must be at least 1, got {days}")
    field = TREND_METRICS[metric]
    start, today = (
        _last_days(days, tz=tz, now=now)
        if time_range is None
        else shown_days(time_range, tz=tz, now=now)
    )
    month_start = today.replace(day=1)
    first = (
        None if start is None else min(start, month_start, today - dt.timedelta(days=AVERAGE_DAYS))
    )
    per_day, rollup = daily(source, tz=tz, first=first, last=today, filters=filters)
    start = start or dt.date.fromisoformat(min(per_day))
    shown = [
        {"date": d, "value": _value(acc, field), **metrics(acc)}
        for d, acc in per_day.items()
        if d >= start.isoformat()
    ]
    recent = [
        _value(per_day.get((today - dt.timedelta(days=i)).isoformat(), Acc()), field)
        for i in range(1, AVERAGE_DAYS + 1)
    ]
    average = sum(recent) / AVERAGE_DAYS
    completed = sum(
        _value(acc, field)
        for d, acc in per_day.items()
        if month_start.isoformat() <= d < today.isoformat()
    )
    so_far = completed + _value(per_day[today.isoformat()], field)
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    days_left = days_in_month - today.day + 1
    doc = envelope("trend", _days_range(start, today, tz), tz, source.currency, now=now)
    doc.update(
        {
            "metric": metric,
            "days": shown,
            "average_7d": average,
            "month": {
                "month": today.strftime("%Y-%m"),
                "so_far": so_far,
                "completed_days": today.day - 1,
                "days_in_month": days_in_month,
                "forecast": completed + average * days_left,
                "method": "completed days + 7-day average × days left (today included)",
            },
            **not_counted(rollup),
        }
    )
    return doc


def _at_most_366(first: dt.date, last: dt.date) -> None:
    n = (last - first).days + 1
    if n > 366:
        raise UsageError(f"the heatmap shows at most 366 days, the range has {n}: narrow it")


def build_heatmap(
    source: Source,
    *,
    tz: Any,
    now: float,
    days: int = 365,
    time_range: TimeRange | None = None,
    filters: Filters | None = None,
) -> dict[str, Any]:
    """The ``aiusage.heatmap/1`` document: requests, tokens and cost for each of the last
    ``days`` local days (or the days of ``time_range``), at most 366."""
    if time_range is None and not 1 <= days <= 366:
        raise UsageError(f"--days must be between 1 and 366, got {days}")
    first, today = (
        _last_days(days, tz=tz, now=now)
        if time_range is None
        else shown_days(time_range, tz=tz, now=now)
    )
    if first is not None:
        _at_most_366(first, today)  # before the pass: nothing read for a range too long
    per_day, rollup = daily(source, tz=tz, first=first, last=today, filters=filters)
    if first is None:
        first = dt.date.fromisoformat(min(per_day))
        _at_most_366(first, today)
    cells: list[dict[str, Any]] = [
        {
            "date": d,
            "weekday": dt.date.fromisoformat(d).isoweekday(),
            "requests": acc.requests,
            "total_tokens": _value(acc, "total_tokens"),
            "cost": money(acc.cost),
        }
        for d, acc in per_day.items()
    ]
    doc = envelope("heatmap", _days_range(first, today, tz), tz, source.currency, now=now)
    doc.update(
        {
            "days": cells,
            "max": {
                "requests": max(c["requests"] for c in cells),
                "total_tokens": max(c["total_tokens"] for c in cells),
                "cost": max(c["cost"] for c in cells),
            },
            "active_days": sum(1 for c in cells if c["requests"]),
            **not_counted(rollup),
        }
    )
    return doc
