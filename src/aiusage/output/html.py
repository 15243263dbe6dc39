"""The HTML export: seed 003's dashboard as one self-contained file (inline CSS and SVG, no
script, no network) — totals, the daily cost trend, breakdowns by model and user, top users
and the activity heatmap. Every string from the data is escaped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from aiusage.views.formatting import count, money, percent

if TYPE_CHECKING:
    from aiusage.views.document import Metrics, ReportRow, TopUser

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;
max-width:1000px;color:#1f2328;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.1rem;margin-top:2rem}
.muted{color:#656d76} .cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #d0d7de;border-radius:8px;padding:.7rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.3rem} table{border-collapse:collapse;width:100%}
th,td{text-align:right;padding:.25rem .5rem;border-bottom:1px solid #eaeef2}
th:first-child,td:first-child{text-align:left} svg text{font-size:10px;fill:#656d76}
"""
SHADES = ("#ebedf0", "#9be9a8", "#40c463", "#30a14e", "#216e39")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _trend_svg(days: Sequence[ReportRow], currency: str) -> str:
    width, height, pad = 960, 180, 30
    values = [d["cost"] for d in days]
    top = max(values, default=0) or 1
    step = (width - 2 * pad) / max(len(values), 1)
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = (height - 2 * pad) * value / top
        x = pad + i * step
        label = escape(f"{day['period']}: {money(value, currency)}")
        bars.append(
            f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{max(step - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="#0969da"><title>{label}</title></rect>'
        )
    axis = (
        f'<text x="{pad}" y="{height - 8}">{escape(days[0]["period"]) if days else ""}</text>'
        f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">'
        f"{escape(days[-1]['period']) if days else ''}</text>"
        f'<text x="{pad}" y="14">{escape(money(top, currency))}</text>'
    )
    return (
        f'<svg width="100%" viewBox="0 0 {width} {height}" role="img">{"".join(bars)}{axis}</svg>'
    )


def _heatmap_svg(cells: Sequence[Mapping[str, Any]]) -> str:
    if not cells:
        return "<p class=muted>No days.</p>"
    first = dt.date.fromisoformat(cells[0]["date"])
    start = first - dt.timedelta(days=first.isoweekday() - 1)
    top = max(c["requests"] for c in cells) or 1
    rects = []
    for cell in cells:
        day = dt.date.fromisoformat(cell["date"])
        week, weekday = (day - start).days // 7, day.isoweekday() - 1
        level = 0 if not cell["requests"] else min(4, 1 + int(3.999 * cell["requests"] / top))
        tip = escape(f"{cell['date']}: {cell['requests']:,} requests")
        rects.append(
            f'<rect x="{week * 13}" y="{weekday * 13}" width="11" height="11" rx="2" '
            f'fill="{SHADES[level]}"><title>{tip}</title></rect>'
        )
    weeks = (dt.date.fromisoformat(cells[-1]["date"]) - start).days // 7 + 1
    return (
        f'<svg width="100%" viewBox="0 0 {weeks * 13} {7 * 13}" role="img">{"".join(rects)}</svg>'
    )


def to_html(
    daily: Mapping[str, Any],
    by_model: Mapping[str, Any],
    by_user: Mapping[str, Any],
    top_users: Mapping[str, Any],
    heatmap: Mapping[str, Any],
) -> str:
    """The dashboard page for a range: reports by day, by model and by user, the top users
    document and the heatmap document (all of the same range and currency)."""
    from aiusage.views.document import group_value  # loaded already: it built the documents

    currency = daily["currency"]
    totals: Metrics = daily["totals"]
    rng = daily["range"]
    cards = [
        ("Requests", count(totals["requests"])),
        ("Tokens", count(totals["total_tokens"])),
        ("Cost", money(totals["cost"], currency)),
        ("Success", percent(totals["success_rate"])),
        ("Unpriced", count(totals["unpriced_requests"])),
    ]
    card_html = "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards)

    def name(value: Any) -> str:
        return "(none)" if value is None else str(value)

    def rows(doc: Mapping[str, Any], field: str) -> list[list[str]]:
        report_rows: list[ReportRow] = doc["rows"]
        return [
            [
                name(group_value(r, field)),
                count(r["requests"]),
                count(r["total_tokens"]),
                money(r["cost"], currency),
                percent(r["success_rate"]),
            ]
            for r in sorted(report_rows, key=lambda r: -r["cost"])
        ]

    users: list[TopUser] = top_users["users"]

    top = [
        [
            str(u["rank"]),
            name(u["user_id"]),
            count(u["requests"]),
            money(u["cost"], currency),
            percent(u["share"]),
            u["favourite_model"] or "-",
        ]
        for u in users
    ]
    top_headers = ["#", "User", "Requests", "Cost", "Share", "Favourite model"]
    headers = ["Requests", "Tokens", "Cost", "Success"]
    title = f"AI usage {rng['since'] or 'start'} → {rng['until'] or 'now'}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class=muted>{escape(rng['tz'])} · {escape(currency)} · "
        f"generated {escape(daily['generated_at'])} by aiusage</p>"
        f"<div class=cards>{card_html}</div>"
        f"<h2>Daily cost</h2>{_trend_svg(daily['rows'], currency)}"
        f"<h2>By model</h2>{_table(['Model', *headers], rows(by_model, 'model'))}"
        f"<h2>By user</h2>{_table(['User', *headers], rows(by_user, 'user_id'))}"
        f"<h2>Top users</h2>{_table(top_headers, top)}"
        f"<h2>Activity, last {len(heatmap['days'])} days</h2>{_heatmap_svg(heatmap['days'])}"
        "</body></html>\n"
    )
