"""``aiusage pricing list|show|cost|check|import`` and ``aiusage reprice``."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from aiusage.cli.application import app, sub_app
from aiusage.cli.common import (
    Context,
    CurrencyOpt,
    DataDirOpt,
    JsonOpt,
    NoCacheOpt,
    PricingOpt,
    TzOpt,
    emit,
)
from aiusage.cli.options import Selection, reading
from aiusage.errors import UsageError

if TYPE_CHECKING:
    from aiusage.pricing.table import PricingTable

pricing_app = sub_app(
    "The pricing table: list, explain, compute, check and import prices.", no_args_is_help=True
)
app.add_typer(pricing_app, name="pricing")

EPILOG_LIST = """
Examples:

  aiusage pricing list --provider anthropic
  aiusage pricing list --search gpt-5 --json
"""
EPILOG_SHOW = """
Examples:

  aiusage pricing show gpt-4o-2024-08-06     # date suffix → gpt-4o
  aiusage pricing show openai/gpt-4o-mini    # provider prefix → gpt-4o-mini
  aiusage pricing show my-finetune           # unknown: recorded with cost null
"""
EPILOG_COST = """
Examples:

  aiusage pricing cost gpt-4o --input 1200 --output 300
  aiusage pricing cost claude-sonnet-4-5 --input 50 --cache-read 100000 \\
      --cache-write 556 --cache-write-1h 100 --output 503
  aiusage pricing cost gemini-2.5-pro --input 250000 --output 2000 --json
"""
EPILOG_CHECK = """
Examples:

  aiusage pricing check                      # the packaged table + the data dir's
  aiusage pricing check my-prices.yaml
"""
EPILOG_IMPORT = """
Examples:

  aiusage pricing import model_prices_and_context_window.json --out pricing.yaml
  aiusage pricing import litellm.json --only openai,anthropic -o ~/.local/share/aiusage/pricing.yaml
"""
EPILOG_REPRICE = """
Examples:

  aiusage reprice --since 2026-11-01 --dry-run   # what today's prices would change
  aiusage reprice --since 2026-11-01             # rewrite closed days with today's prices
"""


def _table(data_dir: Path | None, pricing: Path | None) -> "PricingTable":
    from aiusage.workspace import Workspace

    return Workspace(data_dir, pricing=pricing).pricing


@pricing_app.command("list", epilog=EPILOG_LIST)
def pricing_list(
    provider: Annotated[str | None, typer.Option("--provider", help="Only this provider.")] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Only names containing this.")
    ] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    pricing: PricingOpt = None,
) -> None:
    """List the models of the pricing table with their prices per 1M tokens."""
    from aiusage.output.terminal_pricing import pricing_list_view
    from aiusage.views.pricing import list_models

    doc = list_models(_table(data_dir, pricing), provider=provider, search=search)
    emit(doc, as_json=as_json, view=pricing_list_view)


@pricing_app.command("show", epilog=EPILOG_SHOW)
def pricing_show(
    model: Annotated[str, typer.Argument(help="A model name as your code or logs write it.")],
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    pricing: PricingOpt = None,
) -> None:
    """Which entry a model name resolves to, and why."""
    from aiusage.output.terminal_pricing import pricing_show_view
    from aiusage.views.pricing import show

    emit(show(_table(data_dir, pricing), model), as_json=as_json, view=pricing_show_view)


@pricing_app.command("cost", epilog=EPILOG_COST)
def pricing_cost(
    model: Annotated[str, typer.Argument(help="Model name.")],
    input_tokens: Annotated[int, typer.Option("--input", help="Plain input tokens.")] = 0,
    output_tokens: Annotated[
        int, typer.Option("--output", help="Output tokens (reasoning included).")
    ] = 0,
    cache_read: Annotated[int, typer.Option("--cache-read", help="Cache-read tokens.")] = 0,
    cache_write: Annotated[int, typer.Option("--cache-write", help="Cache-write tokens.")] = 0,
    cache_write_1h: Annotated[
        int, typer.Option("--cache-write-1h", help="The 1-hour part of --cache-write.")
    ] = 0,
    reasoning: Annotated[
        int, typer.Option("--reasoning", help="The reasoning part of --output.")
    ] = 0,
    batch: Annotated[bool, typer.Option("--batch", help="A batch-API call.")] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    pricing: PricingOpt = None,
) -> None:
    """The cost of a call, with the arithmetic shown."""
    from aiusage.output.terminal_pricing import pricing_cost_view
    from aiusage.pricing.cost import TokenCounts
    from aiusage.views.pricing import cost

    counts = TokenCounts(
        input=input_tokens,
        output=output_tokens,
        cache_read=cache_read,
        cache_write=cache_write,
        cache_write_1h=cache_write_1h,
        reasoning=reasoning,
    )
    doc = cost(_table(data_dir, pricing), model, counts, batch=batch)
    emit(doc, as_json=as_json, view=pricing_cost_view)


@pricing_app.command("check", epilog=EPILOG_CHECK)
def pricing_check(
    file: Annotated[
        Path | None, typer.Argument(help="A pricing file to check on top of the table.")
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate pricing files: every error names the file, the model and the field."""
    table = _table(data_dir, file)
    doc = {
        "schema": "aiusage.pricing-check/1",
        "ok": True,
        "models": len(table.prices),
        "sources": list(table.sources),
        "version": table.version,
    }
    if as_json:
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
    else:
        where = ", ".join(table.sources)
        sys.stdout.write(f"ok: {len(table.prices)} models from {where} (table {table.version})\n")


@pricing_app.command("import", epilog=EPILOG_IMPORT)
def pricing_import(
    file: Annotated[Path, typer.Argument(help="LiteLLM's model_prices_and_context_window.json.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here (default: stdout).")
    ] = None,
    only: Annotated[
        str | None, typer.Option("--only", help="Comma-separated providers, first wins on clashes.")
    ] = None,
) -> None:
    """Turn LiteLLM's price map into an aiusage pricing.yaml (offline)."""
    from aiusage.pricing.litellm import import_file
    from aiusage.pricing.table import load_table

    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    text = import_file(raw, only=only.split(",") if only else None, source=file.name)
    if out is None:
        sys.stdout.write(text)
        return
    from aiusage.store.safepath import open_export

    out_dir, name = open_export(out, "pricing.yaml")
    with out_dir:
        written = out_dir.write(name, lambda fh: fh.write(text.encode()))
    table = load_table(extra=written)
    sys.stderr.write(f"aiusage: wrote {written} ({len(table.prices)} models after merging)\n")


@app.command(epilog=EPILOG_REPRICE)
@reading()
def reprice(
    selection: Selection,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show what would change.")
    ] = False,
    as_json: JsonOpt = False,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Show per day and model what today's prices would change, and (without --dry-run)
    rewrite closed day files with them, atomically. Today's file is never rewritten."""
    from aiusage.output.terminal_pricing import reprice_view
    from aiusage.views.reprice import apply, plan

    ctx = Context(selection.data_dirs, tz, pricing, currency, use_cache=not no_cache, quiet=as_json)
    rng = selection.time_range(ctx)
    filters = selection.filters()
    doc = plan(ctx.source(), tz=ctx.tz, time_range=rng, now=ctx.now, filters=filters)
    if not dry_run:
        doc["rewritten"] = apply(ctx.source(), time_range=rng, now=ctx.now, filters=filters)
    emit(doc, as_json=as_json, view=reprice_view)
    if not dry_run and not as_json:
        n = sum(doc["rewritten"].values())
        sys.stderr.write(f"aiusage: re-priced {n:,} records in {len(doc['rewritten'])} files\n")
