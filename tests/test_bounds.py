"""The bounds of every stored value (README "The record": bounds): every write path refuses a
value beyond them with a usage error naming the field and stores nothing; a value at the
bound is stored and read back by every report, in every zone."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

import aiusage
from aiusage.bounds import MAX_COST, MAX_DURATION_MS, MAX_TIMESTAMP, MAX_TOKENS
from aiusage.errors import ValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "responses"

# (field, a value just beyond its bound, or beyond anything a sum survives). Token counts
# beyond 2^53 and status codes beyond 599 were refused before these bounds (tests/records).
BEYOND: list[tuple[str, Any]] = [
    ("cost", MAX_COST * 1.000001),
    ("cost", 1e300),
    ("duration_ms", MAX_DURATION_MS * 1.01),
    ("duration_ms", 1e306),
    ("ttfb_ms", 1e300),
    ("timestamp", MAX_TIMESTAMP),
    ("timestamp", 253402300799.0),  # 9999-12-31T23:59:59Z: year 10000 east of UTC
]
AT_THE_BOUND: dict[str, Any] = {
    "cost": MAX_COST,
    "duration_ms": MAX_DURATION_MS,
    "ttfb_ms": MAX_DURATION_MS,
    "input_tokens": MAX_TOKENS,
    "status_code": 599,
    "timestamp": MAX_TIMESTAMP - 1,
}
FLAGS = {
    "cost": "--cost",
    "duration_ms": "--duration-ms",
    "ttfb_ms": "--ttfb-ms",
    "timestamp": "--timestamp",
}


def _stored(data_dir: Path) -> list[bytes]:
    return [
        line for path in sorted(data_dir.glob("usage_*")) for line in path.read_bytes().splitlines()
    ]


def _flag_value(name: str, value: Any) -> str:
    if name == "timestamp":
        return dt.datetime.fromtimestamp(value, dt.UTC).isoformat()
    return repr(value) if isinstance(value, float) else str(value)


@pytest.mark.parametrize(("name", "value"), BEYOND)
def test_record_refuses_a_value_beyond_its_bound(
    cli, data_dir: Path, name: str, value: Any
) -> None:  # type: ignore[no-untyped-def]
    args = ["record", "-d", data_dir, "-m", "gpt-4o", "-i", "1", "-o", "1"]
    result = cli(*args, FLAGS[name], _flag_value(name, value))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"aiusage: error: field '{name}'")
    assert len(result.stderr.splitlines()) == 1
    assert _stored(data_dir) == []


@pytest.mark.parametrize(("name", "value"), BEYOND)
def test_the_python_api_refuses_a_value_beyond_its_bound(
    data_dir: Path, caplog: pytest.LogCaptureFixture, name: str, value: Any
) -> None:
    fields = {"model": "gpt-4o", name: value}
    with pytest.raises(ValidationError, match=f"field '{name}'"):
        aiusage.record(data_dir=data_dir, raise_errors=True, **fields)
    with caplog.at_level(logging.ERROR, logger="aiusage"):
        assert aiusage.record(data_dir=data_dir, **fields) is None
    assert f"field '{name}'" in caplog.text
    assert _stored(data_dir) == []


@pytest.mark.parametrize(("name", "value"), BEYOND)
def test_batch_refuses_a_value_beyond_its_bound(cli, data_dir: Path, name: str, value: Any) -> None:  # type: ignore[no-untyped-def]
    good = orjson.dumps({"model": "gpt-4o", "input_tokens": 1})
    bad = orjson.dumps({"model": "gpt-4o", name: value})
    result = cli(
        "record", "-d", data_dir, "--batch", "-", input=good + b"\n" + bad + b"\n" + good + b"\n"
    )
    assert result.exit_code == 2, result.stderr
    assert f"line 2: field '{name}'" in result.stderr
    assert _stored(data_dir) == []


def test_batch_and_the_api_store_values_at_their_bounds(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    line = orjson.dumps({"model": "gpt-4o", "kind": "call", **AT_THE_BOUND})
    assert cli("record", "-d", data_dir, "--batch", "-", input=line + b"\n").exit_code == 0
    assert aiusage.record(data_dir=data_dir, raise_errors=True, model="gpt-4o", **AT_THE_BOUND)
    counter = aiusage.record(
        data_dir=data_dir, raise_errors=True, kind="counter", key="k", n=-(2**53)
    )
    assert counter is not None
    assert counter["n"] == -(2**53)
    report = cli("report", "-d", data_dir, "--all", "--json")
    assert report.exit_code == 0, report.stderr
    doc = report.json()
    assert (doc["totals"]["requests"], doc["skipped_lines"]) == (2, 0)
    assert doc["totals"]["input_tokens"] == 2 * MAX_TOKENS


def test_a_counter_step_beyond_its_bound_is_refused(data_dir: Path) -> None:
    with pytest.raises(ValidationError, match="field 'n'"):
        aiusage.record(data_dir=data_dir, raise_errors=True, kind="counter", key="k", n=2**53 + 1)


@pytest.mark.parametrize(("name", "value"), BEYOND)
def test_a_response_with_a_value_beyond_its_bound_is_refused(
    cli, data_dir: Path, name: str, value: Any
) -> None:  # type: ignore[no-untyped-def]
    response = FIXTURES / "openai_chat.json"
    result = cli(
        "record", "-d", data_dir, "--from-response", response, FLAGS[name], _flag_value(name, value)
    )
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"aiusage: error: field '{name}'")
    assert _stored(data_dir) == []


def test_a_priced_cost_beyond_the_bound_is_refused(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (data_dir / "pricing.yaml").write_text("models:\n  dear:\n    input: 1e9\n    output: 1e9\n")
    single = cli("record", "-d", data_dir, "-m", "dear", "-i", str(MAX_TOKENS), "-o", "0")
    assert single.exit_code == 2
    assert single.stderr.startswith("aiusage: error: field 'cost'")
    batch = cli(
        "record",
        "-d",
        data_dir,
        "--batch",
        "-",
        input=orjson.dumps({"model": "dear", "input_tokens": MAX_TOKENS}) + b"\n",
    )
    assert batch.exit_code == 2
    assert "field 'cost'" in batch.stderr
    assert _stored(data_dir) == []
    assert cli("record", "-d", data_dir, "-m", "dear", "-i", "1000", "-o", "0").exit_code == 0


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ("models:\n  big:\n    input: 1e300\n    output: 1\n", "model 'big': field 'input'"),
        (
            "models:\n  big:\n    input: 1\n    output: 1\n    per_request: 1e10\n",
            "field 'per_request'",
        ),
        ("models:\n  big:\n    input: 1\n    output: 1\nfx:\n  EUR: 1e-300\n", "fx rate for EUR"),
        ("models:\n  big:\n    input: 1\n    output: 1\nfx:\n  EUR: 1e300\n", "fx EUR"),
    ],
)
def test_a_price_beyond_the_bound_is_a_usage_error_naming_file_and_entry(
    cli, data_dir: Path, entry: str, named: str
) -> None:  # type: ignore[no-untyped-def]
    (data_dir / "pricing.yaml").write_text(entry)
    result = cli("record", "-d", data_dir, "-m", "big", "-i", "1000", "-o", "1")
    assert result.exit_code == 2, result.stderr
    assert f"pricing file {data_dir / 'pricing.yaml'}" in result.stderr
    assert named in result.stderr
    assert _stored(data_dir) == []


# The two extremes run in the inner loop; the others with the slow tests (README: Development).
ZONES = [
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    *(
        pytest.param(zone, marks=pytest.mark.slow)
        for zone in ("UTC", "Pacific/Chatham", "Asia/Tokyo", "America/Los_Angeles")
    ),
]


@pytest.mark.parametrize("zone", ZONES)
def test_records_at_both_timestamp_bounds_are_reported_in_every_zone(
    cli, data_dir: Path, zone: str
) -> None:  # type: ignore[no-untyped-def]
    for ts in (0.0, MAX_TIMESTAMP - 0.001):
        aiusage.record(
            data_dir=data_dir, raise_errors=True, model="gpt-4o", input_tokens=1, timestamp=ts
        )
    # Written before the bounds: 9999-12-31T23:00Z, in the year 10000 east of UTC.
    (data_dir / "usage_9999-12-31.jsonl").write_bytes(
        b'{"timestamp": 253402297200, "model": "gpt-4o"}\n'
    )
    for period in ("hour", "day", "week", "month", "total"):
        result = cli("report", "-d", data_dir, "--all", "--tz", zone, "--period", period, "--json")
        assert result.exit_code == 0, (period, result.stderr)
        assert (result.json()["totals"]["requests"], result.json()["skipped_lines"]) == (2, 1)
    for command in ("trend", "models", "top-users", "logs"):
        assert cli(command, "-d", data_dir, "--all", "--tz", zone).exit_code == 0, command


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--days", "99999999"), "--days"),
        (("--days", "3000000"), "--days"),
        (("--days", "60000"), "--days"),
        (("--until", "0001-01-01"), "--until"),
        (("--since", "9999-12-31"), "--since"),
        (("--since", "99999999999999999999"), "--since"),
        (("--since", "1e300"), "--since: bad date"),
        (("--since", "99999999d"), "--since"),
        (("--until", "9999-12-31"), "--until"),
    ],
)
def test_range_flags_at_the_edges_are_usage_errors(
    cli, data_dir: Path, flags: tuple[str, str], named: str
) -> None:  # type: ignore[no-untyped-def]
    for command in ("report", "logs", "export"):
        extra = ("--out", "-") if command == "export" else ()
        result = cli(command, "-d", data_dir, *flags, *extra)
        assert result.exit_code == 2, (command, result.stderr)
        assert named in result.stderr
        assert len(result.stderr.splitlines()) == 1


def test_record_timestamp_beyond_a_calendar_is_a_usage_error(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    for when in ("0001-01-01", "9999-12-31T23:59:59", "99999999999999999999"):
        result = cli(
            "record",
            "-d",
            data_dir,
            "-m",
            "gpt-4o",
            "--timestamp",
            when,
            "--tz",
            "Pacific/Kiritimati",
        )
        assert result.exit_code == 2, (when, result.stderr)
    assert _stored(data_dir) == []


# The importers read epoch numbers from 1e11 up as milliseconds: 253402300799 is in 1978.
@pytest.mark.parametrize(("name", "value"), [b for b in BEYOND if b[1] != 253402300799.0])
def test_an_import_with_a_value_beyond_its_bound_imports_nothing(
    cli, data_dir: Path, tmp_path: Path, name: str, value: Any
) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "calls.jsonl"
    rows = [
        {"id": "a", "timestamp": 1793500000.0, "model": "gpt-4o"},
        {"id": "b", "model": "gpt-4o", "timestamp": 1793500001.0, name: value},
    ]
    source.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    maps = [
        arg for field in ("id", "timestamp", "model", name) for arg in ("--map", f"{field}={field}")
    ]
    result = cli("import", "jsonl", source, *maps, "-d", data_dir)
    assert result.exit_code == 2, result.stderr
    assert f"row 2: field '{name}'" in result.stderr
    assert _stored(data_dir) == []
