"""The report commands: ``report`` and ``top-users`` (tables of groups from one pass)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from aiusage.cli.app import app
from aiusage.cli.common import (
    AllOpt,
    Context,
    CurrencyOpt,
    DataDirOpt,
    DaysOpt,
    FunctionOpt,
    JsonOpt,
    ModelOpt,
    PricingOpt,
    ProviderOpt,
    SinceOpt,
    StrictOpt,
    TagOpt,
    TzOpt,
    UntilOpt,
    UserOpt,
    emit,
    make_filters,
    warn_skipped,
)
from aiusage.errors import UsageError

EPILOG_REPORT = """
Examples:

  aiusage report                              # last 7 days, one row per day
  aiusage report --days 30 --by model         # per day and model
  aiusage report --period month --by user --tz Europe/Paris
  aiusage report --since 2026-11-01 --until 2026-11-15 --model gpt-4o --json
  aiusage report --all --period total --by tag:team --csv > teams.csv
"""
EPILOG_TOP = """
Examples:

  aiusage top-users                           # top 10 by cost over the last 7 days
  aiusage top-users --by tokens --days 30 --limit 20
  aiusage top-users --since 2026-11-01 --model gpt-4o --json
"""


# report ----------------------------------------------------------------------------------


@app.command(epilog=EPILOG_REPORT)
def report(
    days: DaysOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    all_time: AllOpt = False,
    period: Annotated[
        str, typer.Option("--period", "-p", help="hour, day, week, month or total.")
    ] = "day",
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            "-b",
            help="Group by user, model, function, provider, session, anchor, key or tag:NAME "
            "(repeatable).",
        ),
    ] = None,
    user: UserOpt = None,
    model: ModelOpt = None,
    function: FunctionOpt = None,
    provider: ProviderOpt = None,
    tag: TagOpt = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort", help="Sort rows by a metric (descending) or field; prefix - to reverse."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Show at most N rows.", min=1)
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Usage and cost per period (and per user, model, ... with --by), with totals."""
    from aiusage.aggregate import Query
    from aiusage.report import build_report, report_columns
    from aiusage.timerange import make_range

    if as_csv and as_json:
        raise UsageError("choose one of --csv and --json")
    ctx = Context(data_dir, tz, pricing, currency)
    rng = make_range(tz=ctx.tz, now=ctx.now, days=days, since=since, until=until, all_time=all_time)
    query = Query(
        dims=tuple(dict.fromkeys(by or ())),
        period=period,
        tz=ctx.tz,
        range=rng,
        filters=make_filters(user=user, model=model, function=function, provider=provider, tag=tag),
    )
    doc = build_report(ctx.source(), query, sort=sort, limit=limit, now=ctx.now)
    warn_skipped(doc, strict)
    if as_csv:
        from aiusage.export import to_csv

        sys.stdout.write(to_csv(report_columns(doc), doc["rows"]))
        return
    from aiusage.render import report_view

    emit(doc, as_json=as_json, view=report_view)


# top-users -------------------------------------------------------------------------------


@app.command("top-users", epilog=EPILOG_TOP)
def top_users(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many users.", min=1)] = 10,
    days: DaysOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    all_time: AllOpt = False,
    by: Annotated[str, typer.Option("--by", help="Rank by cost, tokens or requests.")] = "cost",
    model: ModelOpt = None,
    function: FunctionOpt = None,
    provider: ProviderOpt = None,
    tag: TagOpt = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    strict: StrictOpt = False,
) -> None:
    """The users who cost the most (or used the most tokens or requests)."""
    from aiusage.aggregate import Query
    from aiusage.report import build_top_users, top_users_columns
    from aiusage.timerange import make_range

    if as_csv and as_json:
        raise UsageError("choose one of --csv and --json")
    ctx = Context(data_dir, tz, pricing, currency)
    rng = make_range(tz=ctx.tz, now=ctx.now, days=days, since=since, until=until, all_time=all_time)
    query = Query(
        (),
        "total",
        ctx.tz,
        rng,
        make_filters(model=model, function=function, provider=provider, tag=tag),
    )
    doc = build_top_users(ctx.source(), query, by=by, limit=limit, now=ctx.now)
    warn_skipped(doc, strict)
    if as_csv:
        from aiusage.export import to_csv

        sys.stdout.write(to_csv(top_users_columns(), doc["users"]))
        return
    from aiusage.render import top_users_view

    emit(doc, as_json=as_json, view=top_users_view)
