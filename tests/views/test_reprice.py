from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from aiusage.store.dayfiles import iter_lines, list_files
from conftest import call, write_jsonl

DAY = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC).timestamp()


def _setup(data_dir: Path) -> Path:
    path = data_dir / "usage_2026-11-01.jsonl"
    write_jsonl(path, [
        call(DAY, model="gpt-4o", input_tokens=1000, output_tokens=100, cost=0.5, currency="USD", price_ref="gpt-4o@old"),
        call(DAY + 1, model="gpt-4o", input_tokens=1000, output_tokens=100, cost=0.0035, currency="USD"),
        call(DAY + 2, model="mystery", cost=None),
    ])  # fmt: skip
    with open(path, "ab") as fh:
        fh.write(b"not a record\n")
    return path


def test_cost_modes(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _setup(data_dir)
    recorded = cli("report", "-d", data_dir, "--all", "--period", "total", "--json").json()[
        "totals"
    ]
    current = cli(
        "report", "-d", data_dir, "--all", "--period", "total", "--cost", "current", "--json"
    ).json()["totals"]
    assert recorded["cost"] == pytest.approx(0.5035)
    assert current["cost"] == pytest.approx(0.007)  # 2 × (1000×2.5 + 100×10) / 1e6
    assert cli("report", "-d", data_dir, "--all", "--cost", "auto", "--json").json()["totals"][
        "cost"
    ] == pytest.approx(0.5035)
    assert cli("report", "-d", data_dir, "--cost", "guess").exit_code == 2


def test_dry_run_changes_nothing(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = _setup(data_dir)
    before = path.read_bytes()
    doc = cli("reprice", "-d", data_dir, "--all", "--dry-run", "--json").json()
    assert doc["schema"] == "aiusage.reprice/1"
    row = next(r for r in doc["rows"] if r["model"] == "gpt-4o")
    assert (row["day"], row["requests"]) == ("2026-11-01", 2)
    assert row["recorded_cost"] == pytest.approx(0.5035)
    assert row["current_cost"] == pytest.approx(0.007)
    assert doc["changed_days"] == ["2026-11-01"]
    assert path.read_bytes() == before
    assert "Today's prices" in cli("reprice", "-d", data_dir, "--all", "--dry-run").stdout


def test_reprice_rewrites_closed_days_atomically(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = _setup(data_dir)
    today = dt.datetime.now(dt.UTC)
    today_file = data_dir / f"usage_{today.date().isoformat()}.jsonl"
    write_jsonl(today_file, [call(today.timestamp() - 1, cost=9.0, currency="USD")])
    today_before = today_file.read_bytes()
    result = cli("reprice", "-d", data_dir, "--all", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["rewritten"] == {path.name: 1}
    lines = path.read_bytes().splitlines()
    assert lines[-1] == b"not a record"  # kept as it was
    first = orjson.loads(lines[0])
    assert first["cost"] == pytest.approx(0.0035)
    assert first["price_ref"].startswith("gpt-4o@")
    assert first["price_ref"] != "gpt-4o@old"
    assert today_file.read_bytes() == today_before  # today's file is never rewritten
    assert [
        p.name for p in data_dir.iterdir() if p.name.startswith(".") and p.name != ".cache"
    ] == []
    after = cli("report", "-d", data_dir, "--all", "--period", "total", "--json").json()["totals"]
    assert after["cost"] == pytest.approx(0.007 + 9.0)
    # Appends after the swap reach the new file.
    assert (
        cli(
            "record", "-d", data_dir, "-m", "gpt-4o", "--timestamp", "2026-11-01T13:00:00Z"
        ).exit_code
        == 0
    )
    assert len([x for f in list_files(data_dir) for x in iter_lines(f.path)]) == 6


def test_accounts_actual_cost(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (data_dir / "pricing.yaml").write_text(
        'accounts:\n  users:\n    vip: {multiplier: 0.5}\n    intern: {free: true}\n  keys:\n    "sk-…9f3a": {multiplier: 2}\n'
    )
    write_jsonl(data_dir / "usage_2026-11-01.jsonl", [
        call(DAY, user_id="vip", cost=1.0, currency="USD"),
        call(DAY, user_id="intern", cost=1.0, currency="USD", api_key="sk-…9f3a"),
        call(DAY, user_id="other", cost=1.0, currency="USD", api_key="sk-…9f3a"),
        call(DAY, user_id="plain", cost=1.0, currency="USD"),
    ])  # fmt: skip
    doc = cli(
        "report", "-d", data_dir, "--all", "--period", "total", "--by", "user", "--json"
    ).json()
    actual = {r["user_id"]: r["actual_cost"] for r in doc["rows"]}
    assert actual == {"vip": 0.5, "intern": 0.0, "other": 2.0, "plain": 1.0}
    assert doc["totals"]["cost"] == 4.0
    assert doc["totals"]["actual_cost"] == 3.5


def test_strict_fails_on_unpriced(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    write_jsonl(data_dir / "usage_2026-11-01.jsonl", [call(DAY, model="mystery")])
    ok = cli("report", "-d", data_dir, "--all", "--json")
    assert ok.exit_code == 0
    assert ok.json()["totals"]["priced_coverage"] == 0.0
    strict = cli("report", "-d", data_dir, "--all", "--strict")
    assert strict.exit_code == 3
    assert "1 requests have no price (mystery)" in strict.stderr


def test_batch_and_reasoning_priced_at_record_time(cli, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    extra = tmp_path / "p.yaml"
    extra.write_text("models:\n  thinker: {input: 1, output: 4, reasoning: 10, batch: 0.5}\n")
    batch = b'{"model": "thinker", "input_tokens": 1000, "output_tokens": 1000, "reasoning_tokens": 500, "service_tier": "batch"}\n'
    result = cli("record", "-d", data_dir, "--pricing", extra, "--batch", "-", input=batch)
    assert result.exit_code == 0, result.stderr
    (rec,) = [orjson.loads(x) for f in list_files(data_dir) for x in iter_lines(f.path)]
    # (1000×1 + 500×4 + 500×10) × 0.5 / 1e6
    assert rec["cost"] == pytest.approx(0.004)


@pytest.mark.parametrize("backfilled", [False, True])
def test_reprice_of_a_compacted_day_writes_a_gzip(cli, data_dir: Path, backfilled: bool) -> None:  # type: ignore[no-untyped-def]
    import gzip
    import os

    path = _setup(data_dir)
    os.utime(path, (DAY, DAY))
    assert cli("compact", "--older-than", "1", "-d", data_dir).exit_code == 0
    if backfilled:  # a day in both files: the back-fill is priced and folded in too
        write_jsonl(
            path,
            [
                call(
                    DAY + 3,
                    model="gpt-4o",
                    input_tokens=1000,
                    output_tokens=100,
                    cost=0.5,
                    currency="USD",
                )
            ],
        )
    result = cli("reprice", "-d", data_dir, "--all", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["rewritten"] == {path.name + ".gz": 2 if backfilled else 1}
    assert [p.name for p in data_dir.glob("*usage_*")] == [path.name + ".gz"]
    with gzip.open(str(path) + ".gz") as gz:  # a gzip, with the lines not records kept
        assert gz.read().splitlines()[3] == b"not a record"
    after = cli("report", "-d", data_dir, "--all", "--period", "total", "--json")
    assert after.exit_code == 0, after.stderr
    assert after.json()["totals"]["cost"] == pytest.approx(0.0035 * (3 if backfilled else 2))
    assert after.json()["totals"]["requests"] == (4 if backfilled else 3)
