from __future__ import annotations

import datetime as dt
import gzip
import os
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


def _old_day(days_ago: int = 10) -> tuple[str, float]:
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago)
    return day.isoformat(), dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()


def _requests(cli, data_dir: Path, *, cache: bool = False) -> int:  # type: ignore[no-untyped-def]
    args = ["report", "-d", data_dir, "--all", "--period", "total", "--json"]
    doc = cli(*args, *([] if cache else ["--no-cache"])).json()
    return doc["totals"]["requests"]  # type: ignore[no-any-return]


def _interrupted_compaction(cli, data_dir: Path, *, legacy: bool) -> Path:  # type: ignore[no-untyped-def]
    """A day compacted by a ``compact`` killed after its rename: the gzip and the plain file
    it holds. Records without an ``id``: the rule cannot be a de-duplication by id."""
    day, ts = _old_day()
    plain = data_dir / f"usage_{day}.jsonl"
    write_jsonl(plain, [call(ts + i) for i in range(3)])  # no ids
    kept = plain.read_bytes()
    if legacy:  # a gzip of an older aiusage (no header field), or a hand-made one
        with gzip.open(str(plain) + ".gz", "wb") as gz:
            gz.write(kept)
    else:
        assert cli("compact", "--older-than", "7", "-d", data_dir).exit_code == 0
        plain.write_bytes(kept)
        os.chmod(plain, 0o600)
    return plain


@pytest.mark.parametrize("legacy", [False, True])
def test_interrupted_compaction_then_backfill_counts_once(
    cli, data_dir: Path, legacy: bool
) -> None:  # type: ignore[no-untyped-def]
    plain = _interrupted_compaction(cli, data_dir, legacy=legacy)
    assert _requests(cli, data_dir, cache=True) == 3  # cached now, from the plain file's start
    _, ts = _old_day()
    write_jsonl(plain, [call(ts + 100)])  # one back-filled line
    assert _requests(cli, data_dir) == 4
    assert _requests(cli, data_dir, cache=True) == 4
    assert cli("compact", "--older-than", "7", "-d", data_dir).exit_code == 0
    assert [p.name for p in data_dir.glob("usage_*")] == [plain.name + ".gz"]
    assert _requests(cli, data_dir) == 4
    assert _requests(cli, data_dir, cache=True) == 4


def test_backfill_into_a_compacted_day_is_merged_by_compact(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    day, _ = _old_day()
    _days(data_dir, [10])
    assert cli("compact", "--older-than", "7", "-d", data_dir).exit_code == 0
    for n in range(2):  # back-filled twice, compacted twice: weekly `compact && prune`
        done = cli("record", "-d", data_dir, "-m", "gpt-4o", "--timestamp", f"{day}T13:00:0{n}Z")
        assert done.exit_code == 0, done.stderr
        assert _requests(cli, data_dir) == 2 + n
        result = cli("compact", "--older-than", "7", "-d", data_dir)
        assert result.exit_code == 0, result.stderr
        assert [p.name for p in data_dir.glob("usage_*")] == [f"usage_{day}.jsonl.gz"]
        assert _requests(cli, data_dir) == 2 + n
    with gzip.open(data_dir / f"usage_{day}.jsonl.gz") as gz:  # still a gzip anyone can read
        assert len(gz.read().splitlines()) == 3


def test_a_killed_compaction_leaves_nothing_behind(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    _days(data_dir, [10])
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (plain,) = data_dir.glob("usage_*.jsonl")
    leftover = data_dir / f".{plain.name}.gz.tmp-{gone.stdout.strip()}"
    leftover.write_bytes(b"\x1f\x8b half a gzip")
    running = data_dir / f".{plain.name}.gz.tmp-{os.getppid()}"  # a live process's
    running.write_bytes(b"")
    assert cli("compact", "--older-than", "7", "-d", data_dir).exit_code == 0
    assert not leftover.exists()
    assert running.exists()
    assert _requests(cli, data_dir) == 1


@pytest.mark.parametrize("command", ["compact", "reprice"])
def test_a_link_planted_at_the_temporary_name_is_not_followed(
    cli, data_dir: Path, tmp_path: Path, command: str
) -> None:  # type: ignore[no-untyped-def]
    from aiusage.store.atomic import temp_path

    _days(data_dir, [10])
    (plain,) = data_dir.glob("usage_*.jsonl")
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me\n")
    # The temporary names this process would write (the CLI runs in it): plain and gzip.
    for target in (plain, plain.with_name(plain.name + ".gz")):
        temp_path(target).symlink_to(victim)
    argv = ["compact", "--older-than", "1"] if command == "compact" else ["reprice", "--all"]
    result = cli(*argv, "-d", data_dir)
    assert result.exit_code == 0, result.stderr
    assert victim.read_bytes() == b"keep me\n"
    report = cli("report", "-d", data_dir, "--all", "--json", "--no-cache").json()
    assert report["totals"]["requests"] == 1
