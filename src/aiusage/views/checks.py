"""``aiusage check``: budgets, quotas and anomaly checks for cron (seed 001's monitoring
notes, seeds 002/003's budgets and user quotas), from one pass over this month (and the
week before today, for spikes).

Each check is ``ok``, ``warn`` (past ``warn_at`` of a limit, or a month-end forecast over
the monthly budget) or ``breach`` (over a limit); any breach makes the command exit 1.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiusage.engine.rollup import Acc, Filters, Query
from aiusage.engine.timerange import TimeRange
from aiusage.errors import UsageError
from aiusage.views.document import Source, envelope, fold, money, not_counted, run_query

WEEK = 7


@dataclass(frozen=True)
class Limits:
    """What to check. Amounts are in the report currency; quotas map a user (or key) to
    ``{"daily": x, "monthly": y}``."""

    daily_budget: float | None = None
    monthly_budget: float | None = None
    warn_at: float = 0.8
    user_quotas: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    key_limits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    spike: float | None = None
    max_tokens_per_call: int | None = None
    max_failure_rate: float | None = None

    def __bool__(self) -> bool:
        return any(
            v is not None
            for v in (
                self.daily_budget,
                self.monthly_budget,
                self.spike,
                self.max_tokens_per_call,
                self.max_failure_rate,
            )
        ) or bool(self.user_quotas or self.key_limits)


def _status(value: float, limit: float, warn_at: float) -> str:
    if value > limit:
        return "breach"
    return "warn" if value >= warn_at * limit else "ok"


def _entry(
    check: str, scope: str, status: str, value: float, limit: float, message: str
) -> dict[str, Any]:
    return {
        "check": check,
        "scope": scope,
        "status": status,
        "value": value,
        "limit": limit,
        "message": message,
    }


def build_check(
    source: Source, *, tz: Any, now: float, limits: Limits, filters: Filters | None = None
) -> dict[str, Any]:
    """The ``aiusage.check/1`` document: one entry per check, and how many breached; with
    ``filters``, the limits hold for the records passing them (one model's budget, say)."""
    if not limits:
        raise UsageError(
            "nothing to check: set budgets/quotas in config.yaml or pass --daily-budget, "
            "--monthly-budget, --user-quota, --key-limit, --spike, --max-tokens-per-call or "
            "--max-failure-rate"
        )
    today = dt.datetime.fromtimestamp(now, tz).date()
    month_start = today.replace(day=1)
    first = min(month_start, today - dt.timedelta(days=WEEK))

    def midnight(day: dt.date) -> float:
        return dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()

    time_range = TimeRange(midnight(first), midnight(today + dt.timedelta(days=1)))
    query = Query(("user", "key"), "day", tz, time_range, filters or Filters(), latency=False)
    rollup = run_query(source, query)
    groups = fold(source, rollup, ("user", "key"), period=True)
    day_total: dict[str, Acc] = {}
    scoped: dict[tuple[str, str, str], Acc] = {}  # (kind, who, "daily"|"monthly")
    for (day, user, key), acc in groups.items():
        day_total.setdefault(day, Acc()).merge(acc)
        spans = (["daily"] if day == today.isoformat() else []) + (
            ["monthly"] if day >= month_start.isoformat() else []
        )
        for span in spans:
            scoped.setdefault(("user", str(user), span), Acc()).merge(acc)
            scoped.setdefault(("key", str(key), span), Acc()).merge(acc)
    today_acc = day_total.get(today.isoformat(), Acc())
    month_acc = Acc()
    for day, acc in day_total.items():
        if day >= month_start.isoformat():
            month_acc.merge(acc)
    week = [
        money(day_total.get((today - dt.timedelta(days=i)).isoformat(), Acc()).cost)
        for i in range(1, WEEK + 1)
    ]
    average = sum(week) / WEEK
    currency = source.currency
    checks: list[dict[str, Any]] = []
    w = limits.warn_at

    def fmt(amount: float) -> str:
        from aiusage.output.formatting import money as text

        return text(amount, currency)

    if limits.daily_budget is not None:
        spent = money(today_acc.cost)
        status = _status(spent, limits.daily_budget, w)
        checks.append(
            _entry(
                "daily_budget",
                "all",
                status,
                spent,
                limits.daily_budget,
                f"today's cost {fmt(spent)} of the daily budget {fmt(limits.daily_budget)}",
            )
        )
    if limits.monthly_budget is not None:
        spent = money(month_acc.cost)
        completed = spent - money(today_acc.cost)
        days_left = calendar.monthrange(today.year, today.month)[1] - today.day + 1
        forecast = completed + average * days_left
        status = _status(spent, limits.monthly_budget, w)
        if status == "ok" and forecast > limits.monthly_budget:
            status = "warn"
        checks.append(
            _entry(
                "monthly_budget",
                "all",
                status,
                spent,
                limits.monthly_budget,
                f"{today:%Y-%m} so far {fmt(spent)} of {fmt(limits.monthly_budget)}; "
                f"month-end forecast {fmt(forecast)}",
            )
        )
    for kind, table in (("user", limits.user_quotas), ("key", limits.key_limits)):
        for who, quota in table.items():
            for span, limit in quota.items():
                spent = money(scoped.get((kind, who, span), Acc()).cost)
                label = "today" if span == "daily" else "this month"
                checks.append(
                    _entry(
                        f"{kind}_{span}_quota",
                        who,
                        _status(spent, limit, w),
                        spent,
                        limit,
                        f"{kind} {who} spent {fmt(spent)} {label} "
                        f"of a {span} quota of {fmt(limit)}",
                    )
                )
    if limits.spike is not None:
        spent = money(today_acc.cost)
        threshold = average * limits.spike
        status = "breach" if average > 0 and spent > threshold else "ok"
        checks.append(
            _entry(
                "spike",
                "all",
                status,
                spent,
                threshold,
                f"today's cost {fmt(spent)} vs {limits.spike:g}× the 7-day average {fmt(average)}",
            )
        )
    if limits.max_tokens_per_call is not None:
        biggest = today_acc.max_tokens
        status = "breach" if biggest > limits.max_tokens_per_call else "ok"
        checks.append(
            _entry(
                "max_tokens_per_call",
                "all",
                status,
                biggest,
                limits.max_tokens_per_call,
                f"today's biggest call used {biggest:,} tokens "
                f"(limit {limits.max_tokens_per_call:,})",
            )
        )
    if limits.max_failure_rate is not None:
        rate = (
            (today_acc.requests - today_acc.successes) / today_acc.requests
            if today_acc.requests
            else 0.0
        )
        status = "breach" if rate > limits.max_failure_rate else "ok"
        checks.append(
            _entry(
                "max_failure_rate",
                "all",
                status,
                rate,
                limits.max_failure_rate,
                f"today's failure rate {rate:.1%} ({today_acc.requests - today_acc.successes:,} of "
                f"{today_acc.requests:,} calls; limit {limits.max_failure_rate:.1%})",
            )
        )
    doc = envelope("check", time_range, tz, currency, now=now)
    doc.update(
        {
            "checks": checks,
            "breaches": sum(1 for c in checks if c["status"] == "breach"),
            "warnings": sum(1 for c in checks if c["status"] == "warn"),
            **not_counted(rollup),
        }
    )
    return doc
