"""Every command that reads records takes the same options — ``-d`` (repeatable, every one
honoured), the range flags and the filters — and honours them."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer.main

from aiusage.cli import app
from conftest import call, write_jsonl

DATA_DIR = {"--data-dir"}
RANGE = {"--days", "--since", "--until", "--all"}
FILTERS = {
    "--user",
    "--model",
    "--function",
    "--provider",
    "--session",
    "--anchor",
    "--key",
    "--tag",
}
SHARED = DATA_DIR | RANGE | FILTERS

READING = {
    "report", "top-users", "models", "cache", "intervals", "counters", "stats", "logs", "trend",
    "heatmap", "check", "export", "doctor", "reconcile", "reprice", "watch",
}  # fmt: skip
# The shared options a reading command does not offer, and why (it never takes one and
# ignores it: an option that cannot apply is not there at all).
EXEMPT = {
    # Its windows (the last minute, hour, 24 h, this hour, today, this month) all end now.
    "stats": RANGE,
    # Budgets are for today and this month, the spike check for the week before today.
    "check": RANGE,
    # It follows today's files as they grow.
    "watch": RANGE,
    # The bill's UTC days are the range compared.
    "reconcile": RANGE,
    # It audits every line of every file: a range or a filter would hide the lines it reports.
    "doctor": RANGE | FILTERS,
}
# Commands with a --data-dir that read no records: it names the one dir they write to or
# configure, so it is not repeatable.
NOT_READING = {
    "record", "incr",  # append records
    "import claude-code", "import jsonl", "import csv", "import codex",  # append records
    "pricing list", "pricing show", "pricing cost", "pricing check",  # the dir's pricing.yaml
    "cache clear",  # deletes the dir's rollup cache
    "prune", "compact",  # delete or gzip the dir's day files
}  # fmt: skip


def _commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every command and group under ``group``, by its full name (``cache clear``); through
    ``get_command``, which loads a command's module on first use."""
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        full = f"{prefix}{name}"
        yield full, command
        if hasattr(command, "commands"):
            yield from _commands(command, f"{full} ")


def _options(command: Any) -> dict[str, Any]:
    return {opt: param for param in command.params for opt in param.opts}


TREE = dict(_commands(typer.main.get_command(app)))


def test_reading_commands_take_the_shared_options() -> None:
    with_dirs = {name for name, command in TREE.items() if "--data-dir" in _options(command)}
    assert with_dirs == READING | NOT_READING, "classify the command: READING or NOT_READING"
    for name in sorted(READING):
        options = _options(TREE[name])
        missing = SHARED - EXEMPT.get(name, set()) - set(options)
        assert not missing, f"{name} lacks {sorted(missing)}"
        offered = EXEMPT.get(name, set()) & set(options)
        assert not offered, f"{name} is exempt from {sorted(offered)} but offers them"
        assert options["--data-dir"].multiple, f"{name}: -d must be repeatable"
        assert "-d" in options["--data-dir"].opts
        for flag in FILTERS & set(options):
            assert options[flag].multiple, f"{name}: {flag} must be repeatable"
    for name in NOT_READING:
        assert not _options(TREE[name])["--data-dir"].multiple, f"{name} writes to one dir"


# Two data dirs of today's calls: A holds 3 (ann's), B 2 (bob's and one copied from A).
@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(mode=0o700)
    b.mkdir(mode=0o700)
    now = time.time()
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    start = dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC).timestamp()
    ts = max(start + 1, now - 120)

    def rec(record_id: str, at: float, **fields: Any) -> dict[str, Any]:
        fields = {"user_id": "ann", "function": "chat", "cost": 1.0, "currency": "USD", **fields}
        return call(at, id=record_id, **fields)

    shared = rec("s1", ts + 2)
    write_jsonl(a / f"usage_{today}.jsonl", [rec("a1", ts), rec("a2", ts + 1), shared])
    write_jsonl(b / f"usage_{today}.jsonl", [rec("b1", ts + 3, user_id="bob", cost=2.0), shared])
    return a, b


def _json(stdout: str) -> Any:
    return orjson.loads(stdout)


def _jsonl(stdout: str) -> int:
    return len(stdout.splitlines())


def _total(key: str) -> Callable[[Any], int]:
    return lambda doc: doc["totals"][key]


# Each reading command (but check and watch, tested below) with the arguments that make it
# print JSON, and how many calls the document counted.
COUNTS: dict[str, tuple[list[str], Callable[[str], int]]] = {
    "report": (["report", "--json", "-p", "total"], lambda s: _json(s)["totals"]["requests"]),
    "top-users": (["top-users", "--json"], lambda s: sum(u["requests"] for u in _json(s)["users"])),
    "models": (["models", "--json"], lambda s: _json(s)["totals"]["requests"]),
    "cache": (["cache", "--json"], lambda s: _json(s)["totals"]["requests"]),
    # A user with one call has no gap: counted among the single-call groups.
    "intervals": (
        ["intervals", "--json"],
        lambda s: sum(r["calls"] for r in _json(s)["rows"]) + _json(s)["single_call_groups"],
    ),
    "counters": (
        ["counters", "--json"],
        lambda s: {c["key"]: c["value"] for c in _json(s)["counters"]}.get("api.total_requests", 0),
    ),
    "stats": (["stats", "--json"], lambda s: _json(s)["windows"]["today"]["requests"]),
    "logs": (["logs", "--json"], _jsonl),
    "trend": (
        ["trend", "--json", "--metric", "requests"],
        lambda s: sum(d["value"] for d in _json(s)["days"]),
    ),
    "heatmap": (["heatmap", "--json"], lambda s: sum(d["requests"] for d in _json(s)["days"])),
    "export": (["export", "--out", "-"], lambda s: _json(s)["totals"]["requests"]),
    "doctor": (["doctor", "--json"], lambda s: _json(s)["records"]),
    "reconcile": (
        ["reconcile", "BILL", "--json"],
        lambda s: sum(r["local_requests"] for r in _json(s)["rows"]),
    ),
    "reprice": (["reprice", "--dry-run", "--json"], lambda s: _json(s)["totals"]["requests"]),
}


