"""``aiusage reconcile``: the local records against a provider's billing export."""

from pathlib import Path
from typing import Annotated

import typer

from aiusage.cli.application import app
from aiusage.cli.common import Context, JsonOpt, NoCacheOpt, PricingOpt, emit
from aiusage.cli.options import Selection, reading

EPILOG = """
Examples:

  # OpenAI: the Costs API (grouped by line_item) or the Usage API (grouped by model)
  Q="start_time=1793491200&group_by=line_item&limit=31"
  curl -s "https://api.openai.com/v1/organization/costs?$Q" \\
      -H "Authorization: Bearer $OPENAI_ADMIN_KEY" > openai-costs.json
  aiusage reconcile openai-costs.json

  # Anthropic: the Cost API (grouped by description) or the Usage API (grouped by model)
  Q="starting_at=2026-11-01T00:00:00Z&group_by[]=description"
  curl -s "https://api.anthropic.com/v1/organizations/cost_report?$Q" \\
      -H "anthropic-version: 2023-06-01" -H "x-api-key: $ANTHROPIC_ADMIN_KEY" > costs.json
  aiusage reconcile costs.json --json

  aiusage reconcile bill.csv --check          # exit 1 when a day and model do not match
"""


@app.command(epilog=EPILOG)
@reading(range_flags=False)
def reconcile(
    selection: Selection,
    bill: Annotated[Path, typer.Argument(help="A billing export: usage/cost API JSON, or CSV.")],
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when any day and model does not match.")
    ] = False,
    as_json: JsonOpt = False,
    pricing: PricingOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Compare the local records with a provider's bill, per UTC day and model, and name the
    likely cause of each difference (missing records, cache accounting, unpriced models,
    other prices)."""
    from aiusage.output.terminal_analyses import reconcile_view
    from aiusage.views.reconcile import read_bill, reconcile_doc
    from aiusage.views.reconcile import reconcile as compare

    ctx = Context(selection.data_dirs, "UTC", pricing, "USD", use_cache=not no_cache, quiet=as_json)
    parsed = read_bill(bill)
    compared = compare(ctx.source(), parsed, filters=selection.filters())
    doc = reconcile_doc(compared, parsed, now=ctx.now)
    emit(doc, as_json=as_json, view=reconcile_view)
    if check and doc["totals"]["rows_differing"]:
        raise typer.Exit(1)
