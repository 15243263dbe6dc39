"""Commands for unattended use: ``export`` (reports as files)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aiusage.cli.application import app
from aiusage.cli.common import (
    AllOpt,
    Context,
    CostOpt,
    CurrencyOpt,
    DataDirOpt,
    DaysOpt,
    ModelOpt,
    NoCacheOpt,
    PricingOpt,
    SinceOpt,
    StrictOpt,
    TagOpt,
    TzOpt,
    UntilOpt,
    UserOpt,
    check_unpriced,
    make_filters,
    warn_skipped,
)
from aiusage.errors import UsageError

if TYPE_CHECKING:
    from aiusage.aggregate import Filters
    from aiusage.document import Source
    from aiusage.timerange import TimeRange

FORMATS = {"json": "json", "csv": "csv", "prom": "prom", "html": "html"}
EPILOG_EXPORT = """
Examples:

  aiusage export --days 7 --out reports/                 # reports/usage_report_YYYYMMDD_HHMMSS.json
  aiusage export --days 1 --by model --format csv --out daily.csv
  aiusage export --since 2026-11-01 --format csv --columns focus --out focus.csv
  aiusage export --days 1 --format prom --out /var/lib/node_exporter/textfile/aiusage.prom
  aiusage export --days 30 --format html --out dashboard.html
"""


@app.command(epilog=EPILOG_EXPORT)
def export(
    days: DaysOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    all_time: AllOpt = False,
    period: Annotated[
        str, typer.Option("--period", "-p", help="hour, day, week, month or total.")
    ] = "day",
    by: Annotated[
        list[str] | None, typer.Option("--by", "-b", help="Group by (repeatable), as in report.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, csv, prom or html.")] = "json",
    columns: Annotated[
        str,
        typer.Option(
            "--columns", help="csv columns: aiusage (default) or focus (FinOps FOCUS names)."
        ),
    ] = "aiusage",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="File, or directory for a usage_report_<time> file."),
    ] = None,
    user: UserOpt = None,
    model: ModelOpt = None,
    tag: TagOpt = None,
    data_dir: DataDirOpt = None,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    cost: CostOpt = "recorded",
    no_cache: NoCacheOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Write a report to a file, atomically (never a partial file), and print its path."""
    from aiusage.aggregate import Query
    from aiusage.export import export_path, focus_rows, to_csv, to_json, write_atomic
    from aiusage.report import build_report, report_columns

    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    if columns not in ("aiusage", "focus"):
        raise UsageError(f"unknown --columns {columns!r} (choose from aiusage, focus)")
    ctx = Context(data_dir, tz, pricing, currency, cost=cost, use_cache=not no_cache)
    rng = ctx.time_range(days=days, since=since, until=until, all_time=all_time)
    filters = make_filters(user=user, model=model, tag=tag)
    source = ctx.source()
    target = export_path(out, FORMATS[fmt], now=ctx.now)
    dims = tuple(dict.fromkeys(by or ()))
    if fmt == "prom":
        dims, period = ("user", "model", "function"), "total"
    elif fmt == "csv" and columns == "focus" and not dims:
        dims = ("model", "provider", "user")
    doc = build_report(source, Query(dims, period, ctx.tz, rng, filters), now=ctx.now)
    warn_skipped(doc, strict)
    check_unpriced(doc, strict)
    if fmt == "json":
        data = to_json(doc)
    elif fmt == "csv":
        if columns == "focus":
            from aiusage.export import FOCUS_COLUMNS

            data = to_csv(FOCUS_COLUMNS, focus_rows(doc, ctx.tz))
        else:
            data = to_csv(report_columns(doc), doc["rows"])
    elif fmt == "prom":
        from aiusage.prometheus import to_prometheus

        data = to_prometheus(doc)
    else:
        data = _html(source, ctx, rng, filters, doc)
    write_atomic(target, data.encode("utf-8"), mode=0o600)
    sys.stdout.write(f"{target}\n")


def _html(
    source: Source, ctx: Context, rng: TimeRange, filters: Filters, daily: dict[str, Any]
) -> str:
    """The dashboard: the same range by day (given), by model, by user, top users, heatmap."""
    from aiusage.aggregate import Query
    from aiusage.html_report import to_html
    from aiusage.report import build_report, build_top_users
    from aiusage.trend import build_heatmap

    by_model = build_report(source, Query(("model",), "total", ctx.tz, rng, filters), now=ctx.now)
    by_user = build_report(source, Query(("user",), "total", ctx.tz, rng, filters), now=ctx.now)
    top = build_top_users(source, Query((), "total", ctx.tz, rng, filters), now=ctx.now)
    heat = build_heatmap(source, tz=ctx.tz, now=ctx.now, days=365, filters=filters)
    return to_html(daily, by_model, by_user, top, heat)
