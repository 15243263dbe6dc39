from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from conftest import call, write_jsonl


def _days(data_dir: Path, ages: list[int]) -> None:
    today = dt.datetime.now(dt.UTC).date()
    for age in ages:
        day = today - dt.timedelta(days=age)
        ts = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()
        write_jsonl(
            data_dir / f"usage_{day.isoformat()}.jsonl", [call(ts, cost=1.0, currency="USD")]
        )


def _total(cli, data_dir: Path) -> float:  # type: ignore[no-untyped-def]
    return cli(
        "report", "-d", data_dir, "--all", "--period", "total", "--json", "--no-cache"
    ).json()["totals"]["cost"]  # type: ignore[no-any-return]


def test_prune(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _days(data_dir, [0, 5, 500, 900])
    dry = cli("prune", "--older-than", "400d", "--dry-run", "-d", data_dir)
    assert dry.stdout.count("would delete") == 2
    assert len(list(data_dir.glob("usage_*"))) == 4
    assert cli("prune", "--older-than", "400", "-d", data_dir).stdout.count("deleted") == 2
    assert _total(cli, data_dir) == 2.0
    assert cli("prune", "--older-than", "0", "-d", data_dir).exit_code == 3
    assert cli("prune", "--older-than", "soon", "-d", data_dir).exit_code == 2


def test_compact_keeps_every_record(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _days(data_dir, [0, 1, 8, 9, 30])
    before = _total(cli, data_dir)
    result = cli("compact", "--older-than", "7", "-d", data_dir)
    assert result.stdout.count("compressed") == 3
    names = sorted(p.name for p in data_dir.glob("usage_*"))
    assert sum(n.endswith(".gz") for n in names) == 3
    assert _total(cli, data_dir) == before
    assert "nothing to compact" in cli("compact", "--older-than", "7", "-d", data_dir).stderr


def test_interrupted_compaction_is_not_double_counted(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _days(data_dir, [10])
    (plain,) = data_dir.glob("usage_*.jsonl")
    with gzip.open(str(plain) + ".gz", "wb") as gz:
        gz.write(plain.read_bytes())  # the gzip landed, the plain file was not removed yet
    assert _total(cli, data_dir) == 1.0


@pytest.mark.parametrize("command", ["prune", "compact"])
def test_retention_help_and_missing_dir(cli, tmp_path: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    assert "Examples" in cli(command, "--help").stdout
    assert cli(command, "--older-than", "5", "-d", tmp_path / "nope").exit_code == 3
