"""Fixed tables — the terminal views' kind: no column narrower than its widest cell, columns
left out, in order, until the table fits the width — described without rich, and written
without it when that gives what rich would draw.

A report's table is built here (:func:`report_table`). On a terminal rich draws it, in
colour (:func:`aiusage.output.terminal.as_renderable`); written anywhere else (a pipe, a
file), :func:`plain_text` gives the same characters without importing rich, which with
laying the table out took about 30 ms of a report's start-up (most of an empty report's). It
does so only when it can tell what rich would write: every cell, heading, title and note one
line of printable ASCII or of the characters aiusage itself writes (:data:`OWN_CHARACTERS`),
no text that rich reads as markup, and the table within the width; otherwise it returns
``None`` and rich draws the table. tests/output/test_tables.py checks that the two agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from aiusage.views.formatting import cost_digits, count, money, percent

if TYPE_CHECKING:
    from aiusage.views.document import Metrics, ReportRow

MAX_MODELS_SHOWN = 2
# Rows a report table shows unless asked for more (--limit): rich lays a table out cell by
# cell, and thousands of rows take many seconds to draw (and to read); --json has them all.
TABLE_ROWS = 500
METRIC_HEADINGS = ("Requests", "Input", "Output", "Cache read", "Cache write", "Cost", "Success")
SHARE_WIDTH = 8
MIN_MODELS_WIDTH = 12

# The characters besides printable ASCII that aiusage writes in tables, each one terminal
# cell wide: the range arrow, an ellipsis, the share bars and the currency symbols.
OWN_CHARACTERS = frozenset("→…█▏▎▍▌▋▊▉€£¥₹")
_WRITABLE = frozenset(map(chr, range(0x20, 0x7F))) | OWN_CHARACTERS
# Text rich's console reads as markup (in a str, not in a Text): "[" starts a tag.
_MARKUP = "["
# A word, as rich wraps text: leading whitespace, the word, trailing whitespace.
_WORD = re.compile(r"\s*\S+\s*")


class Styled:
    """Text in styled pieces, as a rich ``Text`` is built: ``Styled(text, style)``, then
    :meth:`append` (:func:`aiusage.output.terminal.rich_text` builds the ``Text``)."""

    __slots__ = ("parts", "style")

    def __init__(self, text: str, style: str = "") -> None:
        self.style = style  # over the whole text
        self.parts: list[tuple[str, str]] = [(text, "")]

    def append(self, text: str, style: str = "") -> Styled:
        """Add ``text`` with its own ``style``."""
        self.parts.append((text, style))
        return self

    @property
    def plain(self) -> str:
        """The text without its styles."""
        return "".join(text for text, _ in self.parts)


Cell = str | Styled


class Column(NamedTuple):
    """A column: its heading, ``left`` or ``right``, and its width's bounds (``None``: none)."""

    heading: str
    justify: str
    min_width: int | None
    max_width: int | None


class FixedTable:
    """A fixed table's title, columns, rows (with their style) and the notes under it."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.columns: list[Column] = []
        self.rows: list[tuple[list[Cell], str | None]] = []
        self.section_ends: set[int] = set()  # the rows a line follows
        self.notes: list[Styled] = []

    def add_row(self, *cells: Cell, style: str | None = None) -> None:
        """Add a row of ``cells`` (one a column), all in ``style``."""
        self.rows.append((list(cells), style))

    def add_section(self) -> None:
        """End a section at the last row: a blank line follows it, as rich draws it."""
        if self.rows:
            self.section_ends.add(len(self.rows) - 1)


def console_width(stream: TextIO) -> int | None:
    """The width of a console on ``stream`` (:func:`aiusage.output.terminal.make_console`):
    ``COLUMNS``, else 120 for a pipe or a file, else ``None`` (a terminal: rich asks it)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return None if stream.isatty() else 120


def plain_width(stream: TextIO) -> int | None:
    """The width of the console on ``stream`` when rich would draw there without colour
    and :func:`plain_text` can write for it: not a terminal (a pipe, a file), and an
    encoding rich writes the table's lines in (UTF; else it draws them in ASCII)."""
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower()
    if stream.isatty() or not encoding.startswith("utf"):
        return None
    return console_width(stream)


def text_of(cell: Any) -> str:
    """The text of a cell (a ``Styled`` or a rich ``Text``: its text without styles)."""
    if isinstance(cell, str):
        return cell
    plain = getattr(cell, "plain", None)
    return str(cell) if plain is None else plain


def cell_width(text: str) -> int:
    """How many terminal cells ``text`` takes (wide characters count twice)."""
    if text.isascii() and text.isprintable():
        return len(text)
    from rich.cells import cell_len  # rich knows every character's width

    return cell_len(text)


