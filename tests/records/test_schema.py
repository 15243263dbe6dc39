from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiusage.errors import ValidationError
from aiusage.records.schema import FIELD_ORDER, build_record, check_read, mask_api_key, serialize

NOW = 1_795_000_000.0


def build(**fields: Any) -> dict[str, Any]:
    return build_record({"model": "gpt-4o", **fields}, now=NOW)


def test_defaults_are_filled() -> None:
    rec = build(input_tokens=10, output_tokens=5, cache_read_tokens=3, cache_write_tokens=2)
    assert rec["v"] == 1
    assert len(rec["id"]) == 32
    assert rec["timestamp"] == NOW
    assert rec["total_tokens"] == 20
    assert rec["cost"] is None
    assert rec["success"] is True
    assert rec["currency"] == "USD"
    assert rec["host"]
    assert list(rec) == [k for k in FIELD_ORDER if k in rec]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"input_tokens": -1}, "input_tokens"),
        ({"output_tokens": 1.5}, "output_tokens"),
        ({"cache_read_tokens": True}, "cache_read_tokens"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": math.nan}, "timestamp"),
        ({"cost": -0.1}, "cost"),
        ({"currency": "dollars"}, "currency"),
        ({"status_code": 42}, "status_code"),
        ({"tags": {"env": 1}}, "tags"),
        ({"model": ""}, "model"),
        ({"duration_ms": -3}, "duration_ms"),
        ({"total_tokens": 999}, "total_tokens"),
        ({"success": "yes"}, "success"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_invalid_fields_are_named(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        build(**fields)


def test_reasoning_cannot_exceed_output() -> None:
    with pytest.raises(ValidationError, match="reasoning_tokens"):
        build(output_tokens=5, reasoning_tokens=6)


def test_error_message_implies_failure() -> None:
    assert build(error_msg="boom")["success"] is False
    assert build(error_msg="partial", success=True)["success"] is True


def test_numeric_ids_become_strings() -> None:
    assert build(user_id=42)["user_id"] == "42"


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("sk-proj-abcdefghijklmnop9f3a", "sk-…9f3a"),
        ("abcdefgh1234", "abc…1234"),
        ("short123", "…t123"),
        ("tiny", "…"),
        ("sk-…9f3a", "sk-…9f3a"),
    ],
)
def test_mask_api_key(key: str, masked: str) -> None:
    assert mask_api_key(key) == masked


def test_full_key_never_in_record() -> None:
    key = "sk-live-0123456789abcdefghijklmnopqrstuv"
    line = serialize(build(api_key=key))
    assert key.encode() not in line
    assert b"sk-\xe2\x80\xa6stuv" in line


texts = st.text(min_size=1, max_size=20)
counts = st.integers(min_value=0, max_value=10**9)


@given(
    model=texts.filter(lambda s: s.strip() == s),
    user=st.none() | texts,
    inp=counts,
    out=counts,
    cr=counts,
    cw=counts,
    cost=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
    ts=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    tags=st.dictionaries(texts, texts, max_size=3),
    success=st.booleans(),
)
def test_parse_serialize_round_trip(
    model: str,
    user: str | None,
    inp: int,
    out: int,
    cr: int,
    cw: int,
    cost: float | None,
    ts: float,
    tags: dict[str, str],
    success: bool,
) -> None:
    rec = build_record(
        {
            "model": model,
            "user_id": user,
            "input_tokens": inp,
            "output_tokens": out,
            "cache_read_tokens": cr,
            "cache_write_tokens": cw,
            "cost": cost,
            "timestamp": ts,
            "tags": tags,
            "success": success,
        },
        now=NOW,
    )
    line = serialize(rec)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    parsed = orjson.loads(line)
    assert parsed == rec
    assert check_read(parsed) is None
    assert build_record(parsed, now=NOW) == rec


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ([], "not a JSON object"),
        ({"model": "x"}, "timestamp"),
        ({"timestamp": "1", "model": "x"}, "timestamp"),
        ({"timestamp": 1.0}, "model"),
        ({"timestamp": 1.0, "model": "x", "input_tokens": -1}, "input_tokens"),
        ({"timestamp": 1.0, "model": "x", "output_tokens": "5"}, "output_tokens"),
        ({"timestamp": 1.0, "model": "x", "cost": "0.1"}, "cost"),
        ({"timestamp": 1.0, "model": "x", "success": "no"}, "success"),
        ({"timestamp": 1.0, "model": "x", "tags": []}, "tags"),
    ],
)
def test_check_read_rejects(obj: Any, reason: str) -> None:
    result = check_read(obj)
    assert result is not None
    assert reason in result


def test_check_read_accepts_seed_003_record() -> None:
    seed = {
        "timestamp": 1730001234.56,
        "user_id": "user_001",
        "anchor_id": "anchor_123",
        "session_id": "session_456",
        "model": "qwen-plus",
        "function": "实时分析",
        "input_tokens": 2000,
        "output_tokens": 700,
        "total_tokens": 2700,
        "cost": 0.0164,
        "duration_ms": 1234.5,
        "success": True,
        "error_msg": None,
    }
    assert check_read(seed) is None
