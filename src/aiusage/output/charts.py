"""Terminal charts: the daily trend as bars and the activity calendar (heatmap)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from aiusage.views.formatting import count, money

BLOCKS = " ▏▎▍▌▋▊▉█"
SHADES = ("·", "░", "▒", "▓", "█")
SHADE_STYLES = ("dim", "green4", "green3", "green1", "bold bright_green")


def _format(value: float, metric: str, currency: str) -> str:
    return money(value, currency) if metric == "cost" else count(round(value))


def bar(value: float, top: float, width: int) -> str:
    """A horizontal bar of ``width`` cells for ``value`` on a scale up to ``top``."""
    if top <= 0 or value <= 0:
        return ""
    eighths = round(value / top * width * 8)
    full, part = divmod(max(eighths, 1), 8)
    return "█" * full + (BLOCKS[part] if part else "")


def trend_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """One bar per day, then the 7-day average, the month so far and the forecast."""
    metric, currency = doc["metric"], doc["currency"]
    values = [d["value"] for d in doc["days"]]
    labels = [_format(v, metric, currency) for v in values]
    label_width = max((len(x) for x in labels), default=1)
    bar_width = max(width - 11 - label_width - 3, 10)
    top = max(values, default=0)
    unit = f"{metric} ({currency})" if metric == "cost" else metric
    lines: list[RenderableType] = [Text(f"Daily {unit}, {doc['range']['tz']}", style="bold")]
    for day, value, text in zip(doc["days"], values, labels, strict=True):
        line = Text(f"{day['date'][5:]} {dt.date.fromisoformat(day['date']).strftime('%a')} ")
        line.append(f"{text:>{label_width}} ")
        line.append(bar(value, top, bar_width), style="cyan")
        lines.append(line)
    month = doc["month"]
    lines.append(Text(""))
    lines.append(Text(f"7-day average: {_format(doc['average_7d'], metric, currency)} per day"))
    lines.append(
        Text(
            f"{month['month']} so far: {_format(month['so_far'], metric, currency)}; "
            f"month-end forecast: {_format(month['forecast'], metric, currency)}",
            style="bold",
        )
    )
    return Group(*lines)


def heatmap_view(
    doc: Mapping[str, Any], *, width: int = 120, metric: str = "requests"
) -> RenderableType:
    """A GitHub-style calendar: one column per week, one row per weekday, shaded by
    ``metric`` in quartiles of the busiest day."""
    days = doc["days"]
    if not days:
        return Text("No days in range.")
    first = dt.date.fromisoformat(days[0]["date"])
    start = first - dt.timedelta(days=first.isoweekday() - 1)
    weeks = (dt.date.fromisoformat(days[-1]["date"]) - start).days // 7 + 1
    max_weeks = max((width - 5) // 2, 1)
    by_date = {d["date"]: d[metric] for d in days}
    top = doc["max"][metric]
    skip = max(weeks - max_weeks, 0)
    lines: list[RenderableType] = []
    header = [" "] * (2 * (weeks - skip) + 2)
    last_month = None
    for w in range(skip, weeks):
        monday = start + dt.timedelta(days=7 * w)
        col = 2 * (w - skip)
        if monday.month != last_month and all(c == " " for c in header[max(col - 1, 0) : col + 3]):
            header[col : col + 3] = monday.strftime("%b")
        last_month = monday.month
    months = Text("    " + "".join(header).rstrip())
    lines.append(months)
    for weekday in range(7):
        row = Text(("Mon", "", "Wed", "", "Fri", "", "Sun")[weekday].ljust(4))
        for w in range(skip, weeks):
            d = (start + dt.timedelta(days=7 * w + weekday)).isoformat()
            if d not in by_date:
                row.append("  ")
                continue
            value = by_date[d]
            level = 0 if not value or not top else min(4, 1 + int(3.999 * value / top))
            row.append(SHADES[level] + " ", style=SHADE_STYLES[level])
        lines.append(row)
    legend = Text("    less ")
    for level in range(5):
        legend.append(SHADES[level] + " ", style=SHADE_STYLES[level])
    unit = "cost" if metric == "cost" else ("tokens" if metric == "total_tokens" else "requests")
    busiest = _format(top, "cost" if metric == "cost" else "n", doc["currency"])
    legend.append(f"more   ({unit}; busiest day {busiest}, {doc['active_days']} active days)")
    lines.append(legend)
    return Group(*lines)


SPARKS = " ▁▂▃▄▅▆▇█"


def sparkline(values: list[int] | list[float]) -> str:
    """A one-line chart of ``values`` (eighth-block heights)."""
    top = max(values, default=0)
    if top <= 0:
        return SPARKS[1] * len(values)
    return "".join(SPARKS[max(1, round(v / top * 8))] if v else SPARKS[0] for v in values)


def period_chart(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """A report's cost per period as bars (``report --chart``), groups added up."""
    currency = doc["currency"]
    per_period: dict[str, float] = {}
    for row in doc["rows"]:
        per_period[row["period"]] = per_period.get(row["period"], 0.0) + row["cost"]
    labels = [money(v, currency) for v in per_period.values()]
    label_width = max((len(x) for x in labels), default=1)
    key_width = max((len(k) for k in per_period), default=5)
    bar_width = max(width - key_width - label_width - 4, 10)
    top = max(per_period.values(), default=0.0)
    lines: list[RenderableType] = [Text(f"Cost per {doc['period']} ({currency})", style="bold")]
    for (key, value), text in zip(per_period.items(), labels, strict=True):
        line = Text(f"{key:<{key_width}} {text:>{label_width}} ")
        line.append(bar(value, top, bar_width), style="cyan")
        lines.append(line)
    return Group(*lines)
