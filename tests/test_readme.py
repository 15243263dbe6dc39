"""README's marked Python examples print what README says they print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = re.compile(
    r"<!-- readme-example: (?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)```\n.*?```\n(?P<out>.*?)```",
    re.S,
)
EXAMPLES = {
    m["name"]: (m["code"], m["out"]) for m in EXAMPLE.finditer((ROOT / "README.md").read_text())
}


def test_readme_has_examples() -> None:
    assert "workspace" in EXAMPLES


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_readme_example_prints_what_readme_says(name: str, tmp_path: Path) -> None:
    code, expected = EXAMPLES[name]
    env = {**os.environ, "TZ": "UTC", "AIUSAGE_HOME": str(tmp_path), "AIUSAGE_NO_CACHE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
