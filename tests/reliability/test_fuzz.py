"""Bad input: the reader, --batch, --from-response and pricing.yaml never crash; bad lines
are skipped and counted, good ones all counted."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiusage.errors import AiusageError
from aiusage.pricing.table import load_table

GOOD = b'{"timestamp": 1793500000.5, "model": "gpt-4o", "input_tokens": 10, "cost": 0.01, "currency": "USD"}\n'
NASTY = [
    b'{"timestamp": 1793500000, "model": "gpt-4o", "input_tokens": 99999999999999999999999999}\n',
    b'{"timestamp": NaN, "model": "gpt-4o"}\n',
    b'{"timestamp": Infinity, "model": "gpt-4o"}\n',
    b'{"timestamp": 1793500000, "model": {"nested": [1, [2, {"deep": null}]]}}\n',
    b"\x00\x00\x00\n",
    b'{"timestamp": 1793500000, "model": "gpt-4o", "input_tokens": "12"}\n',
    b'{"timestamp": 1793500000, "model": "gpt-4o", "success": "yes"}\n',
    b'{"timestamp": -5, "model": "gpt-4o"}\n',
    b'{"timestamp": 99999999999999, "model": "gpt-4o"}\n',
    b"[1, 2, 3]\n",
    b"null\n",
    b'"just a string"\n',
    b"{\n",
    b'{"timestamp": 32503680000, "model": "gpt-4o"}\n',  # year 3000: beyond the bounds
    b'{"timestamp": 1793500000, "model": "gpt-4o", "cost": 1e300}\n',  # beyond the bounds
]
ACCEPTED = [
    b'{"timestamp": 1793500000, "model": "gpt-4o", "pad": "'
    + b"x" * 10_000_000
    + b'"}\n',  # a 10 MB line
    GOOD.rstrip(b"\n") + b"\r\n",  # CRLF
    b"\xef\xbb\xbf" + GOOD,  # a byte-order mark
    b'{"timestamp": 1793500000, "timestamp": 1793500001, "model": "gpt-4o"}\n',  # duplicate keys: the last wins
    b'{"timestamp": 0, "model": "gpt-4o"}\n',  # 1970
    b'{"timestamp": 1793500000, "model": "gpt-4o", "user_id": 42, "tags": {"n": 1}}\n',  # foreign types
    b'{"timestamp": 1793500000, "model": "\xff\xfe invalid utf-8"}\n',  # read as U+FFFD
]


def test_nasty_corpus(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = data_dir / "usage_2026-11-01.jsonl"
    path.write_bytes(GOOD + b"".join(NASTY) + b"".join(ACCEPTED) + GOOD)
    result = cli("report", "-d", data_dir, "--all", "--period", "total", "--json", "--no-cache")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["skipped_lines"] == len(NASTY)
    assert doc["totals"]["requests"] == 2 + len(ACCEPTED)
    strict = cli("report", "-d", data_dir, "--all", "--strict", "--no-cache")
    assert strict.exit_code == 3
    assert "Traceback" not in strict.stderr
    doctor = cli("doctor", "-d", data_dir, "--json")
    assert doctor.exit_code == 3
    assert doctor.json()["malformed_lines"] == len(NASTY)


def test_batch_with_nasty_lines_writes_nothing(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    for bad in NASTY:
        result = cli(
            "record",
            "-d",
            data_dir,
            "--batch",
            "-",
            input=GOOD.replace(b"1793500000.5", b"1793500001") + bad,
        )
        assert result.exit_code == 2, bad[:80]
        assert "Traceback" not in result.stderr
        assert list(data_dir.iterdir()) == []


@settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(st.binary(max_size=300))
def test_any_bytes_as_a_data_file(tmp_path_factory: pytest.TempPathFactory, junk: bytes) -> None:
    from zoneinfo import ZoneInfo

    from aiusage.engine.rollup import Query
    from aiusage.engine.scan import scan
    from aiusage.engine.timerange import TimeRange
    from aiusage.store.dayfiles import list_files

    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "usage_2026-11-01.jsonl").write_bytes(GOOD + junk + b"\n" + GOOD)
    rollup = scan(
        list_files(directory),
        Query(("user",), "day", ZoneInfo("UTC"), TimeRange(None, None)),
        load_table(),
        default_currency="USD",
    )
    assert rollup.records >= 1  # the first good line always counts; junk never crashes


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=20))  # fmt: skip
def test_any_yaml_as_a_pricing_file(tmp_path_factory: pytest.TempPathFactory, doc: object) -> None:
    import yaml

    path = tmp_path_factory.mktemp("p") / "pricing.yaml"
    path.write_text(yaml.safe_dump(doc))
    with contextlib.suppress(AiusageError):  # a clear error naming the problem, never a crash
        load_table(extra=path)


def test_from_response_junk(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    for junk in (
        b"",
        b"\x00\x01",
        b"{",
        b"[1,2",
        b"data: {oops}\n\n",
        b"<html>502 Bad Gateway</html>",
    ):
        result = cli(
            "record", "-d", data_dir, "--from-response", "-", "--model", "gpt-4o", input=junk
        )
        assert result.exit_code == 2, junk
        assert "Traceback" not in result.stderr
