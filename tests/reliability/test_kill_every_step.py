"""Fault injection: each multi-step command is killed at every write, rename and unlink it
makes in the data dir or its output dir (``strace -e inject=SYSCALL:signal=KILL:when=N``).

A first, traced run of the command lists those system calls (the N-th of its kind in the
process); then one run per call is killed right there. After each kill, the counts every
report gives (cached and cold) equal a plain ``json.loads`` oracle of the files, which per
day equals the state before the command or after it (never a mix, never a double); an
export's output is the old file or the new one; ``doctor`` finds no data error; and a second
run of the same command succeeds, leaves no temporary file and gives the final counts.

Writes under ``.cache/`` are not kill points: the rollup cache is derived (a torn entry is
rebuilt), and the checks above run on the cache the killed run left. Adding a command is
one :class:`Scenario` line in :data:`SCENARIOS`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import aiusage
from aiusage.store.dayfiles import day_path
from aiusage.store.retention import fold_day

STRACE = shutil.which("strace")
pytestmark = pytest.mark.skipif(STRACE is None, reason="needs strace (.ci/run installs it)")

SYSCALLS = ("write", "writev", "pwrite64", "rename", "renameat", "renameat2", "unlink", "unlinkat")
CALL_RE = re.compile(r"^(\d+)\s+(\w+)\((.*)")
TODAY = dt.datetime.now(dt.UTC).date()
ENV = {"TZ": "UTC", "COLUMNS": "120", "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass(frozen=True)
class Scenario:
    """A command to kill at every step: its arguments, given the case dir (holding ``data/``,
    ``out/``, ``calls.jsonl`` to import, ``batch.jsonl`` for ``record --batch`` and
    ``prices.yaml``), and the output it writes, if any."""

    name: str
    argv: Callable[[Path], list[str]]
    output: str | None = None


MAP = ["--map", "timestamp=ts", "--map", "model=model", "--map", "input_tokens=in"]
MAP += ["--map", "output_tokens=out", "--map", "cost=usd", "--map", "id=request"]
SCENARIOS = [
    Scenario("compact", lambda d: ["compact", "--older-than", "7", "-d", str(d / "data")]),
    Scenario("reprice", lambda d: ["reprice", "--all", "--pricing", str(d / "prices.yaml"), "-d", str(d / "data")]),
    Scenario("record --batch", lambda d: ["record", "--batch", str(d / "batch.jsonl"), "-d", str(d / "data")]),
    Scenario("import jsonl", lambda d: ["import", "jsonl", str(d / "calls.jsonl"), *MAP, "-d", str(d / "data")]),
    Scenario("export csv", lambda d: ["export", "--all", "-f", "csv", "--out", str(d / "out" / "r.csv"), "-d", str(d / "data")], "out/r.csv"),
    Scenario("export parquet", lambda d: ["export", "--all", "-f", "parquet", "--out", str(d / "out" / "lake"), "-d", str(d / "data")], "out/lake"),
]  # fmt: skip


def _noon(days_ago: int) -> float:
    day = TODAY - dt.timedelta(days=days_ago)
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()


def _record(data: Path, ts: float, n: int) -> None:
    aiusage.record(
        data_dir=data, model="gpt-4o", input_tokens=1000 + n, output_tokens=100, cost=1.0,
        currency="USD", timestamp=ts + n, raise_errors=True,
    )  # fmt: skip


def _template(root: Path) -> Path:
    """Every state a day can be in: plain; compacted and back-filled; compacted; compacted
    by a run killed before its last step, then back-filled; today's."""
    case = root / "template"
    data = case / "data"
    data.mkdir(parents=True, mode=0o700)
    for days_ago, n in ((20, 3), (15, 2), (12, 2), (10, 2)):
        for i in range(n):
            _record(data, _noon(days_ago), i)
    killed = day_path(data, TODAY - dt.timedelta(days=10))
    kept = killed.read_bytes()
    for days_ago in (15, 12, 10):
        fold_day(day_path(data, TODAY - dt.timedelta(days=days_ago)))  # compacted
    killed.write_bytes(kept)  # as a compaction killed before its unlink leaves it
    killed.chmod(0o600)
    _record(data, _noon(10), 50)
    _record(data, _noon(15), 50)
    _record(data, _noon(0) - 3600 * 11, 0)
    lines = [
        {"ts": _noon(d) + 7 + i, "model": "gpt-4o", "in": 10, "out": 5, "usd": 0.5, "request": f"r{d}-{i}"}
        for d in (20, 15, 12, 3)
        for i in range(2)
    ]  # fmt: skip
    (case / "calls.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    batch = [
        {"timestamp": x["ts"], "model": "gpt-4o", "input_tokens": 10, "output_tokens": 5, "cost": 0.5, "currency": "USD", "id": x["request"]}
        for x in lines
    ]  # fmt: skip
    (case / "batch.jsonl").write_text("".join(json.dumps(x) + "\n" for x in batch))
    (case / "prices.yaml").write_text("models:\n  gpt-4o: {input: 7, output: 11}\n")
    (case / "out" / "lake" / f"date={TODAY - dt.timedelta(days=20)}").mkdir(parents=True)
    (case / "out" / "r.csv").write_bytes(b"an old export\n")
    (
        case / "out" / "lake" / f"date={TODAY - dt.timedelta(days=20)}" / "part-0.parquet"
    ).write_bytes(b"old")
    return case


def _copy(template: Path, to: Path) -> Path:
    shutil.copytree(template, to)
    return to


