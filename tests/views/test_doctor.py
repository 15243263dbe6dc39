from __future__ import annotations

import os
from pathlib import Path

import orjson

from conftest import call, write_jsonl


def test_healthy_data_dir(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("record", "-d", data_dir, "-m", "gpt-4o").exit_code == 0
    result = cli("doctor", "-d", data_dir)
    assert result.exit_code == 0
    assert "No problems found" in result.stdout


def test_problems_are_reported(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    day = data_dir / "usage_2026-11-01.jsonl"
    write_jsonl(
        day,
        [
            call(1_793_500_000),
            call(1_793_500_000 - 86400 * 3),
            call(1_793_500_001, model="mystery"),
        ],
    )
    with open(day, "ab") as fh:
        fh.write(b'{"timestamp": 1793500000, "model": "x", "input_tokens": -1}\n{"torn": ')
    os.chmod(day, 0o644)
    result = cli("doctor", "-d", data_dir, "--json")
    assert result.exit_code == 3
    assert "2 malformed lines" in result.stderr
    doc = orjson.loads(result.stdout)
    assert doc["schema"] == "aiusage.doctor/1"
    assert doc["records"] == 3
    assert doc["malformed"] == [
        {"file": day.name, "line": 4, "reason": "input_tokens is not an integer ≥ 0"},
        {"file": day.name, "line": 5, "reason": "torn last line (incomplete write)"},
    ]
    assert doc["misplaced_records"] == 1
    assert doc["misplaced"][0]["line"] == 2
    assert doc["unpriced_models"] == [{"model": "mystery", "requests": 1}]
    assert any("mode 644" in w for w in doc["warnings"])
    table = cli("doctor", "-d", data_dir)
    assert f"{day.name}:5: torn last line" in table.stdout


def test_missing_dir(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("doctor", "-d", tmp_path / "nope").exit_code == 3


def test_leftovers_and_days_in_two_files_are_reported(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt
    import subprocess
    import sys

    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=10)
    ts = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()
    plain = data_dir / f"usage_{day}.jsonl"
    write_jsonl(plain, [call(ts), call(ts + 1)])
    assert cli("compact", "--older-than", "7", "-d", data_dir).exit_code == 0
    write_jsonl(plain, [call(ts + 2)])  # back-filled after the compaction
    os.chmod(plain, 0o600)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    leftover = data_dir / f".{plain.name}.gz.tmp-{gone.stdout.strip()}"  # a killed compact's
    leftover.write_bytes(b"12345")
    result = cli("doctor", "-d", data_dir, "--json")
    assert result.exit_code == 0, result.stderr  # warnings, not data errors
    doc = orjson.loads(result.stdout)
    assert doc["records"] == 3
    assert doc["leftovers"] == [{"file": leftover.name, "bytes": 5}]
    assert doc["split_days"] == [
        {"day": day.isoformat(), "gzip": plain.name + ".gz", "plain": plain.name, "held_bytes": 0}
    ]
    assert any("left by killed commands" in w for w in doc["warnings"])
    text = cli("doctor", "-d", data_dir).stdout
    assert leftover.name in text
    assert f"{day} is in two files" in text
