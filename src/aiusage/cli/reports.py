"""The analysis commands: ``report``, ``top-users``, ``models``, ``cache``, ``intervals``,
``counters`` — each a view of one pass of the aggregator."""

import sys
from typing import Annotated, Any

import typer

from aiusage.cli.application import app, sub_app
from aiusage.cli.common import (
    Context,
    CostOpt,
    CsvOpt,
    CurrencyOpt,
    DataDirOpt,
    JsonOpt,
    NoCacheOpt,
    PricingOpt,
    RawCsvOpt,
    StrictOpt,
    TzOpt,
    emit,
)
from aiusage.cli.options import Selection, reading
from aiusage.errors import UsageError

EPILOG_REPORT = """
Examples:

  aiusage report                              # last 7 days, one row per day
  aiusage report --days 30 --by model         # per day and model
  aiusage report --period month --by user --tz Europe/Paris
  aiusage report --since 2026-11-01 --until 2026-11-15 --model gpt-4o --json
  aiusage report --all --period total --by tag:team --csv > teams.csv
  aiusage report --session s-42 --period total --by model   # one session in detail
  aiusage report --since 24h --period total --by key --by model   # per-key usage
"""
EPILOG_TOP = """
Examples:

  aiusage top-users                           # top 10 by cost over the last 7 days
  aiusage top-users --by tokens --days 30 --limit 20
  aiusage top-users --since 2026-11-01 --model gpt-4o --json
"""
EPILOG_MODELS = """
Examples:

  aiusage models                              # the last 7 days, cheapest per call first
  aiusage models --days 30 --function summarise --json
"""
EPILOG_CACHE = """
Examples:

  aiusage cache                               # hit rate and savings per model, last 7 days
  aiusage cache --days 30 --user alice --json
"""
EPILOG_CLEAR = """
Examples:

  aiusage cache clear                         # the next report reads every file again
  aiusage cache clear -d /var/lib/aiusage
"""
EPILOG_INTERVALS = """
Examples:

  aiusage intervals                           # per user, last 7 days
  aiusage intervals --by key --days 30 --json
"""
EPILOG_COUNTERS = """
Examples:

  aiusage counters                            # every counter, all time
  aiusage counters --prefix feature. --days 30
  aiusage counters --prefix user. --json
"""


def _choose_output(as_json: bool, as_csv: bool) -> None:
    if as_csv and as_json:
        raise UsageError("choose one of --csv and --json")


@app.command(epilog=EPILOG_REPORT)
@reading()
def report(
    selection: Selection,
    period: Annotated[
        str, typer.Option("--period", "-p", help="hour, day, week, month or total.")
    ] = "day",
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            "-b",
            help="Group by user, model, function, provider, session, anchor, key or tag:NAME "
            "(repeatable, or a comma-separated list).",
        ),
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort", help="Sort rows by a metric (descending) or field; prefix - to reverse."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Show at most N rows.", min=1)
    ] = None,
    as_csv: CsvOpt = False,
    raw_csv: RawCsvOpt = False,
    as_json: JsonOpt = False,
    chart: Annotated[
        bool, typer.Option("--chart", help="Also draw cost per period as bars.")
    ] = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    cost: CostOpt = "recorded",
    no_cache: NoCacheOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Usage and cost per period (and per user, model, ... with --by), with totals."""
    from aiusage.views.report import report_columns

    _choose_output(as_json, as_csv)
    ctx = Context(
        selection.data_dirs, tz, pricing, currency, cost=cost, use_cache=not no_cache, quiet=as_json
    )
    doc = ctx.workspace.report(
        period=period,
        by=by or (),
        sort=sort,
        limit=limit,
        stream_rows=True,
        **selection.range_values,
        **selection.filter_values,
    )
    csv = (report_columns(doc), doc["rows"]) if as_csv else None

    def view(d: dict[str, Any], *, width: int) -> Any:
        # The table is described without rich, which loads only when it draws the table (a
        # terminal, a chart): --json, --csv and a table in a pipe start faster.
        from aiusage.output.tables import TABLE_ROWS, report_table

        # An explicit --limit shows that many rows; without one, a long table is capped.
        table = report_table(d, width=width, max_rows=TABLE_ROWS if limit is None else None)
        if not chart:
            return table
        from rich.console import Group

        from aiusage.output.charts import period_chart
        from aiusage.output.terminal import as_renderable

        return Group(as_renderable(table), period_chart(d, width=width))

    emit(doc, as_json=as_json, view=view, strict=strict, csv=csv, raw_csv=raw_csv)


@app.command("top-users", epilog=EPILOG_TOP)
@reading()
def top_users(
    selection: Selection,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many users.", min=1)] = 10,
    by: Annotated[str, typer.Option("--by", help="Rank by cost, tokens or requests.")] = "cost",
    as_csv: CsvOpt = False,
    raw_csv: RawCsvOpt = False,
    as_json: JsonOpt = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    cost: CostOpt = "recorded",
    no_cache: NoCacheOpt = False,
    strict: StrictOpt = False,
) -> None:
    """The users who cost the most (or used the most tokens or requests)."""
    from aiusage.output.terminal import top_users_view
    from aiusage.views.report import top_users_columns

    _choose_output(as_json, as_csv)
    ctx = Context(
        selection.data_dirs, tz, pricing, currency, cost=cost, use_cache=not no_cache, quiet=as_json
    )
    doc = ctx.workspace.top_users(
        by=by, limit=limit, **selection.range_values, **selection.filter_values
    )
    csv = (top_users_columns(), doc["users"]) if as_csv else None
    emit(doc, as_json=as_json, view=top_users_view, strict=strict, csv=csv, raw_csv=raw_csv)


@app.command(epilog=EPILOG_MODELS)
@reading()
def models(
    selection: Selection,
    as_json: JsonOpt = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    cost: CostOpt = "recorded",
    no_cache: NoCacheOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Compare models: cost per call and per 1K output tokens, success rate, latency."""
    from aiusage.engine.rollup import Query
    from aiusage.output.terminal_analyses import models_view
    from aiusage.views.report import build_models

    ctx = Context(
        selection.data_dirs, tz, pricing, currency, cost=cost, use_cache=not no_cache, quiet=as_json
    )
    query = Query((), "total", ctx.tz, selection.time_range(ctx), selection.filters())
    doc = build_models(ctx.source(), query, now=ctx.now)
    emit(doc, as_json=as_json, view=models_view, strict=strict)