def _oracle(data: Path) -> dict[str, tuple[int, float]]:
    """Per UTC day, the records in the files (by ``json.loads``, each id once) and their cost."""
    records: dict[str, dict[str, Any]] = {}
    for path in sorted(data.glob("usage_*.jsonl*")):
        opener: Any = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and "id" in rec:
                    records[rec["id"]] = rec
    days: dict[str, tuple[int, float]] = {}
    for rec in records.values():
        day = dt.datetime.fromtimestamp(rec["timestamp"], dt.UTC).date().isoformat()
        n, cost = days.get(day, (0, 0.0))
        days[day] = n + 1, round(cost + rec["cost"], 6)
    return days


def _reported(cli, data: Path, *, cache: bool) -> dict[str, tuple[int, float]]:  # type: ignore[no-untyped-def]
    args = ["report", "-d", data, "--all", "--period", "day", "--tz", "UTC", "--json"]
    result = cli(*args, *([] if cache else ["--no-cache"]))
    assert result.exit_code == 0, result.stderr
    return {r["period"]: (r["requests"], round(r["cost"], 6)) for r in result.json()["rows"]}


def _output(case: Path, scenario: Scenario) -> dict[str, bytes]:
    if scenario.output is None:
        return {}
    out = case / scenario.output
    files = [out] if out.is_file() else sorted(p for p in out.rglob("*") if p.is_file())
    files = [p for p in files if ".tmp-" not in p.name]  # a killed run's: checked after
    return {str(p.relative_to(case)): p.read_bytes() for p in files}


def _run(case: Path, argv: list[str], *, strace: list[str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **ENV,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "XDG_CACHE_HOME": str(case / "xdg-cache"),
        "AIUSAGE_PROCESSES": "1",  # one process: the N-th call is the same in every run
    }
    command = [sys.executable, "-m", "aiusage", *argv]
    return subprocess.run(
        [STRACE or "strace", "-f", "-qq", *strace, "--", *command],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _kill_points(case: Path, scenario: Scenario) -> list[tuple[str, int]]:
    """The traced run's system calls that touch the case's data or output dir (not the
    cache): (syscall, N) with N counted per syscall in the main process. Of a run of writes
    to one file (Parquet writes hundreds of pieces), the first and the last: a kill between
    them leaves the same state, a part of that file."""
    trace = case / "trace.txt"
    done = _run(
        case, scenario.argv(case), strace=["-y", "-s", "0", "-e", f"trace={','.join(SYSCALLS)}", "-o", str(trace)]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    counts: dict[str, int] = {}
    points: list[tuple[str, int]] = []
    run: list[tuple[str, int]] = []
    main: str | None = None
    last_args = ""
    watched = (str(case / "data"), str(case / "out"))
    for line in trace.read_text().splitlines():
        m = CALL_RE.match(line)
        if not m or m.group(2) not in SYSCALLS:
            continue
        main = main or m.group(1)
        if m.group(1) != main:
            continue
        counts[m.group(2)] = n = counts.get(m.group(2), 0) + 1
        args = m.group(3)
        if not any(w in args for w in watched) or "/.cache/" in args:
            continue
        if m.group(2) == "write" and run and args.split(",")[0] == last_args:
            run.append((m.group(2), n))
            continue
        points += run[:1] + run[1:][-1:]
        run, last_args = [(m.group(2), n)], args.split(",")[0]
    return points + run[:1] + run[1:][-1:]


def _no_temps(directory: Path) -> list[str]:
    return [p.name for p in directory.rglob(".*") if ".tmp-" in p.name and ".cache" not in p.parts]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_killed_at_every_step(cli, tmp_path: Path, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    template = _template(tmp_path)
    pre = _oracle(template / "data")
    assert _reported(cli, template / "data", cache=True) == pre  # a cache of the old state
    reference = _copy(template, tmp_path / "reference")
    done = cli(*scenario.argv(reference))
    assert done.exit_code == 0, done.stderr
    post, new_output = _oracle(reference / "data"), _output(reference, scenario)
    old_output = _output(template, scenario)
    points = _kill_points(_copy(template, tmp_path / "traced"), scenario)
    assert points, "the command touched no file"
    for step, (syscall, n) in enumerate(points):
        case = _copy(template, tmp_path / f"kill-{step}")
        killed = _run(
            case,
            scenario.argv(case),
            strace=["-o", os.devnull, "-e", f"inject={syscall}:signal=KILL:when={n}"],
        )
        where = f"{scenario.name} killed at {syscall} #{n}"
        assert killed.returncode in (-9, 137), (
            f"{where}: not killed ({killed.returncode}) {killed.stderr}"
        )
        state = _oracle(case / "data")
        for day in pre.keys() | post.keys():
            assert state.get(day) in (pre.get(day), post.get(day)), (
                f"{where}: {day} is {state.get(day)}"
            )
        assert _reported(cli, case / "data", cache=True) == state, where
        assert _reported(cli, case / "data", cache=False) == state, where
        for name, data in _output(case, scenario).items():
            assert data in (old_output.get(name), new_output.get(name)), (
                f"{where}: {name} is partial"
            )
        doctor = cli("doctor", "-d", case / "data", "--json")
        assert doctor.exit_code == 0, f"{where}: {doctor.stderr}"
        again = cli(*scenario.argv(case))
        assert again.exit_code == 0, f"{where}, then run again: {again.stderr}"
        assert _oracle(case / "data") == post, where
        assert _reported(cli, case / "data", cache=True) == post, where
        assert _output(case, scenario) == new_output, where
        assert _no_temps(case) == [], where
        shutil.rmtree(case)
