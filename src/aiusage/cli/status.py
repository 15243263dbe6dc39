"""The status commands: ``stats`` (right now), ``logs`` (the calls), ``trend`` and
``heatmap`` (over time) and ``doctor`` (the data dir's health)."""

import sys
from typing import Annotated

import typer

from aiusage.cli.application import app
from aiusage.cli.common import (
    Context,
    CostOpt,
    CurrencyOpt,
    JsonOpt,
    NoCacheOpt,
    PricingOpt,
    StrictOpt,
    TzOpt,
    emit,
    warn_skipped,
)
from aiusage.cli.options import Selection, reading
from aiusage.errors import DataError
from aiusage.records.schema import serialize

EPILOG_STATS = """
Examples:

  aiusage stats                               # last minute, hour, 24 h, today, this month
  aiusage stats --function chat --json
"""
EPILOG_LOGS = """
Examples:

  aiusage logs                                # the 20 newest calls
  aiusage logs -n 100 --failed --since 24h    # recent failures
  aiusage logs --user alice --model gpt-4o --json | jq .cost
"""
EPILOG_TREND = """
Examples:

  aiusage trend                               # cost per day, last 30 days, and forecast
  aiusage trend --metric tokens --days 14
  aiusage trend --since 2026-11-01 --until 2026-11-30  # November, as of the 30th
  aiusage trend --json
"""
EPILOG_HEATMAP = """
Examples:

  aiusage heatmap                             # requests per day over the last year
  aiusage heatmap --metric cost --days 90
  aiusage heatmap --since 2026-01-01 --user alice
  aiusage heatmap --json
"""
EPILOG_DOCTOR = """
Examples:

  aiusage doctor                              # check the default data dir
  aiusage doctor -d /var/lib/aiusage --json
  aiusage doctor -d /srv/a/aiusage -d /srv/b/aiusage   # each dir's files
"""


@app.command(epilog=EPILOG_STATS)
@reading(range_flags=False)
def stats(
    selection: Selection,
    as_json: JsonOpt = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    cost: CostOpt = "recorded",
    strict: StrictOpt = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """How are we doing right now: calls, failures, tokens and cost per time window."""
    from aiusage.output.terminal_status import stats_view

    ctx = Context(
        selection.data_dirs, tz, pricing, currency, cost=cost, use_cache=not no_cache, quiet=as_json
    )
    doc = ctx.workspace.stats(**selection.filter_values)
    emit(doc, as_json=as_json, view=stats_view, strict=strict)


@app.command(epilog=EPILOG_LOGS)
@reading(default_days=None)
def logs(
    selection: Selection,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many calls.", min=1)] = 20,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed calls.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The records as JSONL.")] = False,
    tz: TzOpt = None,
    strict: StrictOpt = False,
) -> None:
    """The individual calls, newest first."""
    from aiusage.views.document import skipped_doc
    from aiusage.views.logs import newest_calls

    ctx = Context(selection.data_dirs, tz, None, None, quiet=as_json)
    calls, skipped = newest_calls(
        ctx.source(),
        time_range=selection.time_range(ctx),
        limit=limit,
        filters=selection.filters(),
        failed_only=failed,
    )
    warn_skipped(skipped_doc(skipped), strict)
    if as_json:
        sys.stdout.write(b"".join(serialize(r) for r in calls).decode())
        return
    if not calls:
        sys.stderr.write("aiusage: no calls match\n")
        return
    from aiusage.output.terminal import make_console
    from aiusage.output.terminal_status import logs_view

    console = make_console()
    console.print(logs_view(calls, ctx.tz, width=console.width))


