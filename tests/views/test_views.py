"""Snapshots of the terminal views at a fixed width and zone, plain and coloured."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from aiusage.output.charts import heatmap_view, period_chart, trend_view
from aiusage.output.tables import plain_text, report_table
from aiusage.output.terminal import report_view, top_users_view
from aiusage.output.terminal_analyses import cache_view, intervals_view, models_view
from aiusage.output.terminal_status import logs_view
from aiusage.pricing.table import load_table
from aiusage.views.document import Source
from aiusage.views.trend import build_heatmap, build_trend

SAMPLE = Path(__file__).resolve().parents[2] / "sample_logs"
SNAPSHOTS = Path(__file__).parents[1] / "snapshots"
UTC = ZoneInfo("UTC")
NOW = dt.datetime(2026, 11, 23, 18, tzinfo=dt.UTC).timestamp()
RANGE = ["--since", "2026-11-16", "--until", "2026-11-22", "--tz", "UTC"]


def render(view: Any, *, color: bool, width: int = 80) -> str:
    console = Console(
        file=io.StringIO(),
        width=width,
        force_terminal=color,
        color_system="truecolor" if color else None,
        no_color=not color,
    )
    console.print(view)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def _docs(cli) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    source = Source(SAMPLE, load_table(), "USD")
    calls = [
        __import__("orjson").loads(x)
        for x in cli(
            "logs", "-d", SAMPLE, "-n", "6", "--json", "--until", "2026-11-22"
        ).stdout.splitlines()
    ]
    calls[0] = {**calls[0], "success": False, "status_code": 429, "error_msg": "rate limited"}
    return {
        "report": (
            report_view,
            cli(
                "report", "-d", SAMPLE, *RANGE, "--by", "model", "--period", "total", "--json"
            ).json(),
        ),
        "report-days": (report_view, cli("report", "-d", SAMPLE, *RANGE, "--json").json()),
        "chart": (period_chart, cli("report", "-d", SAMPLE, *RANGE, "--json").json()),
        "top-users": (
            top_users_view,
            cli("top-users", "-d", SAMPLE, *RANGE, "-n", "5", "--json").json(),
        ),
        "models": (models_view, cli("models", "-d", SAMPLE, *RANGE, "--json").json()),
        "cache": (cache_view, cli("cache", "-d", SAMPLE, *RANGE, "--json").json()),
        "intervals": (
            intervals_view,
            cli("intervals", "-d", SAMPLE, *RANGE, "-n", "5", "--json").json(),
        ),
        "trend": (trend_view, build_trend(source, tz=UTC, now=NOW, days=7)),
        "heatmap": (heatmap_view, build_heatmap(source, tz=UTC, now=NOW, days=70)),
        "logs": (lambda calls, width: logs_view(calls, UTC, width=width), calls),
    }


@pytest.fixture(scope="module")
def docs() -> dict[str, Any]:
    from typer.testing import CliRunner

    from aiusage.cli import app

    runner = CliRunner()

    class R:
        def __init__(self, r: Any) -> None:
            self.stdout = r.stdout

        def json(self) -> Any:
            import orjson

            return orjson.loads(self.stdout)

    def cli(*args: Any) -> R:
        return R(
            runner.invoke(app, [str(a) for a in args], env={"TZ": "UTC", "AIUSAGE_NO_CACHE": "1"})
        )

    return _docs(cli)


NAMES = [
    "report",
    "report-days",
    "chart",
    "top-users",
    "models",
    "cache",
    "intervals",
    "trend",
    "heatmap",
    "logs",
]


@pytest.mark.parametrize("name", NAMES)
def test_plain_snapshot(docs: dict[str, Any], name: str) -> None:
    view, doc = docs[name]
    text = render(view(doc, width=80), color=False)
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed: rerun with UPDATE_SNAPSHOTS=1 if on purpose"


@pytest.mark.parametrize("name", NAMES)
def test_coloured_view(docs: dict[str, Any], name: str) -> None:
    view, doc = docs[name]
    text = render(view(doc, width=80), color=True)
    plain = render(view(doc, width=80), color=False)
    if name in (
        "logs",
        "report",
        "report-days",
        "top-users",
        "models",
        "trend",
        "heatmap",
        "chart",
    ):
        assert "\x1b[" in text
    # Colour never changes the words.
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", text) == plain


@pytest.mark.parametrize("name", ["report", "report-days"])
def test_a_report_table_written_without_rich_is_its_snapshot(
    docs: dict[str, Any], name: str
) -> None:
    """What `aiusage report` writes into a pipe, where rich is not loaded (README:
    Performance)."""
    _, doc = docs[name]
    text = plain_text(report_table(doc, width=80), 80)
    assert text == (SNAPSHOTS / f"{name}.txt").read_text()


def test_failures_are_red(docs: dict[str, Any]) -> None:
    view, calls = docs["logs"]
    text = render(view(calls, width=100), color=True, width=100)
    assert "\x1b[31m429 rate limited" in text