def _run(cli: Any, name: str, tmp_path: Path, *extra: Any) -> int:
    args, count = COUNTS[name]
    bill = tmp_path / "bill.csv"
    bill.write_text(f"date,model,cost_usd\n{dt.datetime.now(dt.UTC).date()},gpt-4o,5.0\n")
    result = cli(*[bill if a == "BILL" else a for a in args], *extra)
    assert result.exit_code == 0, result.stderr
    return count(result.stdout)


def test_every_reading_command_is_counted_here() -> None:
    assert set(COUNTS) | {"check", "watch"} == READING


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_every_data_dir_is_honoured(cli, dirs, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    a, b = dirs
    assert _run(cli, name, tmp_path, "-d", a) == 3
    assert _run(cli, name, tmp_path, "-d", b) == 2
    # Both dirs, the record copied to both counted once.
    assert _run(cli, name, tmp_path, "-d", a, "-d", b) == 3 + 2 - 1
    assert _run(cli, name, tmp_path, "-d", str(tmp_path / "[ab]")) == 3 + 2 - 1


@pytest.mark.parametrize("name", sorted(n for n in COUNTS if "--user" not in EXEMPT.get(n, ())))
def test_filters_are_honoured(cli, dirs, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    a, b = dirs
    assert _run(cli, name, tmp_path, "-d", a, "-d", b, "--user", "bob") == 1
    assert _run(cli, name, tmp_path, "-d", a, "-d", b, "--function", "other") == 0


@pytest.mark.parametrize("name", sorted(n for n in COUNTS if "--until" not in EXEMPT.get(n, ())))
def test_range_flags_are_honoured(cli, dirs, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    a, b = dirs
    yesterday = str(dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    assert _run(cli, name, tmp_path, "-d", a, "-d", b, "--until", yesterday) == 0
    assert _run(cli, name, tmp_path, "-d", a, "-d", b, "--since", yesterday) == 4
    assert _run(cli, name, tmp_path, "-d", a, "-d", b, "--all") == 4


def test_check_adds_up_every_data_dir(cli, dirs) -> None:  # type: ignore[no-untyped-def]
    a, b = dirs  # today: $3 in A, $3 in B, $1 of it the same record: $5 in all
    assert cli("check", "-d", a, "--daily-budget", "4").exit_code == 0
    assert cli("check", "-d", b, "--daily-budget", "4").exit_code == 0
    both = cli("check", "-d", a, "-d", b, "--daily-budget", "4")
    assert both.exit_code == 1
    assert "today's cost $5.00" in both.stdout
    assert cli("check", "-d", a, "-d", b, "--daily-budget", "5").exit_code == 0
    # A filter narrows what the budget holds for: bob spent $2.
    assert cli("check", "-d", a, "-d", b, "--user", "bob", "--daily-budget", "1").exit_code == 1
    assert cli("check", "-d", a, "-d", b, "--user", "bob", "--daily-budget", "2").exit_code == 0


def test_doctor_names_the_files_of_each_dir(cli, dirs) -> None:  # type: ignore[no-untyped-def]
    a, b = dirs
    doc = cli("doctor", "-d", a, "-d", b, "--json").json()
    assert doc["data_dirs"] == [str(a), str(b)]
    assert sorted(Path(f["file"]).parent for f in doc["files"]) == [a, b]
    assert doc["duplicate_records"] == 1
    (b / "usage_2020-01-01.jsonl").write_bytes(b"junk\n")
    result = cli("doctor", "-d", a, "-d", b, "--json")
    assert result.exit_code == 3
    assert result.json()["malformed"][0]["file"] == str(b / "usage_2020-01-01.jsonl")


def test_reprice_rewrites_the_files_of_every_dir(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "a", tmp_path / "b"
    for directory in (a, b):
        directory.mkdir()
        write_jsonl(directory / "usage_2026-01-02.jsonl", [call(1767312000.0, cost=9.0)])
    doc = cli("reprice", "-d", a, "-d", b, "--all", "--json").json()
    assert set(doc["rewritten"]) == {
        str(a / "usage_2026-01-02.jsonl"),
        str(b / "usage_2026-01-02.jsonl"),
    }
    for directory in (a, b):
        (line,) = (directory / "usage_2026-01-02.jsonl").read_bytes().splitlines()
        assert orjson.loads(line)["cost"] != 9.0


def test_parquet_export_reads_every_dir_once(cli, dirs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parquet = pytest.importorskip("pyarrow.parquet")
    a, b = dirs
    out = tmp_path / "lake"
    assert cli("export", "-d", a, "-d", b, "--format", "parquet", "--out", out).exit_code == 0
    assert parquet.read_table(out).num_rows == 4
    bob = tmp_path / "bob"
    cli("export", "-d", a, "-d", b, "--user", "bob", "--format", "parquet", "--out", bob)
    assert parquet.read_table(bob).column("user_id").to_pylist() == ["bob"]
