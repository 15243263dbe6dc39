"""Claude Code import on fixtures built from the documented log format, and mapped JSONL/CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiusage.store.dayfiles import iter_lines, list_files


def _assistant(
    ts: str, msg: str, req: str, model: str, session: str, cwd: str, **usage: Any
) -> dict[str, Any]:
    return {"type": "assistant", "timestamp": ts, "sessionId": session, "requestId": req, "cwd": cwd, "uuid": f"u-{msg}-{req}",
            "message": {"id": msg, "type": "message", "role": "assistant", "model": model, "content": [{"type": "text", "text": "x"}],
                        "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, **usage}}}  # fmt: skip


def _write(path: Path, lines: list[Any], tail: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        fh.write(b"".join(json.dumps(x).encode() + b"\n" for x in lines) + tail)


@pytest.fixture
def claude(tmp_path: Path) -> Path:
    home = tmp_path / "claude"
    a = home / "projects" / "-home-ann-webapp"
    b = home / "projects" / "-home-ann-cli"
    m1 = _assistant("2026-11-01T10:00:00.000Z", "msg_1", "req_1", "claude-sonnet-4-5-20250929", "s1", "/home/ann/webapp",
                    input_tokens=100, output_tokens=50, cache_read_input_tokens=1000, cache_creation_input_tokens=200,
                    cache_creation={"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 200})  # fmt: skip
    m2 = _assistant("2026-11-01T10:05:00.000Z", "msg_2", "req_2", "claude-haiku-4-5-20251001", "s1", "/home/ann/webapp",
                    input_tokens=10, output_tokens=20)  # fmt: skip
    old = {**_assistant("2026-11-02T09:00:00.000Z", "msg_3", "req_3", "claude-3-5-haiku-20241022", "s2", "/home/ann/cli",
                        input_tokens=1000, output_tokens=1000), "costUSD": 0.5}  # fmt: skip
    synthetic = _assistant(
        "2026-11-01T10:06:00.000Z", "msg_4", "req_4", "<synthetic>", "s1", "/home/ann/webapp"
    )
    user = {
        "type": "user",
        "timestamp": "2026-11-01T09:59:00.000Z",
        "sessionId": "s1",
        "message": {"role": "user", "content": "hi"},
    }
    summary = {"type": "summary", "summary": "Fixing the build", "leafUuid": "x"}
    # msg_1 appears twice (one line per content block); s1-resumed replays msg_1 and msg_2.
    _write(
        a / "s1.jsonl",
        [summary, user, m1, m1, m2, synthetic],
        tail=b'{"type": "assistant", "timestamp": "2026-11-0',
    )
    _write(a / "s1-resumed.jsonl", [m1, m2])
    _write(b / "s2.jsonl", [old])
    return home


def _stored(data_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for f in list_files(data_dir) for x in iter_lines(f.path)]


def test_claude_code_import(cli, claude: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("import", "claude-code", claude, "-d", data_dir, "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert (doc["imported"], doc["files"]) == (3, 3)
    assert doc["duplicates"] == 3  # msg_1 twice more, msg_2 once more
    assert doc["skipped"] == {
        "summary line": 1,
        "user line": 1,
        "zero-usage or <synthetic> line": 1,
    }
    records = {r["request_id"]: r for r in _stored(data_dir)}
    one = records["req_1"]
    assert (
        one["input_tokens"],
        one["cache_read_tokens"],
        one["cache_write_tokens"],
        one["cache_write_1h_tokens"],
        one["output_tokens"],
    ) == (100, 1000, 200, 200, 50)
    # sonnet 4.5: 100×3 + 1000×0.30 + 200×6 (1-hour writes) + 50×15 per 1M
    assert one["cost"] == pytest.approx(0.00255)
    assert (one["session_id"], one["function"], one["tags"]) == (
        "s1",
        "claude-code",
        {"project": "-home-ann-webapp", "source": "claude-code"},
    )
    assert records["req_2"]["cost"] == pytest.approx(10e-6 + 100e-6)  # haiku 4.5: 10×1 + 20×5
    assert records["req_3"]["cost"] == 0.5  # costUSD kept as recorded
    daily = cli(
        "report", "-d", data_dir, "--all", "--by", "model", "--period", "day", "--json"
    ).json()
    by = {(r["period"], r["model"]): r for r in daily["rows"]}
    assert by[("2026-11-01", "claude-sonnet-4-5-20250929")]["total_tokens"] == 1350
    assert by[("2026-11-02", "claude-3-5-haiku-20241022")]["cost"] == 0.5
    projects = cli(
        "report", "-d", data_dir, "--all", "--by", "tag:project", "--period", "total", "--json"
    ).json()
    assert {r["tag:project"]: r["requests"] for r in projects["rows"]} == {
        "-home-ann-webapp": 2,
        "-home-ann-cli": 1,
    }


def test_import_is_idempotent_and_incremental(cli, claude: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    cli("import", "claude-code", claude, "-d", data_dir)
    before = sorted(json.dumps(r, sort_keys=True) for r in _stored(data_dir))
    again = cli("import", "claude-code", claude, "-d", data_dir, "--json").json()
    assert again["imported"] == 0
    assert sorted(json.dumps(r, sort_keys=True) for r in _stored(data_dir)) == before
    # The agent writes more: only the new line is read and imported.
    session = claude / "projects" / "-home-ann-webapp" / "s1.jsonl"
    with open(session, "ab") as fh:
        fh.write(b'1T11:00:00.000Z"}\n')  # completes the torn line: not a call
        fh.write(
            json.dumps(
                _assistant(
                    "2026-11-01T11:00:00.000Z",
                    "msg_9",
                    "req_9",
                    "claude-haiku-4-5",
                    "s1",
                    "/x",
                    input_tokens=5,
                    output_tokens=5,
                )
            ).encode()
            + b"\n"
        )
    third = cli("import", "claude-code", claude, "-d", data_dir, "--json").json()
    assert third["imported"] == 1
    assert third["lines"] == 2
    # A rewritten file is read again from the start; ids keep it from double counting.
    session.write_bytes(session.read_bytes())
    assert cli("import", "claude-code", claude, "-d", data_dir, "--json").json()["imported"] == 0
    assert len(_stored(data_dir)) == 4


def test_claude_config_dir_env_and_dry_run(cli, claude: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "import",
        "claude-code",
        "-d",
        data_dir,
        "--dry-run",
        env={"CLAUDE_CONFIG_DIR": f"{claude},/nonexistent"},
    )
    assert result.stdout.startswith("would import 3 calls from 3 files")
    assert list(data_dir.iterdir()) == []


def test_mapped_csv_and_jsonl(cli, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    export = tmp_path / "spend.csv"
    export.write_text("created_at,model,prompt_tokens,completion_tokens,spend,user,team\n"
                      "2026-11-01T10:00:00Z,gpt-4o,1000,100,0.42,ann,search\n"
                      "2026-11-01T11:00:00Z,gpt-4o-mini,500,50,,bob,growth\n")  # fmt: skip
    args = ["import", "csv", export, "-d", data_dir, "--map", "timestamp=created_at", "--map", "model=model",
            "--map", "input_tokens=prompt_tokens", "--map", "output_tokens=completion_tokens", "--map", "cost=spend",
            "--map", "user_id=user", "--map", "tag:team=team"]  # fmt: skip
    dry = cli(*args, "--dry-run")
    assert dry.stdout.startswith("would import 2 calls")
    assert '"user_id":"ann"' in dry.stdout
    assert cli(*args).exit_code == 0
    assert cli(*args, "--json").json()["imported"] == 0  # idempotent
    records = sorted(_stored(data_dir), key=lambda r: r["timestamp"])
    assert (records[0]["cost"], records[0]["tags"]) == (0.42, {"source": "spend", "team": "search"})
    assert records[1]["cost"] == pytest.approx(
        500 * 0.15e-6 + 50 * 0.6e-6
    )  # priced: no spend given
    gateway = tmp_path / "gw.jsonl"
    gateway.write_text(
        json.dumps(
            {
                "ts": 1793500000,
                "request": {"model": "gpt-4o"},
                "usage": {"prompt_tokens": 10, "completion_tokens": 2},
            }
        )
        + "\n"
    )
    ok = cli("import", "jsonl", gateway, "-d", data_dir, "--map", "timestamp=ts", "--map", "model=request.model",
             "--map", "input_tokens=usage.prompt_tokens", "--map", "output_tokens=usage.completion_tokens", "--json")  # fmt: skip
    assert ok.json()["imported"] == 1


def test_links_are_followed_only_inside_the_folder(
    cli, claude: Path, tmp_path: Path, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    projects = claude / "projects"
    outside = tmp_path / "outside"
    _write(
        outside / "o.jsonl",
        [
            _assistant(
                "2026-11-03T08:00:00.000Z",
                "msg_o",
                "req_o",
                "claude-haiku-4-5",
                "so",
                "/o",
                input_tokens=7,
            )
        ],
    )
    _write(
        claude / "archive" / "-old" / "s9.jsonl",
        [
            _assistant(
                "2026-11-03T09:00:00.000Z",
                "msg_9",
                "req_9",
                "claude-haiku-4-5",
                "s9",
                "/old",
                input_tokens=9,
            )
        ],
    )
    (projects / "-old").symlink_to(claude / "archive" / "-old")  # a dir, inside: followed
    (projects / "-home-ann-cli" / "again.jsonl").symlink_to(
        projects / "-home-ann-cli" / "s2.jsonl"
    )  # a file, inside: once
    (projects / "-home-ann-cli" / "loop").symlink_to(projects)  # a loop: walked once
    (projects / "-out").symlink_to(outside)  # a dir, outside: skipped
    (projects / "-home-ann-cli" / "o.jsonl").symlink_to(
        outside / "o.jsonl"
    )  # a file, outside: skipped
    (projects / "-gone").symlink_to(tmp_path / "nowhere")  # dangling, outside: skipped
    (projects / "broken.jsonl").symlink_to(claude / "missing.jsonl")  # dangling, inside: no file
    result = cli("import", "claude-code", claude, "-d", data_dir, "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert (doc["imported"], doc["files"]) == (4, 4)
    assert doc["skipped"]["symbolic link leading out of the folder"] == 3
    records = {r["request_id"]: r for r in _stored(data_dir)}
    assert sorted(records) == ["req_1", "req_2", "req_3", "req_9"]
    assert records["req_9"]["tags"]["project"] == "-old"
    text = cli("import", "claude-code", claude, "-d", data_dir).stdout
    assert "3 symbolic link leading out of the folder" in text


def test_codex_follows_the_same_link_policy(cli, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    sessions = tmp_path / "codex" / "sessions"
    sessions.mkdir(parents=True)
    outside = tmp_path / "elsewhere" / "2026"
    _codex_session(outside / "rollout.jsonl")
    (sessions / "2026").symlink_to(outside)
    result = cli("import", "codex", sessions, "-d", data_dir, "--json")
    assert result.exit_code == 0, result.stderr
    assert (result.json()["imported"], result.json()["files"]) == (0, 0)
    assert result.json()["skipped"] == {"symbolic link leading out of the folder": 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "colour=x"], "not a record field"),
        (["--map", "model"], "FIELD=COLUMN"),
        (["--map", "model=model"], "timestamp"),
    ],
)
def test_mapped_errors(cli, tmp_path: Path, data_dir: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    export = tmp_path / "e.csv"
    export.write_text("model,ts\ngpt-4o,not-a-time\n")
    result = cli("import", "csv", export, "-d", data_dir, "--map", "timestamp=ts", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert list(data_dir.iterdir()) == []


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize("junk", [b"caf\xe9", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80"])
def test_mapped_files_read_bytes_that_are_not_utf8_as_fffd(
    cli, tmp_path: Path, data_dir: Path, kind: str, junk: bytes
) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / f"latin.{kind}"
    if kind == "csv":
        source.write_bytes(b"ts,model,user\n2026-11-01T10:00:00Z,gpt-4o,ann" + junk + b"\n")
    else:
        source.write_bytes(
            b'{"ts":"2026-11-01T10:00:00Z","model":"gpt-4o","user":"ann' + junk + b'"}\n'
        )
    args = ["import", kind, source, "-d", data_dir, "--map", "timestamp=ts", "--map", "model=model", "--map", "user_id=user"]  # fmt: skip
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    (record,) = _stored(data_dir)
    assert record["user_id"] == "ann" + junk.decode(errors="replace")
    assert "\ufffd" in record["user_id"]
    assert cli(*args, "--json").json()["imported"] == 0  # the same id again: idempotent


def test_a_csv_field_beyond_the_limit_is_a_usage_error(cli, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "huge.csv"
    source.write_bytes(b'ts,model\n2026-11-01T10:00:00Z,"' + b"x" * 200_000 + b'"\n')
    result = cli("import", "csv", source, "-d", data_dir, "--map", "timestamp=ts", "--map", "model=model")  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert str(source) in result.stderr
    assert "nothing imported" in result.stderr
    assert list(data_dir.iterdir()) == []


def _codex_session(path: Path) -> None:
    lines = [
        {"timestamp": "2026-11-03T09:00:00.000Z", "type": "session_meta", "payload": {"id": "sess-c1", "cwd": "/home/ann/api", "cli_version": "0.58.0"}},
        {"timestamp": "2026-11-03T09:00:01.000Z", "type": "turn_context", "payload": {"model": "gpt-5-codex", "cwd": "/home/ann/api"}},
        {"timestamp": "2026-11-03T09:00:02.000Z", "type": "response_item", "payload": {"type": "message", "role": "user"}},
        {"timestamp": "2026-11-03T09:00:05.000Z", "type": "event_msg", "payload": {"type": "token_count", "info": None}},
        {"timestamp": "2026-11-03T09:00:09.000Z", "type": "event_msg", "payload": {"type": "token_count", "info": {
            "total_token_usage": {"input_tokens": 5000, "cached_input_tokens": 3000, "output_tokens": 400, "reasoning_output_tokens": 100, "total_tokens": 5500},
            "last_token_usage": {"input_tokens": 5000, "cached_input_tokens": 3000, "output_tokens": 400, "reasoning_output_tokens": 100, "total_tokens": 5500}}}},
        {"timestamp": "2026-11-03T09:01:00.000Z", "type": "event_msg", "payload": {"type": "token_count", "info": {
            "total_token_usage": {"input_tokens": 12000, "cached_input_tokens": 8000, "output_tokens": 900, "reasoning_output_tokens": 300, "total_tokens": 13200}}}},
    ]  # fmt: skip
    _write(path, lines)


def test_codex_import(cli, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    sessions = tmp_path / "codex" / "sessions"
    _codex_session(sessions / "2026" / "11" / "03" / "rollout-2026-11-03T09-00-00-sess-c1.jsonl")
    result = cli(
        "import", "codex", "-d", data_dir, "--json", env={"CODEX_HOME": str(tmp_path / "codex")}
    )
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["imported"] == 2
    first, second = sorted(_stored(data_dir), key=lambda r: r["timestamp"])
    # input includes the cached tokens (OpenAI style); reasoning is reported apart and added to output
    assert (
        first["input_tokens"],
        first["cache_read_tokens"],
        first["output_tokens"],
        first["reasoning_tokens"],
    ) == (2000, 3000, 500, 100)
    # no last_token_usage: the growth of the cumulative totals
    assert (second["input_tokens"], second["cache_read_tokens"], second["output_tokens"]) == (
        2000,
        5000,
        700,
    )
    # gpt-5-codex: 2000×1.25 + 3000×0.125 + 500×10 per 1M
    assert first["cost"] == pytest.approx(0.007875)
    assert (first["session_id"], first["function"], first["tags"]["project"]) == (
        "sess-c1",
        "codex",
        "api",
    )
    assert cli("import", "codex", sessions, "-d", data_dir, "--json").json()["imported"] == 0


def test_claude_import_reports_progress_in_bytes(claude: Path, data_dir: Path) -> None:
    from aiusage.importers import import_claude_code
    from aiusage.output.terminal import ScanProgress
    from aiusage.workspace import Workspace

    seen: list[tuple[int, int]] = []
    result = import_claude_code(
        [claude], Workspace(data_dir), progress=lambda d, t: seen.append((d, t))
    )
    total = sum(p.stat().st_size for p in (claude / "projects").rglob("*.jsonl"))
    assert result.files == len(seen) == 3
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (total, total)
    assert all(t == total for _, t in seen)
    bar = ScanProgress(label="reading Claude Code logs", in_bytes=True, delay=0)
    bar(10, 100)
    bar.close()


def test_repeated_lines_are_recognised_before_any_work(cli, claude: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    # 200 copies of one call across files: one record, 199 duplicates.
    line = _assistant("2026-11-03T10:00:00.000Z", "msg_9", "req_9", "claude-haiku-4-5", "s9", "/x",
                      input_tokens=7, output_tokens=1)  # fmt: skip
    for i in range(4):
        _write(claude / "projects" / "-x" / f"copy{i}.jsonl", [line] * 50)
    doc = cli("import", "claude-code", claude, "-d", data_dir, "--json").json()
    assert doc["imported"] == 4
    assert doc["duplicates"] == 3 + 199
