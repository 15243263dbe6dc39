"""The HTML export in a real browser: headless Chromium opens it with no console errors and
shows the same totals as ``report --json``. Skipped when Chromium is not installed (CI
installs it when it can: see .ci/run)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aiusage.views.formatting import count, money

SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"
CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_html_export_in_headless_chromium(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "dashboard.html"
    assert (
        cli("export", "-d", SAMPLE_LOGS, "--all", "--format", "html", "--out", page).exit_code == 0
    )
    totals = cli("report", "-d", SAMPLE_LOGS, "--all", "--json").json()["totals"]
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert not re.search(r"CONSOLE.*(error|Uncaught)", result.stderr, re.IGNORECASE)
    assert "<svg" in dom
    assert count(totals["requests"]) in dom
    assert money(totals["cost"], "USD") in dom
