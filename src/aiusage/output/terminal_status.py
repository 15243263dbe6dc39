"""Terminal views of the status commands: ``stats`` (right now), ``logs`` (the calls) and
``doctor`` (the data dir's health)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.text import Text

from aiusage.output.tables import label
from aiusage.output.terminal import fixed_table, rate_cell
from aiusage.views.formatting import cost_digits, count, money, percent

WINDOW_LABELS = {
    "last_1m": "Last minute",
    "last_1h": "Last hour",
    "last_24h": "Last 24 hours",
    "this_hour": "This hour",
    "today": "Today",
    "this_month": "This month",
}


def stats_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """Calls, failures, tokens and cost per window, then today's breakdowns."""
    currency = doc["currency"]
    windows = doc["windows"]
    digits = cost_digits(windows["this_month"]["cost"])
    rows: list[list[RenderableType]] = [
        [
            WINDOW_LABELS[name],
            count(w["requests"]),
            Text(count(w["failures"]), style="red" if w["failures"] else ""),
            rate_cell(w),
            count(w["total_tokens"]),
            money(w["cost"], currency, digits=digits),
        ]
        for name, w in windows.items()
    ]
    headings = [("", "left")] + [
        (h, "right") for h in ("Calls", "Failed", "Success", "Tokens", "Cost")
    ]
    now = doc["now"][:16].replace("T", " ")
    table, kept, _ = fixed_table(
        f"Now: {now} ({doc['range']['tz']}, {currency})", headings, rows, width=width
    )
    for cells in rows:
        table.add_row(*(cells[i] for i in kept))
    parts: list[RenderableType] = [table]
    for what in ("by_model", "by_function"):
        today = doc[what]["today"]
        if not today:
            continue
        sub_rows: list[list[RenderableType]] = [
            [
                label(r["name"]),
                count(r["requests"]),
                rate_cell(r),
                count(r["total_tokens"]),
                money(r["cost"], currency, digits=digits),
            ]
            for r in today
        ]
        sub_headings = [("Model" if what == "by_model" else "Function", "left")] + [
            (h, "right") for h in ("Calls", "Success", "Tokens", "Cost")
        ]
        sub, kept_sub, _ = fixed_table(
            f"Today {what.replace('_', ' ')}", sub_headings, sub_rows, width=width
        )
        for cells in sub_rows:
            sub.add_row(*(cells[i] for i in kept_sub))
        parts.append(sub)
    return Group(*parts)


def logs_view(
    calls: Sequence[Mapping[str, Any]], tz: ZoneInfo, *, width: int = 120
) -> RenderableType:
    """One row per call: time, user, model, function, tokens, cost, latency, key, status."""
    rows: list[list[RenderableType]] = []
    for rec in calls:
        cached = (rec.get("cache_read_tokens") or 0) + (rec.get("cache_write_tokens") or 0)
        cost = rec.get("cost")
        rows.append(
            [
                dt.datetime.fromtimestamp(rec["timestamp"], tz).strftime("%m-%d %H:%M:%S"),
                label(rec.get("user_id")),
                rec["model"],
                label(rec.get("function")),
                f"{rec.get('input_tokens') or 0:,}+{cached:,}→{rec.get('output_tokens') or 0:,}",
                "unpriced" if cost is None else money(cost, rec.get("currency") or "USD", digits=4),
                "-" if rec.get("duration_ms") is None else f"{rec['duration_ms']:,.0f}ms",
                rec.get("api_key") or "-",
            ]
        )
    headings = [("Time", "left"), ("User", "left"), ("Model", "left"), ("Function", "left")]
    headings += [
        ("In+cache→out", "right"),
        ("Cost", "right"),
        ("Latency", "right"),
        ("Key", "left"),
    ]
    table, kept, keep = fixed_table(
        f"Calls, newest first ({tz.key})",
        headings,
        rows,
        width=width,
        flexible="Status",
        droppable=("Key", "Latency", "Function"),
        keep_flexible_first=True,
    )
    for cells, rec in zip(rows, calls, strict=True):
        ok = rec.get("success", True) is not False
        failure = f"{rec.get('status_code') or ''} {rec.get('error_msg') or 'failed'}".strip()
        status = Text("ok") if ok else Text(failure, style="red")
        table.add_row(*(cells[i] for i in kept), *([status] if keep else []))
    return table


