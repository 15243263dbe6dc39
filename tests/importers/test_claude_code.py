"""The Claude Code import read in runs of files (in parallel processes for a large import)
gives what reading every file in turn gives: the same records, bytes, counts and offsets,
whatever the lines hold."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aiusage.errors import AiusageError
from aiusage.importers import claude_code
from aiusage.importers.claude_code import (
    Line,
    LineRecords,
    _decoder,
    call_key,
    claude_dirs,
    claude_files,
    claude_record,
    project_of,
)
from aiusage.importers.engine import ImportResult, Offsets, Sink
from aiusage.workspace import Workspace


def _reference(dirs: list[Path], workspace: Workspace) -> ImportResult:
    """The import as it was before runs: every file in turn, in one loop."""
    result = ImportResult("claude-code")
    files = claude_files(claude_dirs(dirs), result)
    offsets = Offsets(workspace.data_dir, "claude-code")
    sink = Sink(result, workspace)
    calls: set[tuple[str, str]] = set()
    for path in files:
        result.files += 1
        project: str | None = None
        for raw in offsets.lines(path, offsets.unread(path)[0]):
            result.lines += 1
            try:
                line = _decoder.decode(raw)
            except ValueError:
                result.skip("malformed line")
                continue
            if project is None:
                project = project_of(path, line.cwd)
            key = call_key(line)
            if key is not None and key in calls:
                result.duplicates += 1
                continue
            fields, reason = claude_record(line, project)
            if fields is None:
                result.skip(reason)
                continue
            if key is not None:
                calls.add(key)
            if sink.seen_before(str(fields["id"])):
                continue
            try:
                sink.add(fields)
            except AiusageError:
                result.skip("invalid record")
    sink.write()
    offsets.save()
    return result


def _snapshot(data_dir: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(data_dir)): path.read_bytes()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file()
    }


def _outcome(result: ImportResult) -> tuple[Any, ...]:
    return (
        result.files,
        result.lines,
        result.imported,
        result.duplicates,
        list(result.skipped.items()),  # in order: the JSON output lists them so
        result.records,
    )


IDS = st.sampled_from(["msg_1", "msg_1", "msg_2", "a:b", "", "msg_1:req_1"])
# A secret in a request id, a model or a project folder is scrubbed as in any other field.
SECRET = "sk-ant-api03-" + "A1b" * 14
REQUESTS = st.sampled_from(["req_1", "req_1", "req_2", "", "b", ":req_1", None, f"req_{SECRET}"])
NUMBERS = st.one_of(
    st.none(),
    st.integers(0, 5000),
    st.sampled_from([-1, 10**15, 10**15 + 1, 2**64, 2**70, 10**300]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just("5"),
    st.booleans(),
)
TIMESTAMPS = st.one_of(
    st.sampled_from(
        [
            "2026-11-01T10:00:00.000Z",
            "2026-11-02T23:59:59.999Z",
            "2026-11-01T10:00:00",
            "2026-11-01T10:00:00+05:00",
            "not a time",
            "9999-12-31T23:59:59Z",
            "1969-12-31T23:59:59Z",
        ]
    ),
    st.integers(-10, 2 * 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.just([1]),
)


@st.composite
def _assistant(draw: st.DrawFn) -> dict[str, Any]:
    usage = {
        name: draw(NUMBERS)
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        )
        if draw(st.booleans())
    }
    if draw(st.booleans()):
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": draw(NUMBERS),
            "ephemeral_1h_input_tokens": draw(NUMBERS),
        }
    message: dict[str, Any] = {
        "id": draw(IDS),
        "model": draw(
            st.sampled_from(
                [
                    "claude-sonnet-4-5-20250929",
                    "<synthetic>",
                    " spaced ",
                    "",
                    "unknown-model",
                    7,
                    f"x-{SECRET}",
                ]
            )
        ),
        "content": [{"type": "text", "text": "x"}],
    }
    if draw(st.booleans()):
        message["usage"] = usage
    line: dict[str, Any] = {
        "type": draw(st.sampled_from(["assistant", "assistant", "user", 3])),
        "timestamp": draw(TIMESTAMPS),
        "sessionId": draw(st.sampled_from(["s1", "sk-ant-api03-" + "x" * 40, None])),
        "cwd": draw(st.sampled_from(["/home/ann/webapp", None])),
        "message": draw(st.sampled_from([message, message, "text", None])),
    }
    request = draw(REQUESTS)
    if request is not None:
        line["requestId"] = request
    if draw(st.booleans()):
        line["costUSD"] = draw(NUMBERS)
    if draw(st.booleans()):
        line["isApiErrorMessage"] = draw(st.sampled_from([True, False, "yes"]))
    return line


# Call lines as Claude Code writes them: mostly records, some with one value that
# LineRecords hands to the general path, or one at a bound that it builds itself.
TEXT = st.none() | st.text(max_size=8) | st.sampled_from([SECRET, f"id {SECRET}"])
USAGE = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
CREATION = ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")
ODD: dict[str, list[Any]] = {
    **{name: [-1, 2**53 + 1, 2**64] for name in USAGE + CREATION},
    "model": [" spaced", "spaced ", "", "<synthetic>"],
    "timestamp": ["1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "not a time"],
    "costUSD": [-1.0, 1e9 + 1, 2e9],
}
EDGES: dict[str, list[Any]] = {
    **{name: [0, 2**53] for name in USAGE + CREATION},
    "timestamp": ["1970-01-01T00:00:00Z", "2099-12-31T23:59:59.999Z", "2026-11-01T10:00:00"],
    "costUSD": [0.0, 1e9],
}
ODD_PAIRS = [(name, value) for name, values in ODD.items() for value in values]
EDGE_PAIRS = [(name, value) for name, values in EDGES.items() for value in values]


def _with(line: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """``line`` (a call line) with the field ``name`` set to ``value``."""
    line = json.loads(json.dumps(line))
    message = line["message"]
    if name in USAGE:
        message["usage"][name] = value
    elif name in CREATION:
        message["usage"].setdefault("cache_creation", {})[name] = value
    elif name == "model":
        message["model"] = value
    else:
        line[name] = value
    return line


@st.composite
def _call(draw: st.DrawFn) -> dict[str, Any]:
    usage: dict[str, Any] = {name: draw(st.integers(0, 10**6)) for name in USAGE}
    if draw(st.booleans()):
        usage["cache_creation"] = {name: draw(st.integers(0, 10**6)) for name in CREATION}
    model = draw(
        st.sampled_from(
            [
                "claude-sonnet-4-5-20250929",
                "claude-opus-4-1-20250805",
                "claude-haiku-4-5",
                "unknown-model",
                f"x-{SECRET}",
            ]
        )
    )
    when = draw(st.datetimes(dt.datetime(1971, 1, 1), dt.datetime(2099, 1, 1)))
    line: dict[str, Any] = {
        "type": "assistant",
        "timestamp": when.isoformat() + draw(st.sampled_from(["Z", "+02:00", ""])),
        "sessionId": draw(TEXT),
        "requestId": draw(TEXT),
        "message": {"id": draw(TEXT), "model": model, "usage": usage, "content": []},
    }
    if draw(st.booleans()):
        line["costUSD"] = draw(st.floats(0, 10))
    if draw(st.booleans()):
        line["isApiErrorMessage"] = draw(st.booleans())
    if draw(st.booleans()):
        line = _with(line, *draw(st.sampled_from(ODD_PAIRS + EDGE_PAIRS)))
    return line


RAW_LINES = st.sampled_from(
    [
        b"",
        b"{",
        b'{"type": "assis',
        b"\xff\xfe",
        b"[]",
        b"null",
        b'{"type":"summary","summary":"s"}',
        b'{"type":"user","message":{"role":"user","content":"hi"}}',
    ]
)
LINES = st.one_of(
    _assistant().map(lambda x: json.dumps(x).encode()),
    _call().map(lambda x: json.dumps(x).encode()),
    RAW_LINES,
)
# Per file: its folder below projects/ (None: directly in it), and its lines.
FOLDERS = st.sampled_from(["-home-ann-webapp", "-home-ann-cli", None, f"-home-ann-{SECRET}"])
FILES = st.lists(
    st.tuples(FOLDERS, st.lists(LINES)),
    min_size=1,
    max_size=5,
)


def _general(line: Line, project: str, sink: Sink) -> Any:
    """What claude_record's dict of fields, prepared by Sink.prepare, makes of a line."""
    fields, reason = claude_record(line, project)
    if fields is None:
        return reason
    try:
        return (fields["id"], *sink.prepare(fields))
    except AiusageError:
        return (fields["id"], 0.0, None)


