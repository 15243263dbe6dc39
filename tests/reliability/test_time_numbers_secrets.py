"""Time (DST, leap days, ±14 h zones, misplaced records, future clocks), numbers (no drift)
and secrets (a full key is never written)."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import aiusage
from conftest import call, write_jsonl

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Pacific/Chatham",
    "Asia/Kathmandu",
]


def test_every_record_in_one_bucket(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(4)
    # Around DST changes, the 2028 leap day, and records in the wrong file or the future.
    instants = [dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC),
                dt.datetime(2028, 2, 29, 12, tzinfo=dt.UTC), dt.datetime(2026, 4, 5, 15, tzinfo=dt.UTC)]  # fmt: skip
    records = []
    for base in instants:
        for _ in range(150):
            ts = base.timestamp() + rng.uniform(-36 * 3600, 36 * 3600)
            records.append(call(ts, cost=round(rng.uniform(0, 1), 6), currency="USD"))
    for rec in records[:20]:  # misplaced: stored in another day's file
        write_jsonl(data_dir / "usage_2026-01-01.jsonl", [rec])
    by_day: dict[str, list[dict[str, Any]]] = {}
    for rec in records[20:]:
        by_day.setdefault(
            dt.datetime.fromtimestamp(rec["timestamp"], dt.UTC).date().isoformat(), []
        ).append(rec)
    for day, rows in by_day.items():
        write_jsonl(data_dir / f"usage_{day}.jsonl", rows)
    expected = round(sum(r["cost"] for r in records), 6)
    for zone in ZONES:
        totals = [
            cli("report", "-d", data_dir, "--all", "--period", p, "--tz", zone, "--json").json()
            for p in ("hour", "day", "week", "month", "total")
        ]
        for doc in totals:
            assert doc["totals"]["requests"] == len(records), (zone, doc["period"])
            assert round(doc["totals"]["cost"], 6) == expected
            assert sum(r["requests"] for r in doc["rows"]) == len(records)


def test_a_million_small_costs_add_up_exactly(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    line = json.dumps(call(1_793_500_000, cost=0.000123, currency="USD")).encode() + b"\n"
    for day in range(10):  # 10 files × 100,000 calls
        (data_dir / f"usage_2026-11-{day + 1:02d}.jsonl").write_bytes(
            line.replace(b"1793500000", str(1_793_500_000 + day * 86400).encode()) * 100_000
        )
    for args in (
        ["--period", "total"],
        ["--period", "day"],
        ["--by", "model", "--period", "week"],
        ["--currency", "USD", "--period", "month"],
    ):
        doc = cli("report", "-d", data_dir, "--all", *args, "--json").json()
        assert doc["totals"]["cost"] == 123.0, args
        assert f"{doc['totals']['cost']:.2f}" == "123.00"
    assert cli("top-users", "-d", data_dir, "--all", "--json").json()["totals"]["cost"] == 123.0


def test_full_key_never_written(cli, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = "sk-proj-SECRETSECRETSECRET0123456789abcdef"
    cli("record", "-d", data_dir, "-m", "gpt-4o", "--api-key", key)
    aiusage.record(data_dir=data_dir, model="gpt-4o", api_key=key)

    @aiusage.track(model="gpt-4o", api_key=key, data_dir=data_dir)
    def tracked() -> Any:
        return SimpleNamespace(
            usage=SimpleNamespace(prompt_tokens=5, completion_tokens=1), model="gpt-4o", id="x"
        )

    tracked()
    batch = json.dumps({"model": "gpt-4o", "api_key": key}).encode() + b"\n"
    cli("record", "-d", data_dir, "--batch", "-", input=batch)
    out = tmp_path / "exports"
    out.mkdir()
    for fmt in ("json", "csv", "prom", "html"):
        cli("export", "-d", data_dir, "--all", "--by", "key", "--format", fmt, "--out", out)
    for path in [*data_dir.rglob("*"), *out.rglob("*")]:
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
            assert b"SECRETSECRET" not in path.read_bytes(), path
    keys = {
        r["api_key"]
        for r in cli("report", "-d", data_dir, "--all", "--by", "key", "--json").json()["rows"]
    }
    assert keys == {"sk-…cdef"}


@pytest.mark.parametrize("name", ["usage_2026-11-01.jsonl", "imports"])
def test_private_modes(data_dir: Path, name: str) -> None:
    aiusage.record(data_dir=data_dir, model="gpt-4o", timestamp=1_793_500_000)
    assert (data_dir / "usage_2026-11-01.jsonl").stat().st_mode & 0o077 == 0
