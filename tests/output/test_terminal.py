from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from aiusage.output.terminal import report_view, top_users_view
from aiusage.views.formatting import money, record_line

SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1234.5, "USD", "$1,234.50"),
        (0.01234, "CNY", "¥0.0123"),
        (12.5, "CHF", "12.50 CHF"),
        (None, "USD", "-"),
        (0, "EUR", "€0.00"),
    ],
)
def test_money(amount: float | None, currency: str, text: str) -> None:
    assert money(amount, currency) == text


def _render(view: object, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, no_color=True, color_system=None)
    console.print(view)
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", [80, 100, 160])
@pytest.mark.parametrize(
    "args",
    [
        ["--all", "--period", "week"],
        ["--all", "--period", "total", "--by", "model"],
        # Thousands of rows to lay out: seconds each.
        pytest.param(
            ["--all", "--period", "day", "--by", "user", "--by", "function"], marks=pytest.mark.slow
        ),
        pytest.param(["--all", "--period", "hour", "--by", "tag:team"], marks=pytest.mark.slow),
    ],
)
def test_report_fits_the_terminal(cli, width: int, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    doc = cli("report", "-d", SAMPLE_LOGS, "--json", *args).json()
    lines = _render(report_view(doc, width=width), width)
    assert max(len(line) for line in lines) <= width
    assert any(line.lstrip().startswith("Total") for line in lines)
    assert any("$" in line for line in lines)


def test_report_table_snapshot(cli) -> None:  # type: ignore[no-untyped-def]
    doc = cli(
        "report", "-d", SAMPLE_LOGS, "--since", "2026-11-20", "--until", "2026-11-21", "--json"
    ).json()
    lines = _render(report_view(doc, width=120), 120)
    text = "\n".join(line.rstrip() for line in lines)
    assert "AI usage 2026-11-20 00:00 → 2026-11-22 00:00 (UTC, USD)" in text
    header = next(line for line in lines if "Requests" in line)
    assert header.split() == [
        "Day",
        "Requests",
        "Input",
        "Output",
        "Cache",
        "read",
        "Cache",
        "write",
        "Cost",
        "Success",
        "Models",
    ]
    day = next(line for line in lines if line.lstrip().startswith("2026-11-20"))
    row = doc["rows"][0]
    assert f"{row['requests']:,}" in day
    assert f"{row['input_tokens']:,}" in day


def test_top_users_view(cli) -> None:  # type: ignore[no-untyped-def]
    doc = cli("top-users", "-d", SAMPLE_LOGS, "--all", "--limit", "3", "--json").json()
    lines = _render(top_users_view(doc, width=80), 80)
    assert max(len(line) for line in lines) <= 80
    assert any("user_001" in line for line in lines)
    assert any("more users not shown" in line for line in lines)


def test_record_line() -> None:
    rec = {
        "model": "gpt-4o",
        "input_tokens": 1200,
        "output_tokens": 300,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost": 0.006,
        "currency": "USD",
        "user_id": "ann",
        "success": False,
        "error_msg": "boom",
    }
    assert (
        record_line(rec)
        == "recorded gpt-4o · 1,200 in / 300 out · $0.0060 · user ann · FAILED: boom"
    )


def test_a_long_report_table_is_capped_with_a_note_and_json_is_not(cli) -> None:  # type: ignore[no-untyped-def]
    import re

    args = ("report", "-d", SAMPLE_LOGS, "--all", "--period", "day", "--by", "user,function")
    every = cli(*args, "--json").json()["rows"]
    assert len(every) > 600
    row = re.compile(r"^ ?\d{4}-\d\d-\d\d ")

    def table_rows(*extra: str) -> tuple[int, str]:
        out = cli(*args, *extra).stdout
        return sum(1 for line in out.splitlines() if row.match(line)), out

    shown, out = table_rows()
    assert shown == 500
    assert f"{len(every) - 500:,} more rows not shown: use --limit N" in out
    assert any(line.lstrip().startswith("Total") for line in out.splitlines())
    # An explicit --limit shows that many rows, however many; CSV is never capped.
    shown, out = table_rows("--limit", "600")
    assert (shown, "more rows not shown" in out) == (600, False)
    csv_lines = cli(*args, "--csv").stdout.splitlines()
    assert len(csv_lines) == len(every) + 1
