"""Commands for unattended use: ``export`` (reports as files)."""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aiusage.cli.application import app
from aiusage.cli.common import (
    Context,
    CostOpt,
    CurrencyOpt,
    DataDirOpt,
    NoCacheOpt,
    PricingOpt,
    RawCsvOpt,
    StrictOpt,
    TzOpt,
    check_unpriced,
    warn_skipped,
)
from aiusage.cli.options import Selection, reading
from aiusage.errors import UsageError

if TYPE_CHECKING:
    from aiusage.engine.rollup import Filters
    from aiusage.engine.timerange import TimeRange
    from aiusage.views.document import Source

FORMATS = {"json": "json", "csv": "csv", "prom": "prom", "html": "html", "parquet": ""}
EPILOG_EXPORT = """
Examples:

  aiusage export --days 7 --out reports/                 # reports/usage_report_YYYYMMDD_HHMMSS.json
  aiusage export --days 1 --by model --format csv --out daily.csv
  aiusage export --since 2026-11-01 --format csv --columns focus --out focus.csv
  aiusage export --days 1 --format prom --out /var/lib/node_exporter/textfile/aiusage.prom
  aiusage export --days 1 --format prom --out - | curl --data-binary @- $PUSHGATEWAY/metrics/job/ai
  aiusage export --days 30 --format html --out dashboard.html
  aiusage export --all --format parquet --out lake/aiusage/   # date=YYYY-MM-DD/part-0.parquet
"""


@app.command(epilog=EPILOG_EXPORT)
@reading()
def export(
    selection: Selection,
    period: Annotated[
        str, typer.Option("--period", "-p", help="hour, day, week, month or total.")
    ] = "day",
    by: Annotated[
        list[str] | None, typer.Option("--by", "-b", help="Group by (repeatable), as in report.")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="json, csv, prom, html or parquet (a directory of day parts)."
        ),
    ] = "json",
    columns: Annotated[
        str,
        typer.Option(
            "--columns", help="csv columns: aiusage (default) or focus (FinOps FOCUS names)."
        ),
    ] = "aiusage",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="File, or directory for a usage_report_<time> file; - for stdout.",
        ),
    ] = None,
    raw_csv: RawCsvOpt = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    cost: CostOpt = "recorded",
    no_cache: NoCacheOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Write a report to a file, atomically (never a partial file), and print its path."""
    from aiusage.output.json_csv import report_file_name
    from aiusage.store.safepath import open_export

    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    if columns not in ("aiusage", "focus"):
        raise UsageError(f"unknown --columns {columns!r} (choose from aiusage, focus)")
    ctx = Context(selection.data_dirs, tz, pricing, currency, cost=cost, use_cache=not no_cache)
    rng = selection.time_range(ctx)
    filters = selection.filters()
    source = ctx.source()
    if fmt == "parquet":
        _parquet(source, rng, filters, out, strict)
        return
    shape = _Shape(fmt, columns, period, tuple(by or ()), strict, raw_csv)
    if out == Path("-"):  # the report itself on stdout, for a pipe
        sys.stdout.write(_report_text(source, ctx, rng, filters, shape))
        return
    out_dir, name = open_export(out, report_file_name(FORMATS[fmt], now=ctx.now))
    with out_dir:
        data = _report_text(source, ctx, rng, filters, shape).encode("utf-8")
        written = out_dir.write(name, lambda fh: fh.write(data), tidy=("usage_report_*",))
    sys.stdout.write(f"{written}\n")


@dataclass(frozen=True)
class _Shape:
    """What an export holds: format, CSV columns, period and group-by, strictness, and
    whether CSV cells are left raw."""

    fmt: str
    columns: str
    period: str
    by: tuple[str, ...]
    strict: bool
    raw_csv: bool


def _report_text(
    source: "Source", ctx: Context, rng: "TimeRange", filters: "Filters", shape: _Shape
) -> str:
    """The report of an export, as text in its format."""
    from aiusage.engine.rollup import Query, group_by
    from aiusage.output.json_csv import FOCUS_COLUMNS, focus_rows, to_csv, to_json
    from aiusage.views.report import build_report, report_columns

    dims, period = group_by(shape.by), shape.period
    if shape.fmt == "prom":
        dims, period = ("user", "model", "function"), "total"
    elif shape.fmt == "csv" and shape.columns == "focus" and not dims:
        dims = ("model", "provider", "user")
    doc = build_report(source, Query(dims, period, ctx.tz, rng, filters), now=ctx.now)
    warn_skipped(doc, shape.strict)
    check_unpriced(doc, shape.strict)
    if shape.fmt == "json":
        return to_json(doc)
    if shape.fmt == "csv" and shape.columns == "focus":
        return to_csv(FOCUS_COLUMNS, focus_rows(doc, ctx.tz), neutralise=not shape.raw_csv)
    if shape.fmt == "csv":
        return to_csv(report_columns(doc), doc["rows"], neutralise=not shape.raw_csv)
    if shape.fmt == "prom":
        from aiusage.output.prometheus import to_prometheus

        return to_prometheus(doc)
    return _html(source, ctx, rng, filters, doc)


def _parquet(
    source: "Source", rng: "TimeRange", filters: "Filters", out: Path | None, strict: bool
) -> None:
    """The records, Hive-partitioned by day, under the directory ``out``."""
    from aiusage.engine.rollup import filter_function
    from aiusage.output.parquet import write_parquet
    from aiusage.views.document import skipped_doc, source_files

    if out is None or out == Path("-"):
        raise UsageError("--format parquet writes a directory: it needs --out DIR")
    files = source_files(source, rng.first_day(), rng.last_day())
    keep = filter_function(filters, source.pricing.lookup)
    written, skipped = write_parquet(files, out, rng, keep=keep)
    warn_skipped(skipped_doc(skipped), strict)
    sys.stdout.write("".join(f"{path}\n" for path in written))


def _html(
    source: "Source", ctx: Context, rng: "TimeRange", filters: "Filters", daily: dict[str, Any]
) -> str:
    """The dashboard: the same range by day (given), by model, by user, top users, heatmap."""
    from aiusage.engine.rollup import Query
    from aiusage.output.html import to_html
    from aiusage.views.report import build_report, build_top_users
    from aiusage.views.trend import build_heatmap

    by_model = build_report(source, Query(("model",), "total", ctx.tz, rng, filters), now=ctx.now)
    by_user = build_report(source, Query(("user",), "total", ctx.tz, rng, filters), now=ctx.now)
    top = build_top_users(source, Query((), "total", ctx.tz, rng, filters), now=ctx.now)
    heat = build_heatmap(source, tz=ctx.tz, now=ctx.now, days=365, filters=filters)
    return to_html(daily, by_model, by_user, top, heat)


EPILOG_PRUNE = """
Examples:

  aiusage prune --older-than 400 --dry-run    # what would be deleted
  aiusage prune --older-than 400              # delete day files older than 400 days
