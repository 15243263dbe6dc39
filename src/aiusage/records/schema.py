"""The usage record (JSONL schema v1, README: The record): strict building on write, tolerant checks
on read, masking (of ``api_key`` and of secrets anywhere) and serialisation.

A record is a plain ``dict[str, Any]`` whose keys are the fields of README: The record. On write
every field is present except the optional ones that are ``None`` (``cost`` is always
written, ``null`` meaning unpriced). On read, missing optional fields take their defaults
(``kind`` call, ``success`` true, no tags, zero tokens).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping, MutableMapping
from typing import Any

import msgspec
import orjson

from aiusage.bounds import (
    MAX_COST,
    MAX_COUNTER_STEP,
    MAX_DURATION_MS,
    MAX_STATUS,
    MAX_TOKENS,
    MIN_STATUS,
    TIMESTAMP_RULE,
    amount_ok,
    count_ok,
    is_number,
    shown,
    timestamp_ok,
)
from aiusage.errors import ValidationError
from aiusage.records.secrets import MIN_SECRET, mask_api_key, scrub, scrub_tags

SCHEMA_VERSION = 1

Record = dict[str, Any]

TOKEN_FIELDS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
STRING_FIELDS = (
    "provider",
    "user_id",
    "session_id",
    "anchor_id",
    "function",
    "error_msg",
    "request_id",
    "host",
    "price_ref",
    "service_tier",
)
# What secret scrubbing covers (README: The record, "Secrets"): every string field but
# ``api_key`` (masked whole) and ``currency`` (a code), and a counter's ``key``.
SCRUBBED_FIELDS = ("id", "model", *STRING_FIELDS, "key")
OPTIONAL_FLOAT_FIELDS = ("duration_ms", "ttfb_ms")
OPTIONAL_INT_FIELDS = ("request_bytes", "response_bytes")

# Write order of the fields: stable output makes files and diffs easy to read.
FIELD_ORDER = (
    "v",
    "id",
    "kind",
    "timestamp",
    "model",
    "provider",
    "user_id",
    "session_id",
    "anchor_id",
    "function",
    *TOKEN_FIELDS,
    "cache_write_1h_tokens",
    "total_tokens",
    "cost",
    "currency",
    "duration_ms",
    "ttfb_ms",
    "success",
    "error_msg",
    "status_code",
    "request_id",
    "api_key",
    "tags",
    "request_bytes",
    "response_bytes",
    "host",
    "price_ref",
    "service_tier",
    "key",
    "n",
)
FIELDS = frozenset(FIELD_ORDER)

# Fields written even when None: a null cost says "unpriced", which a reader must see.
ALWAYS_WRITTEN = frozenset({"v", "id", "kind", "timestamp", "model", "cost", "success"})

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_HOST: str | None = None


def new_id() -> str:
    """A fresh random record id (uuid4-sized hex)."""
    return os.urandom(16).hex()


def hostname() -> str:
    """This machine's name, as written in the ``host`` field."""
    global _HOST
    if _HOST is None:
        _HOST = scrub(socket.gethostname())
    return _HOST


def scrub_fields(rec: MutableMapping[str, Any]) -> None:
    """Scrub, in place, the free-text fields of a record and its tag names and values."""
    for name in SCRUBBED_FIELDS:
        value = rec.get(name)
        if isinstance(value, str) and len(value) >= MIN_SECRET:
            rec[name] = scrub(value)
    tags = rec.get("tags")
    if tags:
        rec["tags"] = scrub_tags(tags)


def _field_error(name: str, expected: str, value: Any) -> ValidationError:
    return ValidationError(f"field '{name}': expected {expected}, got {value!r}")


def _as_count(name: str, value: Any) -> int:
    if not count_ok(value):
        raise _field_error(name, "an integer from 0 to 2^53", value)
    return int(value)


# The maximum of each optional number field (README "The record": bounds).
_MAXIMUM = {"cost": MAX_COST, "duration_ms": MAX_DURATION_MS, "ttfb_ms": MAX_DURATION_MS}


def _as_optional_number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if not amount_ok(value, _MAXIMUM[name]):
        raise _field_error(name, f"a number from 0 to {shown(_MAXIMUM[name])}", value)
    return float(value)


def priced_cost(amount: float) -> float:
    """A cost pricing computed, or a :class:`ValidationError` naming ``cost`` when it is
    beyond the bound (a huge count at a high price)."""
    cost = _as_optional_number("cost", amount)
    assert cost is not None
    return cost


