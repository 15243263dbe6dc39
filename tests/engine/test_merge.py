"""Reports over several data dirs (one per app server) count each record once."""

from __future__ import annotations

from pathlib import Path

import orjson

from conftest import call, write_jsonl

T = 1_793_500_000.0


def _dirs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "srv-a" / "aiusage", tmp_path / "srv-b" / "aiusage"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    shared = [call(T + i, id=f"r{i}", cost=1.0, currency="USD", user_id="ann") for i in range(5)]
    write_jsonl(
        a / "usage_2026-11-01.jsonl", [*shared, call(T + 10, id="only-a", cost=2.0, currency="USD")]
    )
    write_jsonl(
        b / "usage_2026-11-01.jsonl",
        [*shared[2:], call(T + 11, id="only-b", cost=4.0, currency="USD")],
    )
    write_jsonl(
        b / "usage_2026-11-02.jsonl", [call(T + 86400, id="r0", cost=8.0, currency="USD")]
    )  # another day: not a duplicate
    return a, b


def test_merging_data_dirs_counts_each_record_once(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = _dirs(tmp_path)
    doc = cli("report", "-d", a, "-d", b, "--all", "--period", "total", "--json").json()
    assert doc["totals"]["requests"] == 5 + 1 + 1 + 1
    assert doc["totals"]["cost"] == 5 + 2 + 4 + 8
    assert doc["duplicate_records"] == 3
    globbed = cli(
        "report", "-d", str(tmp_path / "srv-*" / "aiusage"), "--all", "--period", "total", "--json"
    ).json()
    assert globbed["totals"] == doc["totals"]
    out = tmp_path / "merged.json"
    cli("export", "-d", a, "-d", b, "--all", "--out", out)
    assert orjson.loads(out.read_bytes())["totals"]["requests"] == 8
    users = cli("top-users", "-d", a, "-d", b, "--all", "--json").json()
    assert {u["user_id"]: u["requests"] for u in users["users"]} == {"ann": 5, None: 3}


def test_missing_merge_dir_is_an_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, _ = _dirs(tmp_path)
    assert cli("report", "-d", a, "-d", tmp_path / "nope").exit_code == 3
    assert cli("report", "-d", str(tmp_path / "zzz*")).exit_code == 3
