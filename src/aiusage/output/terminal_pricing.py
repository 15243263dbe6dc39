"""Terminal views of the pricing table: entries, a name's resolution, a cost's arithmetic,
and what re-pricing would change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from aiusage.output.terminal import fixed_table
from aiusage.views.formatting import count, money

RATE_HEADINGS = (
    ("input", "Input"),
    ("output", "Output"),
    ("cache_read", "Cache read"),
    ("cache_write", "Cache write"),
    ("cache_write_1h", "Write 1h"),
    ("reasoning", "Reasoning"),
)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def pricing_list_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """Every entry with its per-1M rates."""
    rows: list[list[RenderableType]] = []
    for m in doc["models"]:
        extras = []
        if m["tiers"]:
            extras.append("tiers > " + ", ".join(f"{t['above']:,}" for t in m["tiers"]))
        if m["per_request"]:
            extras.append(f"+{m['per_request']:g}/request")
        if m["batch_multiplier"] is not None:
            extras.append(f"batch ×{m['batch_multiplier']:g}")
        rows.append(
            [m["model"], m["provider"] or "-", m["currency"]]
            + [_rate(m[key]) for key, _ in RATE_HEADINGS]
            + ["; ".join(extras)]
        )
    headings = [("Model", "left"), ("Provider", "left"), ("Cur", "left")]
    headings += [(h, "right") for _, h in RATE_HEADINGS] + [("Also", "left")]
    table, kept, _ = fixed_table(
        f"Prices per 1M tokens (table {doc['version']})",
        headings,
        rows,
        width=width,
        droppable=("Also", "Reasoning", "Write 1h", "Provider", "Cache write"),
    )
    for cells in rows:
        table.add_row(*(cells[i] for i in kept))
    return Group(table, Text(f"{len(rows)} models.", style="dim"))


def pricing_show_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """How one name resolves, and the entry's prices."""
    lines: list[RenderableType] = []
    entry = doc["entry"]
    if entry is None:
        lines.append(Text(f"{doc['model']}: unknown model", style="bold yellow"))
        lines.append(Text(doc["explanation"]))
        if doc.get("similar"):
            lines.append(Text("Similar names (not used for pricing): " + ", ".join(doc["similar"])))
        lines.append(
            Text("Add it to pricing.yaml in the data dir, or pass --pricing FILE.", style="dim")
        )
        return Group(*lines)
    lines.append(
        Text(
            f"{doc['model']} → {entry['model']}  ({doc['rule']}: {doc['explanation']})",
            style="bold",
        )
    )
    lines.append(
        Text(f"provider {entry['provider'] or '-'}, prices per 1M tokens in {entry['currency']}:")
    )
    for key, heading in RATE_HEADINGS:
        if entry[key] is not None:
            lines.append(Text(f"  {heading:<12} {entry[key]:g}"))
    for tier in entry["tiers"]:
        rates = ", ".join(f"{k} {tier[k]:g}" for k, _ in RATE_HEADINGS if tier[k] is not None)
        lines.append(Text(f"  prompt > {tier['above']:,} tokens: {rates}"))
    if entry["per_request"]:
        lines.append(Text(f"  per request  {entry['per_request']:g}"))
    if entry["batch_multiplier"] is not None:
        lines.append(Text(f"  batch calls  ×{entry['batch_multiplier']:g}"))
    if entry["aliases"]:
        lines.append(Text(f"aliases: {', '.join(entry['aliases'])}", style="dim"))
    if entry["source"]:
        lines.append(Text(f"source: {entry['source']}", style="dim"))
    lines.append(Text(f"price_ref: {doc['price_ref']}", style="dim"))
    return Group(*lines)


def pricing_cost_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """The arithmetic of a cost, one line per token type."""
    currency = doc["currency"]
    rows: list[list[RenderableType]] = [
        [line["item"], count(line["tokens"]), f"{line['rate_per_1m']:g}", line["amount"]]
        for line in doc["lines"]
    ]
    headings = [("Item", "left"), ("Tokens", "right"), ("Per 1M", "right"), (currency, "right")]
    table, kept, _ = fixed_table(f"{doc['model']} → {doc['entry']}", headings, rows, width=width)
    for cells in rows:
        table.add_row(*(cells[i] for i in kept))
    table.add_section()
    table.add_row(*(["Total", "", "", doc["exact"]][i] for i in kept), style="bold")
    return Group(table, Text(f"= {money(doc['cost'], currency, digits=6)}  ({doc['price_ref']})"))


def reprice_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """Per day and model, the recorded cost against today's prices."""
    currency = doc["currency"]
    rows: list[list[RenderableType]] = [
        [
            r["day"],
            r["model"],
            count(r["requests"]),
            money(r["recorded_cost"], currency, digits=4),
            money(r["current_cost"], currency, digits=4),
            Text(f"{r['change']:+.6f}", style="yellow" if r["change"] else "dim"),
        ]
        for r in doc["rows"]
        if r["change"] or r["unpriced_now"]
    ]
    headings = [("Day", "left"), ("Model", "left"), ("Requests", "right")]
    headings += [("Recorded", "right"), ("Today's prices", "right"), ("Change", "right")]
    table, kept, _ = fixed_table("What today's prices would change", headings, rows, width=width)
    for cells in rows:
        table.add_row(*(cells[i] for i in kept))
    t = doc["totals"]
    summary = Text(
        f"{t['requests']:,} requests: recorded {money(t['recorded_cost'], currency)}, at today's "
        f"prices {money(t['current_cost'], currency)} ({t['change']:+.6f} {currency}); "
        f"{len(doc['changed_days'])} closed days would be rewritten."
    )
    if not rows:
        summary = Text("Nothing would change: every recorded cost matches today's prices.")
    return Group(table, summary) if rows else summary