cache_app = sub_app("Prompt-cache savings (this command), and the rollup cache (`clear`).")
app.add_typer(cache_app, name="cache")


@cache_app.callback(invoke_without_command=True, epilog=EPILOG_CACHE)
@reading()
def cache(
    ctx: typer.Context,
    selection: Selection,
    as_json: JsonOpt = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    cost: CostOpt = "recorded",
    no_cache: NoCacheOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Prompt-cache hit rate and the money it saved, per model and overall.

    `aiusage cache clear` deletes the rollup cache that keeps reports fast.
    """
    if ctx.invoked_subcommand is not None:
        return
    from aiusage.output.terminal_analyses import cache_view
    from aiusage.views.prompt_cache import build_cache

    context = Context(
        selection.data_dirs, tz, pricing, currency, cost=cost, use_cache=not no_cache, quiet=as_json
    )
    doc = build_cache(
        context.source(),
        tz=context.tz,
        time_range=selection.time_range(context),
        now=context.now,
        filters=selection.filters(),
    )
    emit(doc, as_json=as_json, view=cache_view, strict=strict)


@app.command(epilog=EPILOG_INTERVALS)
@reading()
def intervals(
    selection: Selection,
    by: Annotated[str, typer.Option("--by", help="Gaps per user or per key.")] = "user",
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Show at most N users.", min=1)
    ] = None,
    as_json: JsonOpt = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Minutes between consecutive calls per user (or key), and the cache TTL they suggest."""
    from aiusage.output.terminal_analyses import intervals_view
    from aiusage.views.prompt_cache import build_intervals

    ctx = Context(selection.data_dirs, tz, pricing, None, quiet=as_json)
    doc = build_intervals(
        ctx.source(),
        tz=ctx.tz,
        time_range=selection.time_range(ctx),
        now=ctx.now,
        by=by,
        filters=selection.filters(),
        limit=limit,
    )
    emit(doc, as_json=as_json, view=intervals_view, strict=strict)


@app.command(epilog=EPILOG_COUNTERS)
@reading(default_days=None)
def counters(
    selection: Selection,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Only keys starting with this.")
    ] = None,
    as_json: JsonOpt = False,
    tz: TzOpt = None,
    no_cache: NoCacheOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Counters over a range (default: all time): those counted with `aiusage incr`, and
    those derived from call records (api.total_requests, user.<id>.requests, ...)."""
    from aiusage.output.terminal_analyses import counters_view
    from aiusage.views.counters import build_counters

    ctx = Context(selection.data_dirs, tz, None, None, use_cache=not no_cache, quiet=as_json)
    doc = build_counters(
        ctx.source(),
        tz=ctx.tz,
        time_range=selection.time_range(ctx),
        now=ctx.now,
        prefix=prefix,
        filters=selection.filters(),
    )
    emit(doc, as_json=as_json, view=counters_view, strict=strict)


@cache_app.command("clear", epilog=EPILOG_CLEAR)
def cache_clear(data_dir: DataDirOpt = None) -> None:
    """Delete the rollup cache (<data dir>/.cache); reports rebuild it as they go."""
    from aiusage.engine.cache import RollupCache
    from aiusage.store.dayfiles import require_data_dir, resolve_data_dir

    directory = require_data_dir(resolve_data_dir(data_dir))
    n = RollupCache(directory).clear()
    sys.stderr.write(f"aiusage: removed {n} cached rollups from {directory}\n")
