"""Shared fixtures: a fixed zone and terminal width, data dirs, and a CLI runner that goes
through the same entry point as the console script."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from aiusage.cli import app

FIXED_ENV = {"TZ": "UTC", "COLUMNS": "120", "NO_COLOR": "1"}


@pytest.fixture(autouse=True)
def _fixed_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    for key, value in FIXED_ENV.items():
        monkeypatch.setenv(key, value)
    # Never touch the real user data dir.
    monkeypatch.setenv("AIUSAGE_HOME", str(tmp_path / "default-home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    # Parsed YAML is cached per user: here, once for the whole session.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    return


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return orjson.loads(self.stdout)


@pytest.fixture
def cli() -> Any:
    """Run ``aiusage ARGS...`` in-process; returns exit code, stdout and stderr apart."""
    runner = CliRunner()

    def run(
        *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> Result:
        result = runner.invoke(
            app, [str(a) for a in args], input=input, env={**FIXED_ENV, **(env or {})}
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data dir."""
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append raw rows (any shape) to a file, one JSON object per line."""
    with open(path, "ab") as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")


def call(ts: float, **fields: Any) -> dict[str, Any]:
    """A minimal valid record dict at ``ts``."""
    base: dict[str, Any] = {
        "v": 1,
        "timestamp": ts,
        "model": "gpt-4o",
        "input_tokens": 100,
        "output_tokens": 10,
    }
    base.update(fields)
    return base