def fixed_table(
    heading: str,
    headings: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    width: int,
    flexible: str | None = None,
    droppable: Sequence[str] = (),
    keep_flexible_first: bool = False,
) -> tuple[FixedTable, list[int], bool]:
    """A table whose columns never shrink below their widest cell, fitted to ``width``.

    ``headings`` are (title, justify) pairs. Columns named in ``droppable`` are left out, in
    that order, while the table is too wide; the optional ``flexible`` last column takes the
    width that is left, or is left out when too little is (unless ``keep_flexible_first``,
    which drops the droppable columns to make room for it). Returns the table (no rows yet),
    the indices of the columns kept and whether the flexible column was kept.
    """
    widths = [
        max([cell_width(h), *(cell_width(text_of(r[i])) for r in rows)])
        for i, (h, _) in enumerate(headings)
    ]
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
    table = FixedTable(heading)
    for i in kept:
        title, justify = headings[i]
        table.columns.append(Column(title, justify, widths[i], None))
    if keep_flexible and flexible is not None:
        table.columns.append(Column(flexible, "left", None, room))
    return table, kept, keep_flexible


def plain_text(table: FixedTable, width: int) -> str | None:
    """What rich writes for ``table`` and its notes on a console ``width`` cells wide without
    colour, or ``None`` when that cannot be told without rich (see the module)."""
    texts = [[column.heading for column in table.columns]]
    texts += [[text_of(cell) for cell in cells] for cells, _ in table.rows]
    notes = [note.plain for note in table.notes]
    # rich reads markup in the title, the headings and str cells (not in a Styled's Text).
    read_as_markup = [table.title, *texts[0]]
    read_as_markup += [cell for cells, _ in table.rows for cell in cells if isinstance(cell, str)]
    if any(_MARKUP in text for text in read_as_markup) or not all(
        _WRITABLE.issuperset(text) for text in chain([table.title], notes, *texts)
    ):
        return None
    lines = _table_lines(table, texts, width)
    for note in notes:
        wrapped = _wrap(note, width)
        if lines is None or wrapped is None:
            return None
        lines += wrapped
    return None if lines is None else "\n".join(lines) + "\n"


def _table_lines(table: FixedTable, texts: list[list[str]], width: int) -> list[str] | None:
    """The lines rich draws for ``table`` (its title, its rows, the edges): ``texts`` are
    the headings' and the cells' texts. ``None`` when rich would shrink a column or wrap
    the title."""
    columns = table.columns
    if not columns:
        return None
    # rich's layout (Table._calculate_column_widths) when every column fits: each is as wide
    # as its widest text and its padding (a space a side, none at the edges), within bounds.
    room = width - len(columns) - 1  # less the edges and the separators
    pads = [(0 if i == 0 else 1, 0 if i == len(columns) - 1 else 1) for i in range(len(columns))]
    widths = []
    for i, column in enumerate(columns):
        padding = sum(pads[i])
        wide = min(max(len(row[i]) for row in texts) + padding, room)
        if column.min_width is not None:
            wide = max(wide, column.min_width + padding)
        if column.max_width is not None:
            wide = min(wide, column.max_width + padding)
        widths.append(wide or 1)
    table_width = sum(widths) + len(columns) + 1
    title = table.title.rstrip()
    if room < 3 or sum(widths) > room or len(title) > table_width:
        return None
    if any(wide <= left + right for wide, (left, right) in zip(widths, pads, strict=True)):
        return None  # a column with no room for its text

    def row_line(row: list[str]) -> str:
        cells = [
            " " * left + _justify(text, wide - left - right, column.justify) + " " * right
            for text, wide, (left, right), column in zip(row, widths, pads, columns, strict=True)
        ]
        return " " + " ".join(cells) + " "

    lines = []
    if table.title:
        left = (table_width - len(title)) // 2
        lines.append(" " * left + title + " " * (table_width - len(title) - left))
    lines.append(" " * table_width)  # the top edge
    lines.append(row_line(texts[0]))
    lines.append(" " + "─" * (table_width - 2) + " ")  # under the headings
    body = texts[1:]
    for index, row in enumerate(body):
        lines.append(row_line(row))
        if index in table.section_ends and index != len(body) - 1:
            lines.append(" " * table_width)
    lines.append(" " * table_width)  # the bottom edge
    return lines


def _justify(text: str, width: int, justify: str) -> str:
    """``text`` in one line ``width`` cells wide, as rich's ``Text`` puts it in a cell that
    does not wrap: cut with an ellipsis when too long; a right-justified one without its
    trailing spaces."""
    if justify == "right":
        text = text.rstrip()
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.rjust(width) if justify == "right" else text.ljust(width)