"""
EPILOG_COMPACT = """
Examples:

  aiusage compact --older-than 7 --dry-run
  aiusage compact --older-than 7              # gzip closed day files older than a week
"""
OlderOpt = Annotated[
    str,
    typer.Option("--older-than", help="Age in days (400 or 400d); today's file is never touched."),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Only show what would change.")]


def _days(text: str) -> int:
    value = text.strip().removesuffix("d")
    if not value.isdigit():
        raise UsageError(f"--older-than expects a number of days like 400 or 400d, got {text!r}")
    return int(value)


def _retention(action: str, data_dir: Path | None, older_than: str, dry_run: bool) -> None:
    import time

    from aiusage.store import retention
    from aiusage.store.dayfiles import require_data_dir, resolve_data_dir

    directory = require_data_dir(resolve_data_dir(data_dir))
    run = retention.prune if action == "prune" else retention.compact
    changes = run(directory, older_than_days=_days(older_than), now=time.time(), dry_run=dry_run)
    verb = {
        "delete": "would delete" if dry_run else "deleted",
        "compress": "would compress" if dry_run else "compressed",
    }
    for change in changes:
        after = f" → {change.bytes_after:,} bytes" if change.bytes_after else ""
        sys.stdout.write(
            f"{verb[change.action]} {change.path.name} ({change.bytes_before:,} bytes{after})\n"
        )
    if not changes:
        sys.stderr.write(f"aiusage: nothing to {action}\n")


@app.command(epilog=EPILOG_PRUNE)
def prune(older_than: OlderOpt, dry_run: DryRunOpt = False, data_dir: DataDirOpt = None) -> None:
    """Delete day files older than --older-than days."""
    _retention("prune", data_dir, older_than, dry_run)


@app.command(epilog=EPILOG_COMPACT)
def compact(older_than: OlderOpt, dry_run: DryRunOpt = False, data_dir: DataDirOpt = None) -> None:
    """Gzip closed day files older than --older-than days (reports read them as before)."""
    _retention("compact", data_dir, older_than, dry_run)


EPILOG_CHECK = """
Examples:

  aiusage check                                  # budgets and quotas from config.yaml
  aiusage check --daily-budget 50 --monthly-budget 1000 --warn-at 0.8
  aiusage check --user-quota alice=100 --key-limit "sk-…9f3a=20"
  aiusage check --spike 3 --max-tokens-per-call 200000 --max-failure-rate 0.05
  aiusage check -d '/srv/*/aiusage' --daily-budget 50   # all servers together
  aiusage check --model gpt-4o --daily-budget 10        # one model's budget
  0 * * * * aiusage check || notify-team "AI budget breached"
