"""Fixed tables written without rich (:func:`plain_text`) are what rich writes for them
without colour, character for character; a table it cannot tell about is left to rich."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from aiusage.output.tables import (
    OWN_CHARACTERS,
    Column,
    FixedTable,
    Styled,
    plain_text,
    plain_width,
    report_table,
)
from aiusage.output.terminal import as_renderable, make_console

SAMPLE = Path(__file__).resolve().parents[2] / "sample_logs"


def drawn_by_rich(table: FixedTable, width: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """What the report command's console writes for ``table`` into a pipe ``width`` wide."""
    monkeypatch.setenv("COLUMNS", str(width))
    stream = io.StringIO()
    make_console(stream).print(as_renderable(table))
    return stream.getvalue()


# Texts: words of ASCII and aiusage's own characters, now and then with what plain_text leaves
# to rich (markup, wide and combining characters, a tab, a control character).
WRITTEN = [*"abcxyz019$%-_.,*()", *OWN_CHARACTERS, "]"]
LEFT_TO_RICH = ["[", "[b]", "é", "中", "e\u0301", "\t", "\x1b"]
WORDS = st.lists(st.sampled_from(WRITTEN * 60 + LEFT_TO_RICH), max_size=8).map("".join)
TEXTS = st.lists(WORDS, max_size=3).map(" ".join)
STYLES = st.sampled_from(["", "bold", "dim", "cyan", "bold yellow"])


@st.composite
def cells(draw: st.DrawFn) -> str | Styled:
    if draw(st.booleans()):
        return draw(TEXTS)
    cell = Styled(draw(TEXTS), style=draw(STYLES))
    for _ in range(draw(st.integers(0, 2))):
        cell.append(draw(TEXTS), style=draw(STYLES))
    return cell


@st.composite
def tables(draw: st.DrawFn) -> FixedTable:
    table = FixedTable(draw(TEXTS))
    for _ in range(draw(st.integers(1, 6))):
        bounds = st.none() | st.integers(0, 30)
        justify = draw(st.sampled_from(["left", "right"]))
        table.columns.append(Column(draw(TEXTS), justify, draw(bounds), draw(bounds)))
    for _ in range(draw(st.integers(0, 6))):
        row = [draw(cells()) for _ in table.columns]
        table.add_row(*row, style=draw(st.none() | STYLES))
        if draw(st.integers(0, 3)) == 0:
            table.add_section()
    table.notes = [Styled(draw(TEXTS), style=draw(STYLES)) for _ in range(draw(st.integers(0, 2)))]
    return table


def _check_plain_text_writes_what_rich_draws(table: FixedTable, width: int) -> None:
    # About a quarter of the tables drawn are ones plain_text writes.
    with pytest.MonkeyPatch.context() as monkeypatch:
        text = plain_text(table, width)
        if text is not None:
            assert text == drawn_by_rich(table, width, monkeypatch)


@settings(max_examples=100, deadline=None)
@given(table=tables(), width=st.integers(1, 160))
def test_plain_text_writes_what_rich_draws(table: FixedTable, width: int) -> None:
    _check_plain_text_writes_what_rich_draws(table, width)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None)
@given(table=tables(), width=st.integers(1, 160))
def test_plain_text_writes_what_rich_draws_in_many_more_tables(
    table: FixedTable, width: int
) -> None:
    _check_plain_text_writes_what_rich_draws(table, width)


def test_the_characters_aiusage_writes_take_one_cell_each() -> None:
    assert all(cell_len(c) == 1 for c in OWN_CHARACTERS)


def _table(**kwargs: Any) -> FixedTable:
    table = FixedTable(kwargs.pop("title", "A title → here"))
    table.columns += [Column("Name", "left", 5, None), Column("Cost", "right", 7, None)]
    table.add_row(kwargs.pop("name", "alice"), Styled("$1.00", style="cyan").append(" *", "bold"))
    table.add_section()
    table.add_row("Total", "$1.00", style="bold")
    table.notes = [Styled(kwargs.pop("note", "A note."), style="dim")]
    return table


@pytest.mark.parametrize(
    ("case", "width"),
    [
        ({}, 80),
        ({"note": "a long note " * 12}, 40),  # wrapped as rich wraps it
        ({"name": "中文"}, 80),  # two cells a character: left to rich
        ({"name": "[bold]alice"}, 80),  # markup in a str cell: left to rich
        ({"name": "al\tice"}, 80),
        ({"title": "a title wider than the table " * 3}, 200),  # rich wraps it
        ({}, 12),  # rich shrinks the columns
        ({"note": "x" * 50}, 40),  # rich folds the word
    ],
)
def test_what_plain_text_writes_and_what_it_leaves_to_rich(
    case: dict[str, str], width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = _table(**case)
    text = plain_text(table, width)
    drawn = drawn_by_rich(table, width, monkeypatch)
    if case in ({}, {"note": "a long note " * 12}) and width >= 40:
        assert text == drawn
    else:
        assert text is None


@pytest.mark.parametrize(
    "args",
    [
        ["--all"],
        ["--all", "--period", "week"],
        ["--all", "--period", "total"],
        ["--all", "--period", "total", "--by", "model"],
        ["--all", "--period", "month", "--by", "user"],
        ["--all", "--period", "total", "--by", "tag:team", "--currency", "EUR"],
        ["--since", "2026-11-20", "--until", "2026-11-21"],
        ["--days", "3"],  # the empty range: seven rows of nothing
        ["--all", "--period", "day", "--by", "user", "--limit", "3"],
    ],
)
def test_a_report_table_written_plain_is_what_rich_draws(
    cli: Any, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = cli("report", "-d", SAMPLE, "--json", *args).json()
    for width in (40, 60, 80, 100, 120, 160):
        for max_rows in (None, 2):
            table = report_table(doc, width=width, max_rows=max_rows)
            text = plain_text(table, width)
            if width >= 80:  # room for every report of the sample without shrinking a column
                assert text is not None
            if text is not None:
                assert text == drawn_by_rich(table, width, monkeypatch)


class _Stream(io.StringIO):
    def __init__(self, *, tty: bool, encoding: str) -> None:
        super().__init__()
        self._tty, self._encoding = tty, encoding

    def isatty(self) -> bool:
        return self._tty

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


@pytest.mark.parametrize(
    ("tty", "encoding", "columns", "width"),
    [
        (False, "utf-8", "", 120),
        (False, "UTF-8", "97", 97),
        (True, "utf-8", "97", None),  # a terminal: colour, rich draws
        (False, "latin-1", "", None),  # rich would draw the lines in ASCII
    ],
)
def test_plain_width_is_the_console_width_where_rich_draws_without_colour(
    tty: bool, encoding: str, columns: str, width: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    stream = _Stream(tty=tty, encoding=encoding)
    assert plain_width(stream) == width
    if width is not None:
        assert make_console(stream).width == width
