"""Terminal rendering of report documents as rich tables (colour only on a terminal).

Takes the plain documents of :mod:`aiusage.views.report` and returns rich renderables; printing is
the CLI's job.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from aiusage.views.formatting import cost_digits, count, money, percent

if TYPE_CHECKING:
    from aiusage.views.document import Metrics, ReportRow, TopUser

MAX_MODELS_SHOWN = 2
# Rows a report table shows unless asked for more (--limit): rich lays a table out cell by
# cell, and thousands of rows take many seconds to draw (and to read); --json has them all.
TABLE_ROWS = 500


def make_console(stream: TextIO | None = None, *, plain: bool = False) -> Console:
    """A console for ``stream``: colour only on a terminal without ``NO_COLOR`` and not
    ``plain``; width from ``COLUMNS``, else the terminal, else 120 for pipes."""
    stream = stream or sys.stdout
    is_tty = stream.isatty()
    no_color = plain or not is_tty or "NO_COLOR" in os.environ
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
    if width is None and not is_tty:
        width = 120
    return Console(
        file=stream,
        no_color=no_color,
        color_system=None if no_color else "auto",
        highlight=False,
        width=width,
        emoji=False,
        soft_wrap=False,
    )


def cost_cell(row: Metrics, currency: str, digits: int) -> Text:
    """A row's cost, flagged with ``*`` when some of its requests have no price."""
    text = Text(money(row["cost"], currency, digits=digits))
    if row["unpriced_requests"]:
        text.append(" *", style="bold yellow")
    return text


def rate_cell(row: Metrics) -> Text:
    """A row's success rate, yellow below 99% and red below 90%."""
    rate = row["success_rate"]
    style = "" if rate is None or rate >= 0.99 else ("red" if rate < 0.9 else "yellow")
    return Text(percent(rate), style=style)


def label(value: Any) -> str:
    """A group value for display (``(none)`` for a missing one)."""
    return "(none)" if value is None else str(value)


def _models(models: Sequence[str]) -> str:
    shown = list(models[:MAX_MODELS_SHOWN])
    if len(models) > MAX_MODELS_SHOWN:
        shown.append(f"+{len(models) - MAX_MODELS_SHOWN}")
    return ", ".join(shown)


METRIC_HEADINGS = ("Requests", "Input", "Output", "Cache read", "Cache write", "Cost", "Success")
SHARE_WIDTH = 8
MIN_MODELS_WIDTH = 12


def plain(cell: RenderableType) -> str:
    """The text of a cell."""
    return cell.plain if isinstance(cell, Text) else str(cell)


def cells(cell: RenderableType) -> int:
    """How many terminal cells a cell's text takes (wide characters count twice)."""
    return cell_len(plain(cell))


def fixed_table(
    heading: str,
    headings: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[RenderableType]],
    *,
    width: int,
    flexible: str | None = None,
    droppable: Sequence[str] = (),
    keep_flexible_first: bool = False,
) -> tuple[Table, list[int], bool]:
    """A table whose columns never shrink below their widest cell, fitted to ``width``.

    ``headings`` are (title, justify) pairs. Columns named in ``droppable`` are left out, in
    that order, while the table is too wide; the optional ``flexible`` last column takes the
    width that is left, or is left out when too little is (unless ``keep_flexible_first``,
    which drops the droppable columns to make room for it). Returns the table, the indices
    of the columns kept and whether the flexible column was kept.
    """
    widths = [max([cell_len(h), *(cells(r[i]) for r in rows)]) for i, (h, _) in enumerate(headings)]
    kept = list(range(len(headings)))

    def needed(cols: list[int]) -> int:
        # SIMPLE_HEAD: one space of padding a side and one edge/separator per column.
        return sum(widths[i] for i in cols) + 3 * len(cols) - 1

    reserve = MIN_MODELS_WIDTH + 3 if flexible is not None and keep_flexible_first else 0
    for name in droppable:
        if needed(kept) <= width - reserve:
            break
        kept = [i for i in kept if headings[i][0] != name]
    room = width - needed(kept) - 3
    keep_flexible = flexible is not None and room >= MIN_MODELS_WIDTH
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=heading, collapse_padding=False)
    for i in kept:
        heading, justify = headings[i]
        table.add_column(heading, justify=justify, no_wrap=True, min_width=widths[i])  # type: ignore[arg-type]
    if keep_flexible and flexible is not None:
        table.add_column(flexible, no_wrap=True, overflow="ellipsis", max_width=room)
    return table, kept, keep_flexible