"""


def _amount_map(values: list[str] | None, flag: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for item in values or ():
        who, sep, amount = item.rpartition("=")
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not sep or not who or value < 0:
            raise UsageError(f"{flag} expects NAME=AMOUNT, got {item!r}")
        out[who] = {"monthly" if flag == "--user-quota" else "daily": value}
    return out


@app.command(epilog=EPILOG_CHECK)
@reading(range_flags=False)
def check(
    selection: Selection,
    daily_budget: Annotated[
        float | None, typer.Option("--daily-budget", help="Today's cost limit.")
    ] = None,
    monthly_budget: Annotated[
        float | None,
        typer.Option(
            "--monthly-budget", help="This month's cost limit (also checks the forecast)."
        ),
    ] = None,
    warn_at: Annotated[
        float | None, typer.Option("--warn-at", help="Warn from this share of a limit (0.8).")
    ] = None,
    user_quota: Annotated[
        list[str] | None,
        typer.Option("--user-quota", help="USER=AMOUNT monthly quota (repeatable)."),
    ] = None,
    key_limit: Annotated[
        list[str] | None,
        typer.Option("--key-limit", help="KEY=AMOUNT daily limit, key as masked (repeatable)."),
    ] = None,
    spike: Annotated[
        float | None,
        typer.Option(
            "--spike", help="Breach when today's cost exceeds FACTOR × the 7-day average."
        ),
    ] = None,
    max_tokens_per_call: Annotated[
        int | None,
        typer.Option("--max-tokens-per-call", help="Breach when a call today used more tokens."),
    ] = None,
    max_failure_rate: Annotated[
        float | None,
        typer.Option(
            "--max-failure-rate", help="Breach when today's failure rate is higher (0-1)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine output (aiusage.check/1).")
    ] = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Check budgets, quotas and anomalies: one line per breach or warning on stdout; exit 0
    when every limit holds, 1 when one is exceeded (ready for `cron ... || notify`)."""
    from aiusage.output.json_csv import to_json

    ctx = Context(selection.data_dirs, tz, pricing, currency, use_cache=not no_cache, quiet=as_json)
    limits = ctx.workspace.limits(
        daily_budget=daily_budget,
        monthly_budget=monthly_budget,
        warn_at=warn_at,
        user_quotas=_amount_map(user_quota, "--user-quota"),
        key_limits=_amount_map(key_limit, "--key-limit"),
        spike=spike,
        max_tokens_per_call=max_tokens_per_call,
        max_failure_rate=max_failure_rate,
    )
    doc = ctx.workspace.check(limits, **selection.filter_values)
    warn_skipped(doc, False)
    if as_json:
        sys.stdout.write(to_json(doc))
    else:
        for entry in doc["checks"]:
            if entry["status"] != "ok":
                sys.stdout.write(
                    f"{entry['status'].upper()} {entry['check']}: {entry['message']}\n"
                )
        ok = len(doc["checks"]) - doc["breaches"] - doc["warnings"]
        sys.stderr.write(
            f"aiusage: {len(doc['checks'])} checks: {doc['breaches']} breached, "
            f"{doc['warnings']} warnings, {ok} ok\n"
        )
    if doc["breaches"]:
        raise typer.Exit(1)
