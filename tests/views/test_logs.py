from __future__ import annotations

from pathlib import Path

import orjson

from aiusage.engine.timerange import TimeRange
from aiusage.pricing.table import load_table
from aiusage.views.document import Source
from aiusage.views.logs import newest_calls
from oracle import load, make_records, write_store

T0 = 1_793_500_000.0


def test_newest_first_with_filters(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_store(tmp_path, make_records(11, 800, T0, T0 + 4 * 86400))
    records = sorted(load(tmp_path), key=lambda r: -r["timestamp"])
    out = cli("logs", "-d", tmp_path, "-n", "15", "--json").stdout.splitlines()
    assert [
        orjson.loads(line)["id"] if "id" in orjson.loads(line) else orjson.loads(line)["timestamp"]
        for line in out
    ] == [r.get("id", r["timestamp"]) for r in records[:15]]
    failed = [
        orjson.loads(x)
        for x in cli(
            "logs", "-d", tmp_path, "-n", "5", "--failed", "--user", "ann", "--json"
        ).stdout.splitlines()
    ]
    want = [r for r in records if not r["success"] and r["user_id"] == "ann"][:5]
    assert [r["timestamp"] for r in failed] == [r["timestamp"] for r in want]
    table = cli("logs", "-d", tmp_path, "-n", "3").stdout
    assert "newest first" in table


def test_reading_stops_at_older_days(tmp_path: Path) -> None:
    write_store(tmp_path, make_records(12, 600, T0, T0 + 6 * 86400))
    # Corrupt the oldest day: a reader that needed it would count the bad line.
    oldest = sorted(tmp_path.glob("usage_*.jsonl"))[0]
    with open(oldest, "ab") as fh:
        fh.write(b"garbage\n")
    calls, skipped = newest_calls(
        Source(tmp_path, load_table(), "USD"), time_range=TimeRange(None, None), limit=10
    )
    assert len(calls) == 10
    assert skipped.count == 0
    assert calls == sorted(calls, key=lambda r: -r["timestamp"])


def test_no_match_says_so(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("logs", "-d", data_dir)
    assert result.exit_code == 0
    assert "no calls match" in result.stderr