@app.command(epilog=EPILOG_TREND)
@reading(default_days=30)
def trend(
    selection: Selection,
    metric: Annotated[str, typer.Option("--metric", help="cost, tokens or requests.")] = "cost",
    as_json: JsonOpt = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    cost: CostOpt = "recorded",
    no_cache: NoCacheOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Daily cost (or tokens, requests), the 7-day average and the month-end forecast."""
    from aiusage.output.charts import trend_view
    from aiusage.views.trend import build_trend

    ctx = Context(
        selection.data_dirs, tz, pricing, currency, cost=cost, use_cache=not no_cache, quiet=as_json
    )
    doc = build_trend(
        ctx.source(),
        tz=ctx.tz,
        now=ctx.now,
        time_range=selection.time_range(ctx),
        metric=metric,
        filters=selection.filters(),
    )
    emit(doc, as_json=as_json, view=trend_view, strict=strict)


@app.command(epilog=EPILOG_HEATMAP)
@reading(default_days=365)
def heatmap(
    selection: Selection,
    metric: Annotated[str, typer.Option("--metric", help="requests, tokens or cost.")] = "requests",
    as_json: JsonOpt = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    cost: CostOpt = "recorded",
    no_cache: NoCacheOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Daily activity as a calendar, like a contribution graph."""
    from aiusage.errors import UsageError
    from aiusage.output.charts import heatmap_view
    from aiusage.views.trend import build_heatmap

    fields = {"requests": "requests", "tokens": "total_tokens", "cost": "cost"}
    if metric not in fields:
        raise UsageError(f"unknown --metric {metric!r} (choose from requests, tokens, cost)")
    ctx = Context(
        selection.data_dirs, tz, pricing, currency, cost=cost, use_cache=not no_cache, quiet=as_json
    )
    doc = build_heatmap(
        ctx.source(),
        tz=ctx.tz,
        now=ctx.now,
        time_range=selection.time_range(ctx),
        filters=selection.filters(),
    )
    emit(
        doc,
        as_json=as_json,
        view=lambda d, width: heatmap_view(d, width=width, metric=fields[metric]),
        strict=strict,
    )


@app.command(epilog=EPILOG_DOCTOR)
@reading(range_flags=False, filters=False)
def doctor(
    selection: Selection,
    as_json: JsonOpt = False,
    pricing: PricingOpt = None,
) -> None:
    """Check a data dir: files, records, malformed lines, misplaced records, unpriced
    models, permissions. Exits 3 when it finds malformed lines."""
    from aiusage.output.terminal_status import doctor_view
    from aiusage.views.doctor import build_doctor

    ctx = Context(selection.data_dirs, "UTC", pricing, None, quiet=as_json)
    doc = build_doctor(ctx.source(), now=ctx.now)
    emit({**doc, "skipped_lines": 0}, as_json=as_json, view=doctor_view)
    if doc["errors"]:
        n = doc["errors"]
        where = ", ".join(doc["data_dirs"])
        raise DataError(f"{n} malformed line{'s' if n != 1 else ''} in {where}")


EPILOG_WATCH = """
Examples:

  aiusage watch                               # follow today's calls live
  aiusage watch --interval 5 -d /var/lib/aiusage
"""


@app.command(epilog=EPILOG_WATCH)
@reading(range_flags=False)
def watch(
    selection: Selection,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between refreshes.", min=0.1)
    ] = 1.0,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
) -> None:
    """A live view of today: calls per minute, tokens, cost, error rate and the latest calls,
    refreshed by reading only the lines appended since the last look. Ctrl-C stops it."""
    import time

    from rich.console import RenderableType
    from rich.live import Live

    from aiusage.output.terminal import make_console
    from aiusage.output.terminal_status import watch_view
    from aiusage.views.live import Follower

    ctx = Context(selection.data_dirs, tz, pricing, currency)
    follower = Follower(ctx.source(), ctx.tz, filters=selection.filters())
    console = make_console()

    def view() -> RenderableType:
        now = time.time()
        state = follower.poll(now)
        return watch_view(state, now=now, tz=ctx.tz, currency=ctx.currency, width=console.width)

    try:
        with Live(view(), console=console, refresh_per_second=4, transient=False) as live:
            while True:
                time.sleep(interval)
                live.update(view())
    except KeyboardInterrupt:
        return  # Ctrl-C is how watching ends: a clean exit
