"""The workspace: one settings resolver behind the CLI and the Python API, and
``aiusage.open`` as the library's front door (its documents are the commands' --json)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

import aiusage
from aiusage import workspace as workspace_module
from aiusage.errors import DataError, UsageError
from aiusage.workspace import Workspace, default_workspace
from conftest import call, write_jsonl

NOW = dt.datetime.now(dt.UTC)


def _recent(hours: float) -> float:
    return (NOW - dt.timedelta(hours=hours)).timestamp()


def _without_clock(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without what depends on the instant it was made."""
    out = {k: v for k, v in doc.items() if k not in ("generated_at", "now")}
    if out.get("schema") == "aiusage.stats/1":  # its range ends now
        out["range"] = {k: v for k, v in out["range"].items() if k != "until"}
    if "windows" in out:
        out["windows"] = {
            name: {k: v for k, v in window.items() if k != "since"}
            for name, window in out["windows"].items()
        }
    return out


@pytest.fixture
def store(data_dir: Path) -> Path:
    ws = aiusage.open(data_dir)
    for i in range(12):
        ws.record(
            model="gpt-4o",
            input_tokens=1000 + i,
            output_tokens=100,
            user_id=("ann", "bob", "cy")[i % 3],
            function="chat",
            timestamp=_recent(i * 0.5),
            duration_ms=100.0 + i,
        )
    ws.record(model="gpt-4o-mini", input_tokens=5, user_id="bob", success=False)
    return data_dir


