"""Time (DST, leap days, ±14 h zones, misplaced records, future clocks), numbers (no drift)
and secrets (no key, token or credential is ever written, whatever the field or path)."""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import aiusage
from conftest import call, write_jsonl
from strategies import SECRET_FORMATS, hidden_part, secrets_in_text

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


RESPONSES = Path(__file__).resolve().parents[1] / "fixtures" / "responses"
EXPORTS = ("json", "csv", "prom", "html", "parquet")


def _write_everywhere(cli, data_dir: Path, tmp: Path, text: str, key: str) -> None:  # type: ignore[no-untyped-def]
    """Send ``text`` (and ``key`` as the API key) through every write path."""
    tagged = {"error_msg": text, "user_id": text, "tags": {"auth": text, text: "1"}}
    ok = cli("record", "-d", data_dir, "-m", "gpt-4o", "--api-key", key, "--error", text,
             "--user", text, "--session", text, "--function", text, "--anchor", text,
             "--request-id", text, "--tag", f"auth={text}")  # fmt: skip
    assert ok.exit_code == 0, ok.stderr
    batch = orjson.dumps({"model": "gpt-4o", "api_key": key, **tagged}) + b"\n"
    assert cli("record", "-d", data_dir, "--batch", "-", input=batch).exit_code == 0
    body = json.loads((RESPONSES / "openai_429.json").read_text())
    body["error"]["message"] = text
    (tmp / "error.json").write_text(json.dumps(body))
    ok = cli("record", "-d", data_dir, "--from-response", tmp / "error.json", "-m", "gpt-4o")
    assert ok.exit_code == 0, ok.stderr
    assert aiusage.record(
        data_dir=data_dir, model="gpt-4o", api_key=key, raise_errors=True, **tagged
    )

    @aiusage.track(
        model="gpt-4o", api_key=key, user_id=text, tags={"auth": text}, data_dir=data_dir
    )
    def tracked(fail: bool) -> Any:
        if fail:
            raise RuntimeError(text)
        return SimpleNamespace(
            usage=SimpleNamespace(prompt_tokens=5, completion_tokens=1), model="gpt-4o", id="x"
        )

    tracked(False)
    with pytest.raises(RuntimeError):
        tracked(True)

    def chunks() -> Any:
        raise ConnectionError(text)
        yield

    with pytest.raises(ConnectionError):
        list(aiusage.track_stream(chunks(), model="gpt-4o", data_dir=data_dir, session_id=text))
    gateway = tmp / "gateway.jsonl"
    gateway.write_bytes(orjson.dumps({"ts": 1_793_500_000, "model": "gpt-4o", "err": text}) + b"\n")
    ok = cli("import", "jsonl", gateway, "-d", data_dir, "--map", "timestamp=ts", "--map",
             "model=model", "--map", "error_msg=err", "--map", "user_id=err", "--map", "tag:auth=err")  # fmt: skip
    assert ok.exit_code == 0, ok.stderr


def _everything_written(cli, data_dir: Path, out: Path) -> list[tuple[Path, bytes]]:  # type: ignore[no-untyped-def]
    """Every file of the data dir (day files, rollup cache, import state) and of an export
    in each format grouped by every text dimension; Parquet as its decoded rows."""
    by = ["--by", "user", "--by", "tag:auth", "--by", "key", "--by", "function", "--by", "session"]
    assert cli("report", "-d", data_dir, "--all", *by, "--json").exit_code == 0
    for fmt in EXPORTS:
        (out / fmt).mkdir(parents=True)
        ok = cli("export", "-d", data_dir, "--all", *by, "--format", fmt, "--out", out / fmt)
        assert ok.exit_code == 0, ok.stderr
    files = [p for p in [*data_dir.rglob("*"), *out.rglob("*")] if p.is_file()]
    assert any(".cache" in p.parts for p in files)
    assert any(p.suffix == ".parquet" for p in files)
    written = []
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            data = orjson.dumps(pq.read_table(path).to_pylist(), default=str)
        written.append((path, data))
    return written


# Every format inside random text (words, punctuation, quotes, JSON escapes), all at once.
# Every fixed text an output may hold (metric names, HTML, CSV headers) is in the package's
# source: a secret's hidden part found there could show in an export without any leak.
PACKAGE_TEXT = "".join(
    path.read_text(encoding="utf-8") for path in Path(aiusage.__file__).parent.rglob("*.py")
)
all_formats = st.fixed_dictionaries({name: secrets_in_text(name) for name in SECRET_FORMATS})


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(all_formats)
def test_full_key_never_written(cli, placed: dict[str, tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    key = "sk-proj-SECRETSECRETSECRET0123456789abcdef"
    text = " | ".join(text for text, _ in placed.values())
    needles = {name: hidden_part(secret) for name, (_, secret) in placed.items()}
    masked = text
    for _, secret in placed.values():
        masked = masked.replace(secret, f"{secret[:3]}…{secret[-4:]}")
    # Meaningful only when no secret's hidden part shows in the text around the secrets.
    # A hidden part of few distinct characters (a token of zeros) could show in any binary
    # export by chance: such examples prove nothing either way.
    assume(
        not any(
            needle in masked or needle in PACKAGE_TEXT or len(set(needle)) < 6
            for needle in needles.values()
        )
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data_dir = tmp / "data"
        data_dir.mkdir(mode=0o700)
        _write_everywhere(cli, data_dir, tmp, text, key)
        written = _everything_written(cli, data_dir, tmp / "exports")
        records = cli("report", "-d", data_dir, "--all", "--json").json()["totals"]["requests"]
        assert records == 8
        for path, data in written:
            for name, needle in [*needles.items(), ("api_key", "SECRETSECRET")]:
                assert needle.encode() not in data, (name, path.relative_to(tmp))
        keys = {
            r["api_key"]
            for r in cli("report", "-d", data_dir, "--all", "--by", "key", "--json").json()["rows"]
        }
        assert keys == {"sk-…cdef", None}  # None: the calls recorded without a key


@pytest.mark.parametrize("name", ["usage_2026-11-01.jsonl", "imports"])
def test_private_modes(data_dir: Path, name: str) -> None:
    aiusage.record(data_dir=data_dir, model="gpt-4o", timestamp=1_793_500_000)
    assert (data_dir / "usage_2026-11-01.jsonl").stat().st_mode & 0o077 == 0