def _wrap(text: str, width: int) -> list[str] | None:
    """``text`` wrapped at ``width`` as rich wraps a line of text (``rich._wrap``): a word
    that does not fit goes to the next line, the spaces before it staying at the end of this
    one. ``None`` when a word is wider than ``width`` (rich would fold it)."""
    breaks = []
    used = 0
    match = _WORD.match(text)
    while match is not None:
        start, word = match.start(), match.group(0)
        length = len(word.rstrip())
        if width - used >= length:
            used += len(word)
        elif length > width:
            return None
        elif used and start:
            breaks.append(start)
            used = len(word)
        match = _WORD.match(text, match.end())
    lines = [text[a:b] for a, b in zip([0, *breaks], [*breaks, len(text)], strict=True)]
    # Spaces that would run past the width are dropped (rich's Text.rstrip_end).
    return [line[: max(width, len(line.rstrip()))] for line in lines]


def cost_cell(row: Metrics, currency: str, digits: int) -> Styled:
    """A row's cost, flagged with ``*`` when some of its requests have no price."""
    text = Styled(money(row["cost"], currency, digits=digits))
    if row["unpriced_requests"]:
        text.append(" *", style="bold yellow")
    return text


def rate_cell(row: Metrics) -> Styled:
    """A row's success rate, yellow below 99% and red below 90%."""
    rate = row["success_rate"]
    style = "" if rate is None or rate >= 0.99 else ("red" if rate < 0.9 else "yellow")
    return Styled(percent(rate), style=style)


def share_bar(value: float, total: float) -> Styled:
    """A row's share of the total as a small bar and a percentage."""
    share = value / total if total else 0.0
    cells = round(share * SHARE_WIDTH * 8)
    full, part = divmod(cells, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    text = Styled(f"{bar:<{SHARE_WIDTH}} ", style="cyan")
    text.append(f"{share * 100:4.1f}%")
    return text


def label(value: Any) -> str:
    """A group value for display (``(none)`` for a missing one)."""
    return "(none)" if value is None else str(value)


def title(doc: Mapping[str, Any], what: str = "AI usage") -> str:
    """A view's title: what, the range, the zone and the currency."""
    rng = doc["range"]
    since = (rng["since"] or "start")[:16].replace("T", " ")
    until = (rng["until"] or "now")[:16].replace("T", " ")
    return f"{what} {since} → {until} ({rng['tz']}, {doc['currency']})"


def notes(doc: Mapping[str, Any]) -> list[Styled]:
    """Footnotes: unpriced requests, an empty range."""
    notes = []
    unpriced = doc.get("unpriced_models") or []
    if unpriced:
        n = sum(u["requests"] for u in unpriced)
        names = ", ".join(u["model"] for u in unpriced[:5])
        notes.append(
            Styled(
                f"* {n:,} request{'s' if n != 1 else ''} without a price (models: {names}); "
                "their cost is not included. "
                "Add the models to pricing.yaml in the data dir.",
                style="yellow",
            )
        )
    if not doc["rows"] or not doc["totals"]["requests"]:
        notes.append(Styled("No usage recorded in this range.", style="dim"))
    return notes


def _models(models: Sequence[str]) -> str:
    shown = list(models[:MAX_MODELS_SHOWN])
    if len(models) > MAX_MODELS_SHOWN:
        shown.append(f"+{len(models) - MAX_MODELS_SHOWN}")
    return ", ".join(shown)


def _metric_cells(row: Metrics, currency: str, digits: int) -> list[Cell]:
    return [
        count(row["requests"]),
        count(row["input_tokens"]),
        count(row["output_tokens"]),
        count(row["cache_read_tokens"]),
        count(row["cache_write_tokens"]),
        cost_cell(row, currency, digits),
        rate_cell(row),
    ]


def report_table(
    doc: Mapping[str, Any], *, width: int = 120, max_rows: int | None = TABLE_ROWS
) -> FixedTable:
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
    rows: list[list[Cell]] = []
    models: list[str] = []
    for row in report_rows:
        keys: list[Cell] = [row["period"]] if with_period else []
        keys += [label(group_value(row, f)) for f in doc["group_by"]]
        share: list[Cell] = [share_bar(row["cost"], grand)] if grouped else []
        rows.append(keys + _metric_cells(row, currency, digits) + share)
        models.append(_models(row["models"]) if has_models else "")
    total: list[Cell] | None = ["Total", *("" for _ in labels[1:])]
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
    table.notes = notes(doc)
    if hidden:
        rows_word = "row" if hidden == 1 else "rows"
        more = f"{hidden:,} more {rows_word} not shown: use --limit N, or --json / --csv for all."
        table.notes.insert(0, Styled(more, style="dim"))
    return table
