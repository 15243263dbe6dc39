"""Start-up: ``aiusage X`` imports what X needs, not every command's module (README:
Performance). Each check runs in a fresh interpreter, so what it sees in ``sys.modules`` is
what the command imported, whatever the tests before it loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from aiusage.cli.application import COMMAND_MODULES, COMMAND_ORDER

# Run `main(args)` with its output swallowed, then print which of `modules` were imported.
PROBE = """
import contextlib, io, sys
import orjson
from aiusage.cli import main
args, modules = orjson.loads(sys.argv[1]), orjson.loads(sys.argv[2])
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
sys.stdout.write(orjson.dumps({"code": code, "loaded": [m for m in modules if m in sys.modules]}).decode())
"""

# The other commands' modules: `report` needs none of them.
OTHER_COMMANDS = sorted(
    f"aiusage.cli.{module}" for module in set(COMMAND_MODULES.values()) - {"reports"}
)
# What `report --help` needs none of: the engine, the records, the pricing, the output,
# msgspec, YAML, worker processes, markdown (typer's markdown help) and tracebacks.
NOT_FOR_HELP = [
    *OTHER_COMMANDS,
    "aiusage.workspace",
    "aiusage.engine.rollup",
    "aiusage.engine.scan",
    "aiusage.engine.cache",
    "aiusage.views.report",
    "aiusage.views.document",
    "aiusage.records.schema",
    "aiusage.records.reader",
    "aiusage.pricing.table",
    "aiusage.pricing.price",
    "aiusage.output.terminal",
    "msgspec",
    "yaml",
    "multiprocessing",
    "concurrent.futures",
    "rich.markdown",
    "markdown_it",
    "rich.traceback",
    "pygments",
]
# What a report of an empty data dir needs none of: no line to read (nor msgspec), no worker
# to start, nothing to log, and (into a pipe) no rich to draw the table.
NOT_FOR_EMPTY_REPORT = [
    *OTHER_COMMANDS,
    "aiusage.records.reader",
    "aiusage.records.schema",
    "aiusage.pricing.cost",
    "msgspec",
    "aiusage.output.terminal",
    "aiusage.output.json_csv",
    "rich",
    "logging",
    "yaml",
    "multiprocessing",
    "concurrent.futures",
    "typer.rich_utils",
    "rich.markdown",
    "markdown_it",
    "rich.traceback",
    "pygments",
]


def _loaded(args: list[str], modules: list[str], cache: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, orjson.dumps(args), orjson.dumps(modules)],
        capture_output=True,
        check=True,
        env={**os.environ, "XDG_CACHE_HOME": str(cache)},
    )
    result: dict[str, object] = orjson.loads(done.stdout)
    return result


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_report_help_imports_only_the_report_commands(flag: str, tmp_path: Path) -> None:
    assert _loaded(["report", flag], NOT_FOR_HELP, tmp_path) == {"code": 0, "loaded": []}


def test_empty_data_dir_report_imports_no_other_command_nor_workers(tmp_path: Path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    args = ["report", "-d", str(data), "--tz", "UTC"]
    # The first run parses the packaged pricing.yaml (PyYAML) into the YAML cache; from then
    # on, as on every run but a machine's first, YAML is not imported.
    assert _loaded(args, [], cache)["code"] == 0
    assert _loaded(args, NOT_FOR_EMPTY_REPORT, cache) == {"code": 0, "loaded": []}


# Run `main(args)` with its output swallowed, then print whether the collector is on and how
# many objects are frozen out of its reach.
GC_PROBE = """
import contextlib, gc, io, sys
import orjson
from aiusage.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main(orjson.loads(sys.argv[1]))
    except SystemExit:
        pass
sys.stdout.write(orjson.dumps([gc.isenabled(), gc.get_freeze_count()]).decode())
"""


@pytest.mark.parametrize(
    ("args", "enabled", "frozen"),
    [
        # A command that ends runs without the collector to its end.
        (["report", "--help"], False, True),
        (["report", "-d", "{empty}", "--tz", "UTC"], False, True),
        # The listing loads every command.
        (["--help"], False, True),
        # A command that runs until stopped has it back, start-up's objects frozen.
        (["watch", "--help"], True, True),
        # No command loaded: the collector is back on, nothing frozen.
        (["--no-such-option"], True, False),
    ],
)
def test_the_collector_is_off_while_a_command_loads_and_runs(
    args: list[str], enabled: bool, frozen: bool, tmp_path: Path
) -> None:
    """The collector is off while the command loads, what start-up made is then frozen (tens
    of thousands of objects), and it stays off unless the command runs until stopped
    (README: Performance)."""
    (tmp_path / "empty").mkdir()
    args = [a.format(empty=tmp_path / "empty") for a in args]
    done = subprocess.run(
        [sys.executable, "-c", GC_PROBE, orjson.dumps(args)],
        capture_output=True,
        check=True,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    is_enabled, frozen_count = orjson.loads(done.stdout)
    assert is_enabled == enabled
    assert (frozen_count > 10_000) == frozen, frozen_count


def test_the_application_run_in_process_leaves_the_collector_alone(cli: Any) -> None:
    import gc

    frozen = gc.get_freeze_count()
    assert cli("report", "--help").exit_code == 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_an_unknown_command_still_suggests_the_closest() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aiusage", "reprot"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    expected = "No such command 'reprot'. Did you mean 'report', 'export', 'reprice'?"
    assert done.stderr == f"aiusage: error: {expected}\n"


def test_command_modules_name_each_command_and_its_module() -> None:
    """:data:`COMMAND_MODULES` lists every command, with the module that defines it: a new
    command missing from it would not be found."""
    import typer.main

    from aiusage.cli import app
    from aiusage.cli.application import AiusageGroup

    group = typer.main.get_command(app)
    assert isinstance(group, AiusageGroup)
    ctx = typer.Context(group)
    for name in COMMAND_MODULES:
        assert group.get_command(ctx, name) is not None, name
    defined: dict[str, str] = {}
    for info in app.registered_commands:
        assert info.callback is not None
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        defined[name] = info.callback.__module__
    for sub in app.registered_groups:
        assert sub.name is not None
        assert sub.typer_instance is not None
        callbacks = [c.callback for c in sub.typer_instance.registered_commands]
        if sub.typer_instance.registered_callback is not None:
            callbacks.append(sub.typer_instance.registered_callback.callback)
        (defined[sub.name],) = {c.__module__ for c in callbacks if c is not None}
    assert defined == {name: f"aiusage.cli.{module}" for name, module in COMMAND_MODULES.items()}
    assert set(defined) == set(COMMAND_ORDER)
    assert set(group.commands) == set(defined)


SAMPLE = Path(__file__).resolve().parents[2] / "sample_logs"


@pytest.mark.parametrize("fmt", ["--json", "--csv"])
def test_a_report_into_a_reader_that_goes_away_exits_0(fmt: str) -> None:
    # Like `| head -c 100`: rows written in pieces meet the closed pipe inside the command,
    # where typer's own handler would exit 1 ("a check failed" to cron).
    args = [sys.executable, "-m", "aiusage", "report", "-d", str(SAMPLE), "--all",
            "--period", "hour", "--by", "user,model", fmt, "--no-cache"]  # fmt: skip
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TZ": "UTC"}
    )
    assert proc.stdout is not None
    proc.stdout.read(100)
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (proc.returncode, err[-300:])
    # The sample's torn-line warning only.
    assert b"Traceback" not in err
    assert b"error" not in err