def report_view(
    doc: Mapping[str, Any], *, width: int = 120, max_rows: int | None = TABLE_ROWS
) -> RenderableType:
    """A report document as a table with a totals row and notes, fitted to ``width``; at
    most ``max_rows`` rows (``None``: all), with a note of how many more there are."""
    from aiusage.views.document import group_value  # loaded already: it built the document

    currency = doc["currency"]
    totals: Metrics = doc["totals"]
    report_rows: Sequence[ReportRow] = doc["rows"][:max_rows]
    hidden = len(doc["rows"]) - len(report_rows)
    digits = cost_digits(totals["cost"])
    with_period = doc["period"] != "total"
    labels = ([doc["period"].capitalize()] if with_period else []) + list(doc["group_by"])
    grouped = bool(doc["group_by"])
    grand = totals["cost"]
    has_models = bool(report_rows) and "models" in report_rows[0]
    rows: list[list[RenderableType]] = []
    models: list[str] = []
    for row in report_rows:
        keys: list[RenderableType] = [row["period"]] if with_period else []
        keys += [label(group_value(row, f)) for f in doc["group_by"]]
        share: list[RenderableType] = [share_bar(row["cost"], grand)] if grouped else []
        rows.append(keys + _metric_cells(row, currency, digits) + share)
        models.append(_models(row["models"]) if has_models else "")
    total: list[RenderableType] | None = ["Total", *("" for _ in labels[1:])]
    total += _metric_cells(totals, currency, digits) + (["100%"] if grouped else [])  # type: ignore[operator]
    if not labels:
        # No period and no groups: the single row is the total.
        labels, total = [""], None
        rows = [["All", *r] for r in rows]
    headings = [(label, "left") for label in labels] + [(h, "right") for h in METRIC_HEADINGS]
    if grouped:
        headings.append(("Share of cost", "left"))
    table, kept, keep = fixed_table(
        title(doc),
        headings,
        rows + ([total] if total else []),
        width=width,
        flexible="Models" if has_models else None,
        droppable=("Cache write", "Cache read", "Share of cost", "Success", "Output", "Input"),
    )
    for cells, used in zip(rows, models, strict=True):
        table.add_row(*(cells[i] for i in kept), *([used] if keep else []))
    if total:
        table.add_section()
        table.add_row(*(total[i] for i in kept), *([""] if keep else []), style="bold")
    footer = notes(doc)
    if hidden:
        rows_word = "row" if hidden == 1 else "rows"
        more = f"{hidden:,} more {rows_word} not shown: use --limit N, or --json / --csv for all."
        footer.insert(0, Text(more, style="dim"))
    return Group(table, *footer)


def share_bar(value: float, total: float) -> Text:
    """A row's share of the total as a small bar and a percentage."""
    share = value / total if total else 0.0
    cells = round(share * SHARE_WIDTH * 8)
    full, part = divmod(cells, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    text = Text(f"{bar:<{SHARE_WIDTH}} ", style="cyan")
    text.append(f"{share * 100:4.1f}%")
    return text


def _metric_cells(row: Metrics, currency: str, digits: int) -> list[RenderableType]:
    return [
        count(row["requests"]),
        count(row["input_tokens"]),
        count(row["output_tokens"]),
        count(row["cache_read_tokens"]),
        count(row["cache_write_tokens"]),
        cost_cell(row, currency, digits),
        rate_cell(row),
    ]


def title(doc: Mapping[str, Any], what: str = "AI usage") -> str:
    """A view's title: what, the range, the zone and the currency."""
    rng = doc["range"]
    since = (rng["since"] or "start")[:16].replace("T", " ")
    until = (rng["until"] or "now")[:16].replace("T", " ")
    return f"{what} {since} → {until} ({rng['tz']}, {doc['currency']})"


def notes(doc: Mapping[str, Any]) -> list[Text]:
    """Footnotes: unpriced requests, an empty range."""
    notes = []
    unpriced = doc.get("unpriced_models") or []
    if unpriced:
        n = sum(u["requests"] for u in unpriced)
        names = ", ".join(u["model"] for u in unpriced[:5])
        notes.append(
            Text(
                f"* {n:,} request{'s' if n != 1 else ''} without a price (models: {names}); "
                "their cost is not included. "
                "Add the models to pricing.yaml in the data dir.",
                style="yellow",
            )
        )
    if not doc["rows"] or not doc["totals"]["requests"]:
        notes.append(Text("No usage recorded in this range.", style="dim"))
    return notes


def top_users_view(doc: Mapping[str, Any], *, width: int = 120) -> RenderableType:
    """A top-users document as a ranked table, fitted to ``width``."""
    currency = doc["currency"]
    users: list[TopUser] = doc["users"]
    digits = cost_digits(doc["totals"]["cost"])
    rows: list[list[RenderableType]] = [
        [
            str(user["rank"]),
            label(user["user_id"]),
            count(user["requests"]),
            count(user["total_tokens"]),
            cost_cell(user, currency, digits),
            percent(user["share"]),
            rate_cell(user),
        ]
        for user in users
    ]
    headings = [("#", "right"), ("User", "left")] + [
        (h, "right") for h in ("Requests", "Tokens", "Cost", "Share", "Success")
    ]
    table, kept, keep = fixed_table(
        title(doc, f"Top users by {doc['by']}"),
        headings,
        rows,
        width=width,
        flexible="Favourite model",
        droppable=("Success", "Share"),
    )
    for cells, user in zip(rows, users, strict=True):
        table.add_row(
            *(cells[i] for i in kept), *([user["favourite_model"] or "-"] if keep else [])
        )
    footer = notes({**doc, "rows": doc["users"]})
    shown = len(doc["users"])
    if doc["users_total"] > shown:
        footer.append(
            Text(f"{doc['users_total'] - shown} more users not shown (--limit).", style="dim")
        )
    return Group(table, *footer)


class ScanProgress:
    """A progress bar on stderr for passes that take more than ``delay`` seconds; nothing
    at all for quick ones. Call it with (done, in all): files, or bytes with ``in_bytes``;
    :meth:`close` it."""

    def __init__(
        self, *, label: str = "reading day files", in_bytes: bool = False, delay: float = 1.0
    ) -> None:
        import time

        self._label = label
        self._in_bytes = in_bytes
        self._clock = time.monotonic
        self._start = self._clock()
        self._delay = delay
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        """Show progress (the bar appears once the pass has run ``delay`` seconds)."""
        if self._bar is None:
            if self._clock() - self._start < self._delay or done >= total:
                return
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                Progress,
                TimeRemainingColumn,
            )

            console = Console(stderr=True)
            count = DownloadColumn() if self._in_bytes else MofNCompleteColumn()
            self._bar = Progress(
                self._label, BarColumn(), count, TimeRemainingColumn(),
                console=console, transient=True,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task("scan", total=total)
        self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        """Remove the bar (if one was shown)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
