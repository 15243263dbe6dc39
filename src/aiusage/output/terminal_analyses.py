"""Terminal tables of the analyses: model comparison, cache savings, request intervals and
counters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from aiusage.output.tables import label, title
from aiusage.output.terminal import cost_cell, fixed_table, notes, rate_cell
from aiusage.views.formatting import cost_digits, count, money, percent


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def models_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """Models side by side, cheapest per call first."""
    currency = doc["currency"]
    rows: list[list[RenderableType]] = [
        [
            row["model"],
            count(row["requests"]),
            money(row["cost_per_call"], currency, digits=5),
            money(row["cost_per_1k_output_tokens"], currency, digits=4),
            cost_cell(row, currency, cost_digits(doc["totals"]["cost"])),
            percent(row["cost_share"]),
            rate_cell(row),
            _ms(row["p95_duration_ms"]),
        ]
        for row in doc["rows"]
    ]
    headings = [("Model", "left")] + [
        (h, "right")
        for h in ("Requests", "Per call", "Per 1K out", "Cost", "Share", "Success", "p95 latency")
    ]
    table, kept, _ = fixed_table(
        title(doc, "Models compared"),
        headings,
        rows,
        width=width,
        droppable=("Share", "p95 latency", "Per 1K out"),
    )
    for cells in rows:
        table.add_row(*(cells[i] for i in kept))
    return Group(table, *notes(doc))


def cache_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """Prompt-cache hit rates and savings per model, with the overall line."""
    currency = doc["currency"]

    def cells(name: str, row: Mapping[str, Any]) -> list[RenderableType]:
        return [
            name,
            count(row["requests"]),
            percent(row["request_hit_rate"]),
            count(row["cache_read_tokens"]),
            percent(row["hit_rate"]),
            money(row["saved"], currency),
            money(row["write_premium"], currency),
            money(row["net_saved"], currency),
        ]

    rows = [cells(row["model"], row) for row in doc["rows"]]
    total = cells("Total", doc["totals"])
    headings = [("Model", "left")] + [
        (h, "right")
        for h in (
            "Requests",
            "Hit calls",
            "Cache read",
            "Hit rate",
            "Saved",
            "Write extra",
            "Net saved",
        )
    ]
    table, kept, _ = fixed_table(
        title(doc, "Prompt cache"),
        headings,
        [*rows, total],
        width=width,
        droppable=("Write extra", "Hit calls", "Requests"),
    )
    for row_cells in rows:
        table.add_row(*(row_cells[i] for i in kept))
    table.add_section()
    table.add_row(*(total[i] for i in kept), style="bold")
    footer = [
        Text(
            "Hit rate = cache-read tokens / all prompt tokens. Saved = cache reads at the plain "
            "input price minus what they cost; write extra = what cache writes cost above it.",
            style="dim",
        )
    ]
    return Group(table, *footer, *notes({**doc, "totals": {"requests": doc["totals"]["requests"]}}))


def intervals_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """Minutes between consecutive calls per user (or key) and the cache TTL they suggest."""
    who = "User" if doc["by"] == "user" else "Key"
    field = "user_id" if doc["by"] == "user" else "api_key"

    def share(row: Mapping[str, Any], name: str) -> str:
        return percent(row["shares"][name])

    rows: list[list[RenderableType]] = [
        [
            label(row[field]),
            count(row["calls"]),
            share(row, "le_5min"),
            share(row, "le_15min"),
            share(row, "le_30min"),
            share(row, "le_60min"),
            share(row, "over_60min"),
            "-" if row["p50_minutes"] is None else f"{row['p50_minutes']:.1f}",
            "-" if row["p90_minutes"] is None else f"{row['p90_minutes']:.1f}",
            f"{row['recommended_ttl_minutes']} min",
        ]
        for row in doc["rows"]
    ]
    headings = [(who, "left")] + [
        (h, "right")
        for h in ("Calls", "≤5m", "5–15m", "15–30m", "30–60m", ">60m", "p50 min", "p90 min", "TTL")
    ]
    table, kept, keep = fixed_table(
        title(doc, "Gaps between calls"),
        headings,
        rows,
        width=width,
        flexible="Why",
        droppable=("30–60m", "15–30m", "p50 min"),
    )
    for cells, row in zip(rows, doc["rows"], strict=True):
        table.add_row(*(cells[i] for i in kept), *([row["reason"]] if keep else []))
    counts = ", ".join(f"{n} × {ttl}" for ttl, n in doc["recommended_ttl_counts"].items() if n)
    footer = [Text(f"Recommended TTLs: {counts or 'none'}.", style="dim")]
    if not doc["rows"]:
        footer.append(Text("No user made two successful calls in this range.", style="dim"))
    return Group(table, *footer)


def counters_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """Counter values, with how much of each was counted and derived from calls."""
    rows: list[list[RenderableType]] = [
        [row["key"], count(row["value"]), count(row["counted"]), count(row["derived"])]
        for row in doc["counters"]
    ]
    headings = [("Key", "left"), ("Value", "right"), ("Counted", "right"), ("From calls", "right")]
    table, kept, _ = fixed_table(title(doc, "Counters"), headings, rows, width=width)
    for cells in rows:
        table.add_row(*(cells[i] for i in kept))
    footer = [] if rows else [Text("No counters in this range.", style="dim")]
    return Group(table, *footer)


def reconcile_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """Local cost against the bill, per UTC day and model: the short cause in the table,
    what each cause means below it."""
    rows: list[list[RenderableType]] = []
    explained: dict[str, str] = {}
    for row in doc["rows"]:
        difference = row["difference"]
        short, _, why = row["cause"].partition(": ")
        matched = short == "match"
        if why:
            explained.setdefault(short, why)
        rows.append(
            [
                row["day"],
                row["model"],
                count(row["local_requests"]),
                money(row["local_cost"], "USD", digits=2),
                "-" if row["billed_cost"] is None else money(row["billed_cost"], "USD", digits=2),
                Text(
                    "-" if difference is None else f"{difference:+,.2f}",
                    style="" if matched else "yellow",
                ),
                Text(short, style="green" if matched else "yellow"),
            ]
        )
    headings = [("Day", "left"), ("Model", "left")] + [
        (h, "right") for h in ("Calls", "Local", "Billed", "Difference")
    ]
    table, kept, _ = fixed_table(
        title(doc, "Records against the bill"),
        [*headings, ("Likely cause", "left")],
        rows,
        width=width,
        droppable=("Calls",),
    )
    for cells in rows:
        table.add_row(*(cells[i] for i in kept))
    totals = doc["totals"]
    summary = Text(
        f"local {money(totals['local_cost'], 'USD', digits=2)} · billed "
        f"{money(totals['billed_cost'], 'USD', digits=2)} · difference "
        f"{totals['difference']:+,.2f} USD · {totals['rows_differing']} of {len(doc['rows'])} "
        f"rows differ ({doc['bill_format']} bill, UTC days)"
    )
    legend = [Text(f"{short}: {why}") for short, why in explained.items()]
    return Group(table, summary, *legend)