LINE_CASES = given(
    line=_call(),
    project=st.sampled_from(["-home-ann-webapp", f"-home-ann-{SECRET}"]),
    currency=st.sampled_from(["USD", "EUR"]),
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@LINE_CASES
def test_a_line_makes_the_record_its_dict_of_fields_makes(
    tmp_path: Path, line: dict[str, Any], project: str, currency: str
) -> None:
    _check_line(tmp_path, line, project, currency)


@pytest.mark.slow
@settings(max_examples=1500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@LINE_CASES
def test_a_line_makes_the_record_its_dict_of_fields_makes_in_many_more_cases(
    tmp_path: Path, line: dict[str, Any], project: str, currency: str
) -> None:
    _check_line(tmp_path, line, project, currency)


def _check_line(tmp_path: Path, line: dict[str, Any], project: str, currency: str) -> None:
    """LineRecords' record (built without a dict of fields) is claude_record's dict of
    fields as Sink.prepare writes it, in a data dir of any default currency."""
    decoded = _decoder.decode(json.dumps(line))
    (tmp_path / "config.yaml").write_text(f"currency: {currency}\n")
    sink = Sink(ImportResult("claude-code"), Workspace(tmp_path))
    assert LineRecords(sink).prepare(decoded, project) == _general(decoded, project, sink)


# An unpriced call with a recorded cost (pricing hands nothing on, so every check shows),
# and a call priced by the table.
PLAIN: dict[str, Any] = {
    "type": "assistant",
    "timestamp": "2026-11-01T10:00:00.000Z",
    "sessionId": "f75ae63f-deda-fc37-d0e0-b16ea17e75bc",
    "requestId": "req_011CRXYZabcDEF123ghiJKL4",
    "costUSD": 0.5,
    "message": {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "model": "unknown-model",
        "usage": {
            **dict.fromkeys(USAGE, 100),
            "cache_creation": dict.fromkeys(CREATION, 50),
        },
    },
}


PRICED = {
    **{key: value for key, value in PLAIN.items() if key != "costUSD"},
    "message": {**PLAIN["message"], "model": "claude-sonnet-4-5-20250929"},
}


@pytest.mark.parametrize("call", [PLAIN, PRICED], ids=["recorded cost", "priced"])
@pytest.mark.parametrize(("name", "value"), ODD_PAIRS + EDGE_PAIRS)
def test_each_odd_or_bound_value_makes_the_record_its_dict_makes(
    tmp_path: Path, call: dict[str, Any], name: str, value: Any
) -> None:
    decoded = _decoder.decode(json.dumps(_with(call, name, value)))
    sink = Sink(ImportResult("claude-code"), Workspace(tmp_path))
    built = LineRecords(sink).prepare(decoded, "-home-ann-webapp")
    assert built == _general(decoded, "-home-ann-webapp", sink)


def _line(**usage: int) -> bytes:
    """An assistant line of the call msg_1/req_1."""
    message = {"id": "msg_1", "model": "claude-sonnet-4-5-20250929", "usage": usage}
    line = {"type": "assistant", "timestamp": "2026-11-01T10:00:00Z", "requestId": "req_1"}
    return json.dumps({**line, "message": message}).encode()


def _write(home: Path, files: list[tuple[str | None, list[bytes]]], tail: bytes) -> None:
    for n, (folder, lines) in enumerate(files):
        base = home / "projects" if folder is None else home / "projects" / folder
        base.mkdir(parents=True, exist_ok=True)
        with open(base / f"s{n}.jsonl", "ab") as fh:
            fh.write(b"".join(line + b"\n" for line in lines) + tail)


def _in_runs(monkeypatch: pytest.MonkeyPatch, per_run: int, *, fork: bool) -> None:
    """Read the files in runs of ``per_run`` files."""

    def runs(sizes: list[int], workers: int) -> list[tuple[int, int]]:
        return [(i, min(i + per_run, len(sizes))) for i in range(0, len(sizes), per_run)] or [
            (0, 0)
        ]

    monkeypatch.setattr(claude_code, "_runs", runs)
    if not fork:
        monkeypatch.setattr(
            claude_code, "each_in_processes", lambda fn, jobs: (fn(job) for job in jobs)
        )


@given(sizes=st.lists(st.integers(0, 1000)), workers=st.integers(1, 5))
def test_runs_cover_the_files_in_order(sizes: list[int], workers: int) -> None:
    runs = claude_code._runs(sizes, workers)
    assert 1 <= len(runs) <= workers
    assert runs[0][0] == 0
    assert runs[-1][1] == len(sizes)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(runs))
    assert all(end > first for first, end in runs) or not sizes


RUNS_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(RUNS_SETTINGS, max_examples=40)
@example(
    first=[
        ("-home-ann-cli", [_line(output_tokens=5)]),  # files are read in path order
        ("-home-ann-webapp", [_line(output_tokens=0), _line(output_tokens=5)]),
    ],
    more=[],
    per_run=1,
    tail=b"",
)
@given(first=FILES, more=FILES, per_run=st.integers(1, 3), tail=st.sampled_from([b"", b'{"ty']))
def test_runs_give_what_one_loop_gives(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first: list[tuple[str | None, list[bytes]]],
    more: list[tuple[str | None, list[bytes]]],
    per_run: int,
    tail: bytes,
) -> None:
    _check_runs(tmp_path, monkeypatch, first, more, per_run, tail)


@pytest.mark.slow
@settings(RUNS_SETTINGS, max_examples=400)
@given(first=FILES, more=FILES, per_run=st.integers(1, 3), tail=st.sampled_from([b"", b'{"ty']))
def test_runs_give_what_one_loop_gives_in_many_more_cases(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first: list[tuple[str | None, list[bytes]]],
    more: list[tuple[str | None, list[bytes]]],
    per_run: int,
    tail: bytes,
) -> None:
    _check_runs(tmp_path, monkeypatch, first, more, per_run, tail)


def _check_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first: list[tuple[str | None, list[bytes]]],
    more: list[tuple[str | None, list[bytes]]],
    per_run: int,
    tail: bytes,
) -> None:
    """Imports in runs of ``per_run`` files equal one loop over every file, twice (the
    second import reads on from the saved offsets)."""
    shutil.rmtree(tmp_path / "case", ignore_errors=True)
    home = tmp_path / "case" / "claude"
    old, new = tmp_path / "case" / "old", tmp_path / "case" / "new"
    with monkeypatch.context() as patch:
        _in_runs(patch, per_run, fork=False)
        for files in (first, more):  # a second import reads on from the saved offsets
            _write(home, files, tail)
            expected = _reference([home], Workspace(old))
            got = claude_code.import_claude_code([home], Workspace(new))
            assert _outcome(got) == _outcome(expected)
            assert _snapshot(new) == _snapshot(old)


@pytest.mark.slow
@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    files=st.lists(
        st.tuples(FOLDERS, st.lists(LINES, min_size=10, max_size=30)), min_size=6, max_size=12
    )
)
def test_forked_runs_give_what_one_loop_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: list[tuple[str | None, list[bytes]]]
) -> None:
    shutil.rmtree(tmp_path / "case", ignore_errors=True)
    home, old, new = (tmp_path / "case" / name for name in ("claude", "old", "new"))
    _write(home, files, b"")
    progress: list[tuple[int, int]] = []
    with monkeypatch.context() as patch:
        _in_runs(patch, 3, fork=True)
        expected = _reference([home], Workspace(old))
        got = claude_code.import_claude_code(
            [home], Workspace(new), progress=lambda done, total: progress.append((done, total))
        )
    assert _outcome(got) == _outcome(expected)
    assert _snapshot(new) == _snapshot(old)
    assert progress[-1][0] == progress[-1][1]
