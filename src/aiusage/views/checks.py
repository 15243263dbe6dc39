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


@dataclass(frozen=True)
class Spending:
    """What the checks compare with their limits, from one pass: today, this month, the
    average of the week before today, and today's and this month's per user and per key."""

    today: dt.date
    today_acc: Acc
    month_acc: Acc
    week_average: float
    scoped: Mapping[tuple[str, str, str], Acc]  # (user|key, who, daily|monthly)
    currency: str

    def fmt(self, amount: float) -> str:
        """``amount`` as money in the report currency."""
        from aiusage.views.formatting import money as text

        return text(amount, self.currency)


def _spending(groups: Mapping[tuple[Any, ...], Acc], today: dt.date, currency: str) -> Spending:
    """Sum the (day, user, key) groups of the pass into :class:`Spending`."""
    month_start = today.replace(day=1).isoformat()
    day_total: dict[str, Acc] = {}
    scoped: dict[tuple[str, str, str], Acc] = {}
    for (day, user, key), acc in groups.items():
        day_total.setdefault(day, Acc()).merge(acc)
        spans = (["daily"] if day == today.isoformat() else []) + (
            ["monthly"] if day >= month_start else []
        )
        for span in spans:
            scoped.setdefault(("user", str(user), span), Acc()).merge(acc)
            scoped.setdefault(("key", str(key), span), Acc()).merge(acc)
    month_acc = Acc()
    for day, acc in day_total.items():
        if day >= month_start:
            month_acc.merge(acc)
    week = [
        money(day_total.get((today - dt.timedelta(days=i)).isoformat(), Acc()).cost)
        for i in range(1, WEEK + 1)
    ]
    return Spending(
        today=today,
        today_acc=day_total.get(today.isoformat(), Acc()),
        month_acc=month_acc,
        week_average=sum(week) / WEEK,
        scoped=scoped,
        currency=currency,
    )


def _budget_checks(limits: Limits, s: Spending) -> list[dict[str, Any]]:
    """The daily and monthly budgets (the monthly one warns on a forecast over it)."""
    checks = []
    if limits.daily_budget is not None:
        spent = money(s.today_acc.cost)
        checks.append(
            _entry(
                "daily_budget",
                "all",
                _status(spent, limits.daily_budget, limits.warn_at),
                spent,
                limits.daily_budget,
                f"today's cost {s.fmt(spent)} of the daily budget {s.fmt(limits.daily_budget)}",
            )
        )
    if limits.monthly_budget is not None:
        spent = money(s.month_acc.cost)
        completed = spent - money(s.today_acc.cost)
        days_left = calendar.monthrange(s.today.year, s.today.month)[1] - s.today.day + 1
        forecast = completed + s.week_average * days_left
        status = _status(spent, limits.monthly_budget, limits.warn_at)
        if status == "ok" and forecast > limits.monthly_budget:
            status = "warn"
        checks.append(
            _entry(
                "monthly_budget",
                "all",
                status,
                spent,
                limits.monthly_budget,
                f"{s.today:%Y-%m} so far {s.fmt(spent)} of {s.fmt(limits.monthly_budget)}; "
                f"month-end forecast {s.fmt(forecast)}",
            )
        )
    return checks


def _quota_checks(limits: Limits, s: Spending) -> list[dict[str, Any]]:
    """Each user's quotas and each key's limits."""
    checks = []
    for kind, table in (("user", limits.user_quotas), ("key", limits.key_limits)):
        for who, quota in table.items():
            for span, limit in quota.items():
                spent = money(s.scoped.get((kind, who, span), Acc()).cost)
                label = "today" if span == "daily" else "this month"
                checks.append(
                    _entry(
                        f"{kind}_{span}_quota",
                        who,
                        _status(spent, limit, limits.warn_at),
                        spent,
                        limit,
                        f"{kind} {who} spent {s.fmt(spent)} {label} "
                        f"of a {span} quota of {s.fmt(limit)}",
                    )
                )
    return checks


def _anomaly_checks(limits: Limits, s: Spending) -> list[dict[str, Any]]:
    """Today against the week's average (spike), the biggest call, the failure rate."""
    checks = []
    today = s.today_acc
    if limits.spike is not None:
        spent = money(today.cost)
        threshold = s.week_average * limits.spike
        status = "breach" if s.week_average > 0 and spent > threshold else "ok"
        checks.append(
            _entry(
                "spike",
                "all",
                status,
                spent,
                threshold,
                f"today's cost {s.fmt(spent)} vs {limits.spike:g}× the 7-day average "
                f"{s.fmt(s.week_average)}",
            )
        )
    if limits.max_tokens_per_call is not None:
        biggest = today.max_tokens
        checks.append(
            _entry(
                "max_tokens_per_call",
                "all",
                "breach" if biggest > limits.max_tokens_per_call else "ok",
                biggest,
                limits.max_tokens_per_call,
                f"today's biggest call used {biggest:,} tokens "
                f"(limit {limits.max_tokens_per_call:,})",
            )
        )
    if limits.max_failure_rate is not None:
        failed = today.requests - today.successes
        rate = failed / today.requests if today.requests else 0.0
        checks.append(
            _entry(
                "max_failure_rate",
                "all",
                "breach" if rate > limits.max_failure_rate else "ok",
                rate,
                limits.max_failure_rate,
                f"today's failure rate {rate:.1%} ({failed:,} of "
                f"{today.requests:,} calls; limit {limits.max_failure_rate:.1%})",
            )
        )
    return checks


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
    first = min(today.replace(day=1), today - dt.timedelta(days=WEEK))

    def midnight(day: dt.date) -> float:
        return dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()

    time_range = TimeRange(midnight(first), midnight(today + dt.timedelta(days=1)))
    query = Query(("user", "key"), "day", tz, time_range, filters or Filters(), latency=False)
    rollup = run_query(source, query)
    spending = _spending(fold(source, rollup, ("user", "key"), period=True), today, source.currency)
    checks = [
        *_budget_checks(limits, spending),
        *_quota_checks(limits, spending),
        *_anomaly_checks(limits, spending),
    ]
    doc = envelope("check", time_range, tz, source.currency, now=now)
    doc.update(
        {
            "checks": checks,
            "breaches": sum(1 for c in checks if c["status"] == "breach"),
            "warnings": sum(1 for c in checks if c["status"] == "warn"),
            **not_counted(rollup),
        }
    )
    return doc