def _as_optional_str(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _field_error(name, "a string", value)
    return value


def build_record(
    fields: Mapping[str, Any],
    *,
    now: float,
    default_currency: str = "USD",
) -> Record:
    """Validate caller-supplied fields and return a complete record ready to write.

    Unknown fields, wrong types and negative counts raise :class:`ValidationError` naming the
    field. ``id``, ``timestamp`` (``now``), ``host`` and ``total_tokens`` are filled when
    absent; ``api_key`` is masked and secrets in the other text fields and the tags are
    (:mod:`aiusage.records.secrets`). ``cost`` and ``provider`` are left as given: pricing fills
    them (see :func:`aiusage.records.prepare.prepare`).
    """
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}")
    rec = _identity(fields, now)
    for name in STRING_FIELDS:
        rec[name] = _as_optional_str(name, fields.get(name))
    if rec["host"] is None:
        rec["host"] = hostname()
    rec.update(_token_counts(fields))
    rec.update(_money(fields, default_currency))
    for name in OPTIONAL_FLOAT_FIELDS:
        rec[name] = _as_optional_number(name, fields.get(name))
    rec.update(_outcome(fields, failed=rec["error_msg"] is not None))
    rec.update(_labels(fields))
    for name in OPTIONAL_INT_FIELDS:
        value = fields.get(name)
        rec[name] = None if value is None else _as_count(name, value)
    if rec["kind"] == "counter":
        rec.update(_counter(fields))
    scrub_fields(rec)
    return ordered(rec)


def _identity(fields: Mapping[str, Any], now: float) -> Record:
    """``v``, ``id``, ``kind``, ``timestamp`` and ``model``, checked and filled in."""
    v = fields.get("v", SCHEMA_VERSION)
    if v != SCHEMA_VERSION:
        raise _field_error("v", str(SCHEMA_VERSION), v)
    rid = fields.get("id")
    if rid is None:
        rid = new_id()
    elif not isinstance(rid, str) or not rid:
        raise _field_error("id", "a non-empty string", rid)
    kind = fields.get("kind", "call")
    if kind not in ("call", "counter"):
        raise _field_error("kind", "'call' or 'counter'", kind)
    ts = fields.get("timestamp")
    if ts is None:
        ts = now
    if not timestamp_ok(ts):
        raise _field_error("timestamp", TIMESTAMP_RULE, ts)
    model = fields.get("model")
    if kind == "counter" and model is None:
        model = ""
    if not isinstance(model, str) or (kind == "call" and not model.strip()):
        raise _field_error("model", "a non-empty string", model)
    return {
        "v": SCHEMA_VERSION,
        "id": rid,
        "kind": kind,
        "timestamp": float(ts),
        "model": model.strip(),
    }


def _token_counts(fields: Mapping[str, Any]) -> Record:
    """The token counts, their sums checked (1-hour cache writes are part of the cache
    writes, reasoning of the output) and ``total_tokens`` derived."""
    rec: Record = {name: _as_count(name, fields.get(name, 0)) for name in TOKEN_FIELDS}
    one_hour = fields.get("cache_write_1h_tokens")
    if (
        one_hour is not None
        and _as_count("cache_write_1h_tokens", one_hour) > rec["cache_write_tokens"]
    ):
        raise ValidationError(
            f"field 'cache_write_1h_tokens': {one_hour} is more than cache_write_tokens "
            f"({rec['cache_write_tokens']}), which must include them"
        )
    rec["cache_write_1h_tokens"] = one_hour or None
    if rec["reasoning_tokens"] > rec["output_tokens"]:
        raise ValidationError(
            f"field 'reasoning_tokens': {rec['reasoning_tokens']} is more than "
            f"output_tokens ({rec['output_tokens']}), which must include reasoning tokens"
        )
    total = (
        rec["input_tokens"]
        + rec["cache_read_tokens"]
        + rec["cache_write_tokens"]
        + rec["output_tokens"]
    )
    given_total = fields.get("total_tokens")
    if given_total is not None and _as_count("total_tokens", given_total) != total:
        raise ValidationError(
            f"field 'total_tokens': {given_total} is not input + cache_read + cache_write + "
            f"output ({total})"
        )
    rec["total_tokens"] = total
    return rec


def _money(fields: Mapping[str, Any], default_currency: str) -> Record:
    """``cost`` (as given, or ``None``) and its ``currency`` (an ISO code)."""
    cost = _as_optional_number("cost", fields.get("cost"))
    currency = fields.get("currency")
    if currency is None:
        currency = default_currency
    if not isinstance(currency, str) or not _CURRENCY_RE.match(currency.upper()):
        raise _field_error("currency", "an ISO 4217 code such as USD", currency)
    return {"cost": cost, "currency": currency.upper()}


