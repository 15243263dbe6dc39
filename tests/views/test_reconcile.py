"""`aiusage reconcile`: each billing format read, and each cause of a difference named."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from aiusage.errors import UsageError
from aiusage.views.reconcile import read_bill

DAY1 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()
DAY2 = DAY1 + 86400


@pytest.fixture
def records(cli, data_dir: Path, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Day 1: 2 gpt-4o calls (1M input + 100k output each: $3.50) and one Claude call with
    cache reads ($0.045 + $0.15). Day 2: one gpt-4o call, one call of an unpriced model."""
    calls: list[dict[str, Any]] = [
        {"timestamp": DAY1 + 60, "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 100_000},
        {"timestamp": DAY1 + 120, "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 100_000},
        {"timestamp": DAY1 + 180, "model": "claude-sonnet-4-5", "input_tokens": 0,
         "cache_read_tokens": 150_000, "output_tokens": 10_000},
        {"timestamp": DAY2 + 60, "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 100_000},
        {"timestamp": DAY2 + 90, "model": "homegrown-llm", "input_tokens": 10, "output_tokens": 10},
    ]  # fmt: skip
    batch = tmp_path / "calls.jsonl"
    batch.write_text("".join(json.dumps(c) + "\n" for c in calls))
    assert cli("record", "-d", data_dir, "--batch", batch).exit_code == 0
    return data_dir


def _write(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def _rows(cli, bill: Path, data_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:  # type: ignore[no-untyped-def]
    result = cli("reconcile", bill, "-d", data_dir, "--json")
    assert result.exit_code == 0, result.stderr
    return {(r["day"], r["model"]): r for r in result.json()["rows"]}


def test_openai_costs_by_line_item(cli, records: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bill = _write(tmp_path, "costs.json", {"object": "page", "has_more": False, "data": [
        {"object": "bucket", "start_time": int(DAY1), "end_time": int(DAY2), "results": [
            {"object": "organization.costs.result", "amount": {"value": 5.0, "currency": "usd"},
             "line_item": "gpt-4o-2024-08-06, input", "project_id": None},
            {"object": "organization.costs.result", "amount": {"value": 2.0, "currency": "usd"},
             "line_item": "gpt-4o-2024-08-06, output", "project_id": None}]},
        {"object": "bucket", "start_time": int(DAY2), "end_time": int(DAY2 + 86400), "results": [
            {"object": "organization.costs.result", "amount": {"value": 10.5, "currency": "usd"},
             "line_item": "gpt-4o-2024-08-06, input", "project_id": None}]},
    ]})  # fmt: skip
    rows = _rows(cli, bill, records)
    day1 = rows[("2026-11-01", "gpt-4o")]
    assert (day1["local_cost"], day1["billed_cost"], day1["cause"]) == (7.0, 7.0, "match")
    assert day1["billed_as"] == ["gpt-4o-2024-08-06"]
    day2 = rows[("2026-11-02", "gpt-4o")]
    assert day2["difference"] == -7.0
    assert day2["cause"].startswith("cost differs")
    # Local calls the bill does not have: the Claude call, the unpriced model.
    assert rows[("2026-11-01", "claude-sonnet-4-5")]["cause"].startswith("not billed")
    assert rows[("2026-11-01", "claude-sonnet-4-5")]["billed_cost"] == 0.0
    checked = cli("reconcile", bill, "-d", records, "--check")
    assert checked.exit_code == 1
    assert "Records against the bill" in checked.stdout


def test_openai_usage_tokens_name_missing_records_and_cache_accounting(
    cli, records: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    def result(model: str, inp: int, cached: int, out: int, n: int) -> dict[str, Any]:
        return {"object": "organization.usage.completions.result", "input_tokens": inp,
                "output_tokens": out, "input_cached_tokens": cached, "input_audio_tokens": 0,
                "output_audio_tokens": 0, "num_model_requests": n, "project_id": None,
                "user_id": None, "api_key_id": None, "model": model, "batch": False}  # fmt: skip

    bill = _write(tmp_path, "usage.json", {"object": "page", "data": [
        {"object": "bucket", "start_time": int(DAY1), "end_time": int(DAY2), "results": [
            result("gpt-4o-2024-08-06", 2_000_000, 0, 200_000, 2),
            # Same prompt as the local Claude call, but billed as uncached input.
            result("claude-sonnet-4-5-20250929", 150_000, 0, 10_000, 1)]},
        {"object": "bucket", "start_time": int(DAY2), "end_time": int(DAY2 + 86400), "results": [
            result("gpt-4o-2024-08-06", 3_000_000, 0, 300_000, 3)]},
    ]})  # fmt: skip
    rows = _rows(cli, bill, records)
    assert rows[("2026-11-01", "gpt-4o")]["cause"] == "match"
    assert rows[("2026-11-01", "gpt-4o")]["billed_cost"] == 7.0  # priced from the billed tokens
    assert rows[("2026-11-01", "claude-sonnet-4-5")]["cause"].startswith("cache accounting")
    missing = rows[("2026-11-02", "gpt-4o")]["cause"]
    assert missing.startswith("missing records: the bill has 2,200,000 more tokens (≈ 2 calls)")
    unpriced = rows[("2026-11-02", "homegrown-llm")]
    assert unpriced["cause"].startswith("not billed")
    assert unpriced["unpriced_requests"] == 1


def test_anthropic_cost_report_in_cents(cli, records: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def result(amount: str, model: str | None, token_type: str | None) -> dict[str, Any]:
        return {"currency": "USD", "amount": amount, "workspace_id": None, "description": "x",
                "cost_type": "tokens" if model else "web_search", "context_window": "0-200k",
                "model": model, "service_tier": "standard", "token_type": token_type}  # fmt: skip

    bill = _write(tmp_path, "anthropic.json", {"has_more": False, "next_page": None, "data": [
        {"starting_at": "2026-11-01T00:00:00Z", "ending_at": "2026-11-02T00:00:00Z", "results": [
            result("4.50", "claude-sonnet-4-5-20250929", "cache_read_input_tokens"),
            result("15.00", "claude-sonnet-4-5-20250929", "output_tokens"),
            result("1.00", None, None)]},
    ]})  # fmt: skip
    rows = _rows(cli, bill, records)
    claude = rows[("2026-11-01", "claude-sonnet-4-5")]
    assert (claude["billed_cost"], claude["cause"]) == (0.195, "match")
    assert rows[("2026-11-01", "(no model)")]["cause"].startswith("not token usage")


def test_anthropic_usage_report(cli, records: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bill = _write(tmp_path, "anthropic-usage.json", {"data": [
        {"starting_at": "2026-11-01T00:00:00Z", "ending_at": "2026-11-02T00:00:00Z", "results": [
            {"uncached_input_tokens": 0, "cache_read_input_tokens": 150_000, "output_tokens": 10_000,
             "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
             "server_tool_use": {"web_search_requests": 0}, "model": "claude-sonnet-4-5-20250929",
             "service_tier": "standard", "context_window": "0-200k"}]},
    ]})  # fmt: skip
    rows = _rows(cli, bill, records)
    assert rows[("2026-11-01", "claude-sonnet-4-5")]["cause"] == "match"


def test_csv_bill_and_per_day_totals(cli, records: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bill = _write(tmp_path, "bill.csv", "usage_date_utc,model_version,cost_usd\n"
                  "2026-11-01,gpt-4o-2024-08-06,7.00\n2026-11-01,claude-sonnet-4-5,0.195\n")  # fmt: skip
    rows = _rows(cli, bill, records)
    assert {r["cause"] for k, r in rows.items() if k[0] == "2026-11-01"} == {"match"}
    # A bill that is not broken down by model is compared per day.
    whole = _write(tmp_path, "total.json", {"data": [
        {"start_time": int(DAY1), "results": [{"amount": {"value": 7.195, "currency": "usd"},
                                                "line_item": None}]}]})  # fmt: skip
    rows = _rows(cli, whole, records)
    assert rows[("2026-11-01", "(all models)")]["cause"] == "match"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"data": [{"start_time": 1, "results": [{"foo": 1}]}]}', "no known format"),
        ('{"object": "list"}', "not a usage or cost API response"),
        ("{broken", "not JSON"),
        ("when,what\n2026-11-01,x\n", "needs a date column"),
        ("date,model,cost_usd\nyesterday,gpt-4o,1\n", "is not a date"),
        ("date,model,cost_usd\n2026-11-01,gpt-4o,lots\n", "not an amount"),
        (
            '{"data": [{"start_time": 1, "results": [{"amount": {"value": 1, "currency": "eur"}}]}]}',
            "only USD",
        ),
    ],
)
def test_bad_bills_are_one_line_errors(
    cli, records: Path, tmp_path: Path, content: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    bill = _write(tmp_path, "bad.json", content)
    with pytest.raises(UsageError, match=message):
        read_bill(bill)
    result = cli("reconcile", bill, "-d", records)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_bill_file(cli, records: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("reconcile", tmp_path / "nope.json", "-d", records)
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_help(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("reconcile", "--help")
    assert result.exit_code == 0
    assert "organization/costs" in result.stdout


def test_pages_as_a_list_or_as_json_lines(cli, records: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def page(day: float, value: float) -> dict[str, Any]:
        return {"object": "page", "data": [{"start_time": int(day), "results": [
            {"amount": {"value": value, "currency": "usd"}, "line_item": "gpt-4o, input"}]}]}  # fmt: skip

    pages = [page(DAY1, 7.0), page(DAY2, 3.5)]
    for bill in (
        _write(tmp_path, "pages.json", pages),
        _write(tmp_path, "pages.jsonl", "\n".join(json.dumps(p) for p in pages) + "\n"),
    ):
        rows = _rows(cli, bill, records)
        assert rows[("2026-11-01", "gpt-4o")]["cause"] == "match"
        assert rows[("2026-11-02", "gpt-4o")]["cause"] == "match"
