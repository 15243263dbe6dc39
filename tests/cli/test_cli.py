from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from aiusage.store.dayfiles import iter_lines, list_files
from conftest import call, write_jsonl

COMMANDS = [
    "record",
    "report",
    "top-users",
    "stats",
    "logs",
    "trend",
    "heatmap",
    "models",
    "cache",
    "intervals",
    "counters",
    "incr",
    "doctor",
    "reprice",
    "pricing list",
    "pricing show",
    "pricing cost",
    "pricing check",
    "pricing import",
    "export",
    "check",
    "prune",
    "compact",
    "cache clear",
    "import claude-code",
    "import jsonl",
    "import csv",
    "import codex",
    "reconcile",
    "watch",
]
SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"


def _lines(directory: Path) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(line) for f in list_files(directory) for line in iter_lines(f.path)]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples(cli, command: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(*command.split(), "--help")
    assert result.exit_code == 0
    assert "Examples" in result.stdout
    assert "--data-dir" in result.stdout or "pricing import" in command


def test_version_and_module_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "aiusage", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("aiusage ")


def test_record_prints_and_writes(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "record",
        "-d",
        data_dir,
        "--model",
        "gpt-4o",
        "-i",
        "1000",
        "-o",
        "100",
        "--user",
        "ann",
        "--tag",
        "env=prod",
        "--api-key",
        "sk-secret-0123456789abcd",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("recorded gpt-4o")
    (rec,) = _lines(data_dir)
    assert rec["tags"] == {"env": "prod"}
    assert rec["api_key"] == "sk-…abcd"
    assert b"sk-secret-0123456789abcd" not in next(iter(list_files(data_dir))).path.read_bytes()
    js = cli(
        "record",
        "-d",
        data_dir,
        "--model",
        "mystery-model",
        "--error",
        "boom",
        "--status-code",
        "503",
        "--json",
    )
    assert js.exit_code == 0
    rec = js.json()
    assert (rec["success"], rec["error_msg"], rec["status_code"], rec["cost"]) == (
        False,
        "boom",
        503,
        None,
    )
    assert "no price for mystery-model" in js.stderr


def test_record_with_timestamp_goes_to_its_day(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert (
        cli(
            "record", "-d", data_dir, "-m", "gpt-4o", "--timestamp", "2026-01-02T03:04:05Z"
        ).exit_code
        == 0
    )
    assert [f.path.name for f in list_files(data_dir)] == ["usage_2026-01-02.jsonl"]


BAD_INPUT = [
    (["record", "-m", "gpt-4o", "-i", "-5"], 2, "input_tokens"),
    (["record", "-m", "gpt-4o", "--tag", "novalue"], 2, "--tag expects KEY=VALUE"),
    (["record", "-i", "5"], 2, "--model is required"),
    (["record", "-m", "gpt-4o", "--bogus"], 2, "No such option"),
    (["record", "-m", "gpt-4o", "--status-code", "99"], 2, "status_code"),
    (["report", "--since", "2026-13-01"], 2, "bad date"),
    (["report", "--period", "fortnight"], 2, "unknown period"),
    (["report", "--by", "colour"], 2, "unknown --by field"),
    (["report", "--days", "abc"], 2, "--days"),
    (["report", "--sort", "nonsense"], 2, "cannot sort"),
    (["report", "--tz", "Mars/Base"], 2, "unknown time zone"),
    (["report", "--json", "--csv"], 2, "choose one"),
    (["top-users", "--by", "mood"], 2, "cannot rank users"),
    (["stats", "--tz", "Nowhere/Town"], 2, "unknown time zone"),
    (["logs", "-n", "0"], 2, "--limit"),
    (["trend", "--metric", "mood"], 2, "unknown --metric"),
    (["heatmap", "--days", "0"], 2, "--days"),
    (["models", "--since", "soon"], 2, "bad date"),
    (["cache", "--days", "-1"], 2, "--days"),
    (["intervals", "--by", "model"], 2, "--by must be user or key"),
    (["counters", "--until", "never"], 2, "bad date"),
    (["incr"], 2, "Missing argument"),
    (["reprice", "--since", "later"], 2, "bad date"),
    (["pricing", "show"], 2, "Missing argument"),
    (["pricing", "cost", "gpt-4o", "--input", "x"], 2, "--input"),
    (["export", "--format", "xml"], 2, "unknown --format"),
    (["check", "--spike", "x"], 2, "--spike"),
    (["prune", "--older-than", "soon"], 2, "--older-than expects a number"),
    (["compact", "--older-than", "x"], 2, "--older-than expects a number"),
    (["cache", "clear", "--bogus"], 2, "No such option"),
    (["import", "claude-code", "/nonexistent/claude"], 2, "no such directory"),
    (["import", "codex", "/nonexistent/sessions"], 2, "no such directory"),
    (["import", "jsonl", "export.jsonl"], 2, "Missing option '--map'"),
    (["import", "csv", "export.csv"], 2, "Missing option '--map'"),
    (["pricing", "list", "--pricing", "/nonexistent.yaml"], 2, "does not exist"),
    (["pricing", "check", "--bogus"], 2, "No such option"),
    (["doctor", "--pricing", "/nonexistent.yaml"], 2, "does not exist"),
    (["reconcile", "/nonexistent/bill.csv"], 2, "cannot read"),
    (["watch", "--interval", "0"], 2, "--interval"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT)
def test_bad_input_is_one_line_and_writes_nothing(
    cli, data_dir: Path, args: list[str], code: int, message: str
) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args, "--data-dir", data_dir)
    assert result.exit_code == code
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert list(data_dir.iterdir()) == []


def _leaf_commands() -> set[str]:
    import typer

    from aiusage.cli import app

    def walk(group, prefix: str):  # type: ignore[no-untyped-def]
        ctx = typer.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            full = f"{prefix} {name}".strip()
            if hasattr(command, "list_commands"):
                if command.invoke_without_command:  # a group that is a command too (cache)
                    yield full
                yield from walk(command, full)
            else:
                yield full

    return set(walk(typer.main.get_command(app), ""))


def test_every_command_has_a_help_and_an_error_test() -> None:
    leaves = _leaf_commands()
    assert set(COMMANDS) == leaves
    errors = {" ".join(args[:2]) for args, _, _ in BAD_INPUT} | {
        args[0] for args, _, _ in BAD_INPUT
    }
    untested = {c for c in leaves if c not in errors} - {"pricing import"}
    assert not untested, untested


def test_pricing_import_of_a_missing_file_exits_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("pricing", "import", tmp_path / "nope.json")
    assert result.exit_code == 2
    assert "cannot read" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        "report",
        "top-users",
        "stats",
        "logs",
        "trend",
        "heatmap",
        "models",
        "cache",
        "intervals",
        "counters",
        "doctor",
    ],
)
def test_missing_data_dir_exits_3(cli, tmp_path: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(command, "--data-dir", tmp_path / "nope")
    assert result.exit_code == 3
    assert "does not exist" in result.stderr


def test_record_into_missing_parent_exits_3(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("record", "-m", "gpt-4o", "--data-dir", tmp_path / "a" / "b")
    assert result.exit_code == 3
    assert not (tmp_path / "a").exists()


def test_batch_is_all_or_nothing(cli, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = b"".join(
        orjson.dumps(call(1_792_000_000 + i, user_id=f"u{i}")) + b"\n" for i in range(5)
    )
    bad = good + b'{"model": "gpt-4o", "input_tokens": -1}\n' + b"not json\n"
    path = tmp_path / "batch.jsonl"
    path.write_bytes(bad)
    result = cli("record", "-d", data_dir, "--batch", path)
    assert result.exit_code == 2
    assert "line 6" in result.stderr
    assert "line 7" in result.stderr
    assert "nothing written" in result.stderr
    assert list(data_dir.iterdir()) == []
    result = cli("record", "-d", data_dir, "--batch", "-", "--json", input=good)
    assert result.exit_code == 0, result.stderr
    assert result.json()["written"] == 5
    assert sorted(r["user_id"] for r in _lines(data_dir)) == [f"u{i}" for i in range(5)]


def test_a_batch_fed_again_writes_nothing_and_says_so(cli, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lines = [call(1_792_000_000 + i) for i in range(4)] + [call(1_792_000_000, id="mine")]
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    first = cli("record", "-d", data_dir, "--batch", path)
    assert first.stderr == f"aiusage: recorded 5 records in {data_dir}\n"
    again = cli("record", "-d", data_dir, "--batch", path)
    assert again.exit_code == 0
    assert again.stderr == f"aiusage: recorded 0 records in {data_dir} (5 already recorded)\n"
    doc = cli("record", "-d", data_dir, "--batch", path, "--json").json()
    assert (doc["written"], doc["already_recorded"]) == (0, 5)
    assert len(_lines(data_dir)) == 5


def test_report_csv_and_plain_table(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    write_jsonl(
        data_dir / "usage_2026-11-01.jsonl",
        [call(1_793_500_000, user_id='a "quoted", user', cost=0.5, currency="USD")],
    )
    out = cli("report", "-d", data_dir, "--all", "--by", "user", "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["user_id"] == 'a "quoted", user'
    assert rows[0]["cost"] == "0.5"
    assert out.splitlines()[0].startswith("period,user_id,models,requests")
    table = cli("report", "-d", data_dir, "--all").stdout
    assert "\x1b[" not in table
    assert "$0.5000" in table
    assert "Total" in table


def test_strict_turns_skipped_lines_into_exit_3(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (data_dir / "usage_2026-11-01.jsonl").write_bytes(
        orjson.dumps(call(1_793_500_000)) + b"\n{broken\n"
    )
    lenient = cli("report", "-d", data_dir, "--all", "--json")
    assert lenient.exit_code == 0
    assert "1 malformed line skipped (first: usage_2026-11-01.jsonl:2: bad JSON)" in lenient.stderr
    strict = cli("report", "-d", data_dir, "--all", "--strict")
    assert strict.exit_code == 3
    assert strict.stderr.count("\n") == 1


def test_sample_logs_report(cli) -> None:  # type: ignore[no-untyped-def]
    doc = cli("report", "--data-dir", SAMPLE_LOGS, "--all", "--period", "week", "--json").json()
    assert doc["totals"]["requests"] > 4000
    assert doc["skipped_lines"] == 1  # the torn last line of the newest day
    assert doc["unpriced_models"][0]["model"] == "acme-private-13b"
    seed_day = cli(
        "report",
        "--data-dir",
        SAMPLE_LOGS,
        "--since",
        "2026-10-26",
        "--until",
        "2026-10-26",
        "--by",
        "model",
        "--json",
    ).json()
    assert {r["model"] for r in seed_day["rows"]} <= {"qwen-plus", "qwen-turbo", "qwen-max"}
    assert seed_day["totals"]["cost"] > 0


def test_by_accepts_a_comma_separated_list(cli) -> None:  # type: ignore[no-untyped-def]
    args = ("report", "-d", SAMPLE_LOGS, "--all", "--period", "total", "--json")
    listed = cli(*args, "--by", "user,model").json()
    repeated = cli(*args, "--by", "user", "--by", "model").json()
    assert listed["group_by"] == ["user_id", "model"]
    assert listed["rows"] == repeated["rows"]


def test_help_lists_daily_commands_first_with_one_line_summaries(cli) -> None:  # type: ignore[no-untyped-def]
    import typer

    from aiusage.cli import app
    from aiusage.cli.application import COMMAND_ORDER

    listing = cli("--help").stdout
    positions = [listing.index(f"│ {name} ") for name in ("record", "report", "top-users", "prune")]
    assert positions == sorted(positions)
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    assert set(group.list_commands(ctx)) <= set(COMMAND_ORDER)
    for parent in (group, group.get_command(ctx, "import"), group.get_command(ctx, "pricing")):
        sub = typer.Context(parent)
        for name in parent.list_commands(sub):
            summary = parent.get_command(sub, name).short_help
            assert summary, name
            assert "\n" not in summary, name


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--all"],
        ["top-users", "--all"],
        ["stats"],  # its cache use, with a fixed clock: tests/test_stats.py
        ["models", "--all"],
        ["trend"],
        ["cache", "--all"],
        ["check", "--daily-budget", "100"],
        ["reprice", "--all", "--dry-run"],
        ["export", "--format", "json", "--all", "--out", "-"],
    ],
)
def test_no_cache_reads_everything_and_writes_no_cache(
    cli, data_dir: Path, args: list[str]
) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt
    import time

    from conftest import call, write_jsonl

    yesterday = dt.datetime.fromtimestamp(time.time() - 86400, dt.UTC).date()  # files: UTC days
    noon = dt.datetime(
        yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=dt.UTC
    ).timestamp()
    write_jsonl(data_dir / f"usage_{yesterday}.jsonl", [call(noon + k) for k in range(5)])
    result = cli(*args, "--data-dir", data_dir, "--no-cache")
    assert result.exit_code == 0, result.stderr
    assert not (data_dir / ".cache").exists()
    cached = cli(*args, "--data-dir", data_dir)
    assert cached.exit_code == 0, cached.stderr
    # Yesterday straddles the start of stats' last 24 hours: read, not cached.
    assert (data_dir / ".cache").exists() == (args[0] != "stats")


def test_an_unexpected_error_exits_70_with_one_line(
    cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from aiusage.workspace import Workspace

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Workspace, "report", broken)
    result = cli("report", "-d", data_dir, "--all")
    assert result.exit_code == 70
    assert result.stderr.splitlines() == [
        "aiusage: error: internal error: RuntimeError: a bug (AIUSAGE_DEBUG=1 shows the traceback)"
    ]