def _outcome(fields: Mapping[str, Any], *, failed: bool) -> Record:
    """``success`` (false by default when there is an error message) and ``status_code``."""
    success = fields.get("success")
    if success is None:
        success = not failed
    if not isinstance(success, bool):
        raise _field_error("success", "true or false", success)
    status = fields.get("status_code")
    if status is not None and (type(status) is not int or not MIN_STATUS <= status <= MAX_STATUS):
        raise _field_error("status_code", "an HTTP status 100–599", status)
    return {"success": success, "status_code": status}


def _labels(fields: Mapping[str, Any]) -> Record:
    """The masked ``api_key`` and the ``tags`` (string → string)."""
    key = fields.get("api_key")
    if key is not None and not isinstance(key, str):
        raise _field_error("api_key", "a string", key)
    tags = fields.get("tags") or {}
    if not isinstance(tags, Mapping) or not all(
        isinstance(k, str) and isinstance(val, str) for k, val in tags.items()
    ):
        raise _field_error("tags", "an object of string → string", tags)
    return {"api_key": mask_api_key(key) if key else None, "tags": dict(tags) or None}


def _counter(fields: Mapping[str, Any]) -> Record:
    """A counter record's ``key`` and ``n``."""
    counter_key = fields.get("key")
    if not isinstance(counter_key, str) or not counter_key:
        raise _field_error("key", "a non-empty counter name", counter_key)
    n = fields.get("n", 1)
    if type(n) is not int or abs(n) > MAX_COUNTER_STEP:
        raise _field_error("n", "an integer from -2^53 to 2^53", n)
    return {"key": counter_key, "n": n}


def ordered(rec: Record) -> Record:
    """A built record with its fields back in :data:`FIELD_ORDER` (after pricing filled
    some in), ``None`` optional fields left out."""
    return {
        k: rec[k] for k in FIELD_ORDER if k in rec and (rec[k] is not None or k in ALWAYS_WRITTEN)
    }


def serialize(rec: Record) -> bytes:
    """One JSONL line for ``rec``, newline included. A record read from a file may hold
    what orjson does not write (members nested more than 254 deep, integers beyond 64
    bits): msgspec writes those."""
    try:
        return orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return msgspec.json.encode(rec) + b"\n"


def counter_ok(key: Any, n: Any) -> bool:
    """Whether a counter record's ``key`` (a non-empty name) and ``n`` (an integer within
    the bounds) can be counted."""
    return type(key) is str and key != "" and type(n) is int and abs(n) <= MAX_COUNTER_STEP


def check_read(obj: Any) -> str | None:
    """Why a decoded line is not a readable record, or ``None`` when it is one.

    Tolerant: unknown fields are ignored and optional ones may be missing (seed-003 records
    have neither ``v`` nor ``id``). Rejected: a non-object, a ``timestamp`` missing or
    outside the bounds, a ``kind`` other than call or counter, a missing ``model`` on a
    call, a counter without a key or a whole ``n``, token counts, cost or durations of the
    wrong type or outside the bounds (README "The record": bounds).
    """
    if not isinstance(obj, dict):
        return "not a JSON object"
    ts = obj.get("timestamp")
    if not is_number(ts):
        return "timestamp missing or not epoch seconds"
    if not timestamp_ok(ts):
        return f"timestamp is not {TIMESTAMP_RULE}"
    kind = obj.get("kind", "call")
    if kind == "call":
        model = obj.get("model")
        if not isinstance(model, str) or not model:
            return "model missing or not a string"
    elif kind != "counter":
        return "kind is not call or counter"
    elif not counter_ok(obj.get("key"), obj.get("n", 1)):
        return "counter without a key name or a whole n within ±2^53"
    return _bad_number(obj) or _bad_shape(obj)


def _bad_number(obj: dict[str, Any]) -> str | None:
    """Why a record's counts, cost or durations are not readable, or ``None``."""
    for name in (*TOKEN_FIELDS, "cache_write_1h_tokens"):
        value = obj.get(name, 0)
        if value is None:
            continue
        if type(value) is not int or value < 0:
            return f"{name} is not an integer ≥ 0"
        if value > MAX_TOKENS:
            return f"{name} is beyond 2^53"
    for name, maximum in _MAXIMUM.items():
        value = obj.get(name)
        if value is None:
            continue
        if not is_number(value) or value < 0:
            return f"{name} is not a number ≥ 0"
        if not amount_ok(value, maximum):
            return f"{name} is beyond {shown(maximum)}"
    return None


def _bad_shape(obj: dict[str, Any]) -> str | None:
    """Why a record's ``success``, ``currency`` or ``tags`` are not readable, or ``None``."""
    if not isinstance(obj.get("success", True), bool):
        return "success is not true or false"
    currency = obj.get("currency")
    if currency is not None and not isinstance(currency, str):
        return "currency is not a string"
    tags = obj.get("tags")
    if tags is not None and not isinstance(tags, dict):
        return "tags is not an object"
    return None
