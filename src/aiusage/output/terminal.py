"""Terminal rendering of report documents as rich tables (colour only on a terminal).

Takes the plain documents of :mod:`aiusage.views.report` and returns rich renderables; printing is
the CLI's job. The fixed tables of the report views are described, without rich, in
:mod:`aiusage.output.tables`; they are drawn here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from aiusage.output import tables
from aiusage.output.tables import TABLE_ROWS, FixedTable, Styled, label, report_table, title
from aiusage.views.formatting import cost_digits, count, percent

if TYPE_CHECKING:
    from aiusage.views.document import Metrics, TopUser


def make_console(stream: TextIO | None = None, *, plain: bool = False) -> Console:
    """A console for ``stream``: colour only on a terminal without ``NO_COLOR`` and not
    ``plain``; width from ``COLUMNS``, else the terminal, else 120 for pipes."""
    stream = stream or sys.stdout
    no_color = plain or not stream.isatty() or "NO_COLOR" in os.environ
    return Console(
        file=stream,
        no_color=no_color,
        color_system=None if no_color else "auto",
        highlight=False,
        width=tables.console_width(stream),
        emoji=False,
        soft_wrap=False,
    )


def rich_text(text: Styled) -> Text:
    """The rich ``Text`` of a :class:`~aiusage.output.tables.Styled` text."""
    (first, _), *rest = text.parts
    drawn = Text(first, style=text.style)
    for piece, style in rest:
        drawn.append(piece, style=style)
    return drawn


def rich_table(table: FixedTable) -> Table:
    """A :class:`~aiusage.output.tables.FixedTable` as a rich table (without its notes)."""
    drawn = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=table.title, collapse_padding=False)
    for column in table.columns:
        drawn.add_column(
            column.heading,
            justify=column.justify,  # type: ignore[arg-type]
            no_wrap=True,
            min_width=column.min_width,
            max_width=column.max_width,
        )
    for index, (cells, style) in enumerate(table.rows):
        drawn.add_row(
            *(rich_text(cell) if isinstance(cell, Styled) else cell for cell in cells),
            style=style,
            end_section=index in table.section_ends,
        )
    return drawn


def as_renderable(shown: Any) -> RenderableType:
    """What a view returned, for rich to draw: a fixed table with its notes under it, or the
    renderable itself."""
    if isinstance(shown, FixedTable):
        return Group(rich_table(shown), *(rich_text(note) for note in shown.notes))
    return shown  # type: ignore[no-any-return]


def cost_cell(row: Metrics, currency: str, digits: int) -> Text:
    """A row's cost, flagged with ``*`` when some of its requests have no price."""
    return rich_text(tables.cost_cell(row, currency, digits))


def rate_cell(row: Metrics) -> Text:
    """A row's success rate, yellow below 99% and red below 90%."""
    return rich_text(tables.rate_cell(row))


def notes(doc: Mapping[str, Any]) -> list[Text]:
    """Footnotes: unpriced requests, an empty range."""
    return [rich_text(note) for note in tables.notes(doc)]


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
    """:func:`aiusage.output.tables.fixed_table` as a rich table, to add rows to."""
    table, kept, keep_flexible = tables.fixed_table(
        heading,
        headings,
        rows,
        width=width,
        flexible=flexible,
        droppable=droppable,
        keep_flexible_first=keep_flexible_first,
    )
    return rich_table(table), kept, keep_flexible


def report_view(
    doc: Mapping[str, Any], *, width: int = 120, max_rows: int | None = TABLE_ROWS
) -> RenderableType:
    """A report document as a table with a totals row and notes, fitted to ``width``; at
    most ``max_rows`` rows (``None``: all), with a note of how many more there are."""
    return as_renderable(report_table(doc, width=width, max_rows=max_rows))


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