def test_open_views_are_the_commands_json(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    ws = aiusage.open(store)
    pairs = [
        (ws.report(by=["user"], days=2), ("report", "--by", "user", "--days", "2")),
        (ws.report(period="total", all_time=True), ("report", "--period", "total", "--all")),
        (ws.report(user="bob", days=2), ("report", "--user", "bob", "--days", "2")),
        (ws.top_users(days=2, limit=2), ("top-users", "--days", "2", "--limit", "2")),
        (ws.stats(), ("stats",)),
    ]
    for doc, args in pairs:
        expected = cli(*args, "-d", store, "--json").json()
        assert _without_clock(doc) == _without_clock(expected), args
    logs = cli("logs", "-d", store, "--json", "-n", "5").stdout.splitlines()
    assert ws.logs(limit=5) == [orjson.loads(line) for line in logs]
    assert [r["success"] for r in ws.logs(failed_only=True)] == [False]


def test_open_check_and_remaining_use_config_limits(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    (store / "config.yaml").write_text(
        "budgets: {daily: 0.001}\nquotas: {users: {ann: {daily: 1}}}\n"
    )
    ws = aiusage.open(store)
    doc = ws.check()
    assert doc["breaches"] == 1
    assert _without_clock(doc) == _without_clock(cli("check", "-d", store, "--json").json())
    left = ws.remaining(user_id="ann")
    assert set(left) == {"daily_budget", "user_daily_quota"}
    assert left["daily_budget"] < 0 < left["user_daily_quota"]
    assert ws.would_exceed(0.0001, user_id="ann")
    assert aiusage.remaining(user_id="ann", data_dir=store) == left


def test_settings_precedence(data_dir: Path, tmp_path: Path) -> None:
    ws = Workspace(data_dir)
    assert (ws.currency, ws.default_currency, ws.tz.key, ws.cost_mode) == (
        "USD",
        "USD",
        "UTC",
        "recorded",
    )
    (data_dir / "config.yaml").write_text("currency: EUR\ntimezone: Asia/Tokyo\n")
    ws = Workspace(data_dir)
    assert (ws.currency, ws.default_currency, ws.tz.key) == ("EUR", "EUR", "Asia/Tokyo")
    ws = Workspace(data_dir, currency="gbp", tz="Europe/Paris", cost="current")
    assert (ws.currency, ws.default_currency, ws.tz.key, ws.cost_mode) == (
        "GBP",
        "EUR",
        "Europe/Paris",
        "current",
    )
    extra = tmp_path / "extra.yaml"
    extra.write_text("models:\n  my-model: {input: 1, output: 2}\n")
    assert Workspace(data_dir).pricing.lookup("my-model") is None
    assert Workspace(data_dir, pricing=extra).pricing.lookup("my-model") is not None
    with pytest.raises(UsageError, match="unknown --cost"):
        Workspace(data_dir, cost="cheapest")
    with pytest.raises(DataError, match="does not exist"):
        Workspace(tmp_path / "missing", must_exist=True)
    with pytest.raises(DataError, match="matches no directory"):
        Workspace([str(data_dir), str(tmp_path / "nothing-*")])


def test_several_dirs_and_globs(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_jsonl(tmp_path / name / "usage_2026-11-01.jsonl", [call(1_793_500_000 + ord(name))])
    # A record present in both dirs counts once.
    write_jsonl(tmp_path / "b" / "usage_2026-11-01.jsonl", [call(1_793_500_500, id="shared")])
    write_jsonl(tmp_path / "a" / "usage_2026-11-01.jsonl", [call(1_793_500_500, id="shared")])
    ws = aiusage.open(str(tmp_path / "*"))
    assert ws.dirs == (tmp_path / "a", tmp_path / "b")
    assert ws.report(period="total", all_time=True)["totals"]["requests"] == 3


def test_counter_follows_the_configured_zone(data_dir: Path) -> None:
    # 20:00 UTC on 1 January is 05:00 on 2 January in Tokyo: the configured zone decides.
    at = dt.datetime(2026, 1, 1, 20, tzinfo=dt.UTC).timestamp()
    write_jsonl(data_dir / "usage_2026-01-01.jsonl", [call(at)])
    (data_dir / "config.yaml").write_text("timezone: Asia/Tokyo\n")
    one_day = {"since": "2026-01-02", "until": "2026-01-02", "data_dir": data_dir}
    assert aiusage.counter("api.total_requests", **one_day) == 1
    assert aiusage.counter("api.total_requests", **one_day, tz="UTC") == 0


def test_imports_use_the_configured_currency(cli, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (data_dir / "config.yaml").write_text("currency: EUR\n")
    export = tmp_path / "spend.jsonl"
    export.write_text('{"model": "house-model", "spend": 1.5, "prompt": 10}\n')
    result = cli(
        "import",
        "jsonl",
        export,
        "--map",
        "model=model",
        "--map",
        "cost=spend",
        "--map",
        "input_tokens=prompt",
        "-d",
        data_dir,
    )
    assert result.exit_code == 0, result.stderr
    assert cli("record", "--model", "house-model", "--cost", "2", "-d", data_dir).exit_code == 0
    records = [
        orjson.loads(line)
        for f in data_dir.glob("usage_*.jsonl")
        for line in f.read_bytes().splitlines()
    ]
    assert sorted((r["cost"], r["currency"]) for r in records) == [(1.5, "EUR"), (2.0, "EUR")]


def test_record_errors_are_raised_by_a_workspace(data_dir: Path) -> None:
    ws = aiusage.open(data_dir)
    with pytest.raises(UsageError):
        ws.record(model="gpt-4o", input_tokens=-1)
    assert list(data_dir.iterdir()) == []
    rec = ws.incr("feature.x", 3)
    assert (rec["kind"], rec["key"], rec["n"]) == ("counter", "feature.x", 3)
    assert ws.counter("feature.x") == 3


def test_default_workspaces_are_bounded_and_see_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace_module, "_defaults", type(workspace_module._defaults)())
    for i in range(workspace_module.DEFAULTS_KEPT + 5):
        aiusage.record(model="gpt-4o", input_tokens=1, data_dir=tmp_path / f"d{i}")
    assert len(workspace_module._defaults) == workspace_module.DEFAULTS_KEPT
    monkeypatch.setattr(workspace_module, "RECHECK", 0.0)
    directory = tmp_path / "d0"
    assert default_workspace(directory).pricing.lookup("house") is None
    (directory / "pricing.yaml").write_text("models:\n  house: {input: 1, output: 1}\n")
    rec = aiusage.record(model="house", input_tokens=1_000_000, data_dir=directory)
    assert rec is not None
    assert rec["cost"] == 1.0


def test_remaining_memo_is_bounded(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workspace_module, "MEMO_SIZE", 3)
    (store / "config.yaml").write_text("budgets: {daily: 10}\n")
    ws = aiusage.open(store)
    for i in range(10):
        ws.remaining(user_id=f"user-{i}")
    assert len(ws._memo) == 3


def test_python_arguments_are_checked_like_flags(store: Path) -> None:
    ws = aiusage.open(store)
    by_model = _without_clock(ws.report(by="model", days=2))
    assert by_model == _without_clock(ws.report(by=["model"], days=2))
    assert {r["model"] for r in by_model["rows"]} == {"gpt-4o", "gpt-4o-mini"}
    assert ws.report(tag="env=prod", days=2)["totals"]["requests"] == 0
    with pytest.raises(UsageError, match="unknown filter 'usr'"):
        ws.report(usr="ann")
    with pytest.raises(UsageError, match="--limit must be at least 1"):
        ws.logs(limit=0)


@pytest.mark.parametrize(
    "fields",
    [
        {"model": "gpt-4o", "user_id": "\udc80"},
        {"model": "gpt-4o", "cost": 1e300},
        {"kind": "counter", "key": "k", "n": 2**70},
    ],
)
def test_module_level_record_never_raises_into_the_caller(
    data_dir: Path, fields: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    assert aiusage.record(data_dir=data_dir, **fields) is None
    assert "call not recorded" in caplog.text
    assert not any(data_dir.glob("usage_*"))
