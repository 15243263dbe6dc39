from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import orjson
import pytest

from conftest import call, write_jsonl

NOW = time.time()
TODAY = dt.datetime.fromtimestamp(NOW, dt.UTC).date()


def _spend(data_dir: Path, days_ago: int, amount: float, **fields: object) -> None:
    day = TODAY - dt.timedelta(days=days_ago)
    ts = min(dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp(), NOW - 60)
    write_jsonl(
        data_dir / f"usage_{day.isoformat()}.jsonl",
        [call(ts, cost=amount, currency="USD", **fields)],
    )


@pytest.fixture
def store(data_dir: Path) -> Path:
    for back in range(1, 8):
        _spend(data_dir, back, 1.0, user_id="bob")
    _spend(data_dir, 0, 4.0, user_id="alice", api_key="sk-…9f3a", input_tokens=150_000)
    _spend(data_dir, 0, 0.5, user_id="bob", success=False)
    return data_dir


def test_exit_codes_follow_breaches(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    ok = cli("check", "-d", store, "--daily-budget", "10", "--tz", "UTC")
    assert ok.exit_code == 0
    assert ok.stdout == ""
    warn = cli("check", "-d", store, "--daily-budget", "5", "--tz", "UTC")
    assert warn.exit_code == 0
    assert warn.stdout.startswith("WARN daily_budget: today's cost $4.50")
    breach = cli("check", "-d", store, "--daily-budget", "4", "--tz", "UTC")
    assert breach.exit_code == 1
    assert breach.stdout.count("\n") == 1
    assert breach.stdout.startswith("BREACH daily_budget")


def test_quotas_spikes_and_anomalies(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    doc = orjson.loads(cli("check", "-d", store, "--tz", "UTC", "--json", "--user-quota", "alice=3", "--key-limit", "sk-…9f3a=10",
                           "--spike", "3", "--max-tokens-per-call", "100000", "--max-failure-rate", "0.6").stdout)  # fmt: skip
    by_check = {(c["check"], c["scope"]): c for c in doc["checks"]}
    assert by_check[("user_monthly_quota", "alice")]["status"] == "breach"
    assert by_check[("key_daily_quota", "sk-…9f3a")]["status"] == "ok"
    assert by_check[("spike", "all")]["status"] == "breach"  # 4.5 > 3 × 1.0
    assert by_check[("spike", "all")]["limit"] == pytest.approx(3.0)
    assert by_check[("max_tokens_per_call", "all")]["value"] == 150_010
    assert by_check[("max_failure_rate", "all")]["status"] == "ok"  # 1 of 2 = 50%
    assert doc["schema"] == "aiusage.check/1"
    assert doc["breaches"] == 3


def test_budgets_from_config(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    (store / "config.yaml").write_text(
        "budgets: {daily: 4, warn_at: 0.5}\nquotas:\n  users: {bob: {daily: 0.25}}\n"
    )
    result = cli("check", "-d", store, "--tz", "UTC")
    assert result.exit_code == 1
    assert "BREACH daily_budget" in result.stdout
    assert "BREACH user_daily_quota: user bob" in result.stdout


def test_monthly_forecast_warns(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    doc = orjson.loads(
        cli("check", "-d", store, "--tz", "UTC", "--monthly-budget", "1000000", "--json").stdout
    )
    assert doc["checks"][0]["status"] == "ok"
    tight = orjson.loads(
        cli(
            "check",
            "-d",
            store,
            "--tz",
            "UTC",
            "--monthly-budget",
            "12.5",
            "--warn-at",
            "0.99",
            "--json",
        ).stdout
    )
    assert "forecast" in tight["checks"][0]["message"]


@pytest.mark.parametrize(
    ("args", "message"), [([], "nothing to check"), (["--user-quota", "alice"], "NAME=AMOUNT")]
)
def test_check_errors(cli, store: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", "-d", store, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_guards_in_code(store: Path) -> None:
    import aiusage

    (store / "config.yaml").write_text(
        "timezone: UTC\nbudgets: {daily: 5}\nquotas:\n  users: {alice: {daily: 4.25}}\n"
    )
    left = aiusage.remaining(user_id="alice", data_dir=store, max_age=0)
    assert left["daily_budget"] == pytest.approx(0.5)
    assert left["user_daily_quota"] == pytest.approx(0.25)
    assert aiusage.would_exceed(0.3, user_id="alice", data_dir=store, max_age=0)
    assert not aiusage.would_exceed(0.3, user_id="bob", data_dir=store, max_age=0)
    start = time.perf_counter()
    for _ in range(1000):
        aiusage.would_exceed(0.01, user_id="bob", data_dir=store)
    assert time.perf_counter() - start < 1.0  # remembered for max_age: cheap per request