def doctor_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """The data dir check: files, totals, problems."""
    files = doc["files"]
    rows: list[list[RenderableType]] = [
        [
            f["file"],
            count(f["records"]),
            Text(count(f["malformed_lines"]), style="red" if f["malformed_lines"] else ""),
            Text(count(f["misplaced_records"]), style="yellow" if f["misplaced_records"] else ""),
            f"{f['bytes']:,}",
            f["mode"],
        ]
        for f in files
    ]
    headings = [("File", "left")] + [
        (h, "right") for h in ("Records", "Malformed", "Misplaced", "Bytes", "Mode")
    ]
    title = f"aiusage doctor: {', '.join(doc['data_dirs'])}"
    table, kept, _ = fixed_table(title, headings, rows, width=width)
    for cells in rows:
        table.add_row(*(cells[i] for i in kept))
    span = f"{(doc['first_record'] or '-')[:19]} → {(doc['last_record'] or '-')[:19]} UTC"
    out: list[RenderableType] = [
        table,
        Text(f"{len(files)} files, {doc['records']:,} records, {span}."),
    ]
    if doc.get("duplicate_records"):
        out.append(Text(f"{doc['duplicate_records']:,} records in several data dirs counted once."))
    for item in doc["malformed"][:20]:
        out.append(Text(f"error: {item['file']}:{item['line']}: {item['reason']}", style="red"))
    if doc["malformed_lines"] > 20:
        out.append(Text(f"... and {doc['malformed_lines'] - 20} more malformed lines", style="red"))
    for item in doc["misplaced"][:5]:
        out.append(
            Text(f"warning: {item['file']}:{item['line']}: {item['reason']}", style="yellow")
        )
    for warning in doc["warnings"]:
        out.append(Text(f"warning: {warning}", style="yellow"))
    for split in doc.get("split_days", ()):
        out.append(
            Text(
                f"info: {split['day']} is in two files, {split['gzip']} and {split['plain']} "
                f"(the gzip holds its first {split['held_bytes']:,} bytes; each record is "
                "counted once, and compact folds them)"
            )
        )
    if not doc["errors"] and not doc["warnings"]:
        out.append(Text("No problems found.", style="green"))
    return Group(*out)


def watch_view(
    state: Any, *, now: float, tz: ZoneInfo, currency: str, width: int = 120
) -> RenderableType:
    """The live view: today's totals, calls per minute over the last hour, newest calls."""
    from aiusage.output.charts import sparkline

    per_minute = state.calls_per_minute(now)
    head = Text()
    head.append(
        f"aiusage watch · {dt.datetime.fromtimestamp(now, tz):%Y-%m-%d %H:%M:%S} {tz.key}\n",
        style="bold",
    )
    head.append(f"today: {state.requests:,} calls · {state.tokens:,} tokens · ")
    head.append(money(state.cost, currency), style="bold")
    rate = state.error_rate
    head.append(" · errors ")
    head.append(percent(rate), style="red" if rate and rate > 0.05 else "")
    head.append(f"\ncalls/min, last hour (now {per_minute[-1]}/min): ")
    head.append(sparkline(per_minute[-max(min(width - 40, 60), 10) :]), style="cyan")
    rows: list[list[RenderableType]] = [
        [
            dt.datetime.fromtimestamp(call["timestamp"], tz).strftime("%H:%M:%S"),
            label(call["user_id"]),
            str(call["model"]),
            f"{call['tokens']:,}",
            "unpriced"
            if call["cost"] is None
            else money(call["cost"], call["currency"] or currency, digits=4),
            "-" if call["duration_ms"] is None else f"{call['duration_ms']:,.0f}ms",
            Text("ok") if call["success"] else Text("FAILED", style="red"),
        ]
        for call in state.latest
    ]
    headings = [("Time", "left"), ("User", "left"), ("Model", "left"), ("Tokens", "right")]
    headings += [("Cost", "right"), ("Latency", "right"), ("Status", "left")]
    table, kept, _ = fixed_table(
        "Latest calls", headings, rows, width=width, droppable=("Latency", "User")
    )
    for cells in rows:
        table.add_row(*(cells[i] for i in kept))
    return Group(head, table, Text("Ctrl-C to stop.", style="dim"))
