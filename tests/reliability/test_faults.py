"""Full disk, unwritable or missing data dirs: one-line errors and exit 3 from the CLI; the
Python API logs and returns; an interrupted export leaves the old file."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest

import aiusage
from aiusage.store.dayfiles import day_path


def _full_disk(data_dir: Path) -> None:
    """Today's day file is /dev/full: every write fails with ENOSPC."""
    day_path(data_dir, dt.datetime.now(dt.UTC).date()).symlink_to("/dev/full")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_disk(cli, data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    _full_disk(data_dir)
    result = cli("record", "-d", data_dir, "-m", "gpt-4o")
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1
    assert "disk full" in result.stderr
    with caplog.at_level(logging.ERROR, logger="aiusage"):
        assert aiusage.record(data_dir=data_dir, model="gpt-4o") is None

    @aiusage.track(model="gpt-4o", data_dir=data_dir)
    def call() -> str:
        return "the caller's result"

    assert call() == "the caller's result"
    assert "not recorded" in caplog.text


@pytest.mark.parametrize("where", ["missing/deep/dir", "/proc/self/no-such"])
def test_missing_or_unwritable_dir(cli, tmp_path: Path, where: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / where if not where.startswith("/") else Path(where)
    result = cli("record", "-d", target, "-m", "gpt-4o")
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert aiusage.record(data_dir=target, model="gpt-4o") is None


def test_permission_denied(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if os.geteuid() == 0:
        pytest.skip("root is never denied")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert cli("record", "-d", locked, "-m", "gpt-4o").exit_code == 3


def test_interrupted_compaction_keeps_the_old_file(
    cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    old = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=30)
    aiusage.record(
        data_dir=data_dir,
        model="gpt-4o",
        timestamp=dt.datetime(old.year, old.month, old.day, 12, tzinfo=dt.UTC).timestamp(),
    )
    path = day_path(data_dir, old)
    before = path.read_bytes()

    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", boom)
    result = cli("compact", "--older-than", "7", "-d", data_dir)
    assert result.exit_code == 3
    assert path.read_bytes() == before
    assert sorted(p.name for p in data_dir.iterdir()) == [path.name]
