from __future__ import annotations

from pathlib import Path

import aiusage
from conftest import call, write_jsonl


def test_incr_and_counters(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("incr", "feature.outline", "-d", data_dir).stdout == "counted feature.outline += 1\n"
    assert cli("incr", "feature.outline", "4", "-d", data_dir).exit_code == 0
    aiusage.incr("feature.outline", 2, data_dir=data_dir)
    aiusage.incr("api.total_requests", data_dir=data_dir)
    write_jsonl(
        data_dir / "usage_2026-11-01.jsonl",
        [
            call(1_793_500_000, user_id="ann", function="chat", success=False),
            call(1_793_500_001, user_id="ann"),
        ],
    )
    doc = cli("counters", "-d", data_dir, "--json").json()
    values = {c["key"]: c for c in doc["counters"]}
    assert values["feature.outline"]["value"] == 7
    assert values["api.total_requests"] == {
        "key": "api.total_requests",
        "value": 3,
        "counted": 1,
        "derived": 2,
    }
    assert values["api.error_count"]["value"] == 1
    assert values["llm.tokens_used"]["value"] == 220
    assert values["user.ann.requests"]["value"] == 2
    assert values["feature.chat.requests"]["value"] == 1
    prefixed = cli("counters", "-d", data_dir, "--prefix", "feature.", "--json").json()
    assert {c["key"] for c in prefixed["counters"]} == {"feature.outline", "feature.chat.requests"}
    assert aiusage.counter("feature.outline", data_dir=data_dir) == 7
    assert (
        aiusage.counter(
            "api.total_requests", data_dir=data_dir, since="2026-11-01", until="2026-11-01"
        )
        == 2
    )


def test_counters_do_not_change_reports(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    aiusage.incr("x", data_dir=data_dir)
    doc = cli("report", "-d", data_dir, "--all", "--json").json()
    assert doc["totals"]["requests"] == 0
    assert doc["skipped_lines"] == 0


def test_incr_errors(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("incr", "k", "many", "-d", data_dir)
    assert result.exit_code == 2
    assert list(data_dir.iterdir()) == []


def test_counters_take_the_filters(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    cli("incr", "feature.x", "2", "--user", "ann", "-d", data_dir)
    cli("incr", "feature.x", "5", "--user", "bob", "--tag", "team=core", "-d", data_dir)

    def value(*args: str) -> int:
        doc = cli("counters", "-d", data_dir, "--json", *args).json()
        return sum(c["value"] for c in doc["counters"] if c["key"] == "feature.x")

    assert value() == 7
    assert value("--user", "ann") == 2
    assert value("--tag", "team=core") == 5
    # Counter records name no model or provider: a filter on one leaves none of them.
    assert value("--model", "gpt-4o") == 0
    assert value("--provider", "openai") == 0
