"""An independent reading of a data dir for tests: a plain loop over ``json.loads``, with
hand-copied prices and rates, sharing no code with aiusage."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
from fractions import Fraction
from pathlib import Path
from typing import Any

from conftest import call, write_jsonl

# Prices per 1M (input, output, cache_read, provider); CNY per USD.
PRICES = {"gpt-4o": (2.5, 10.0, 1.25, "openai"), "claude-haiku-4-5": (1.0, 5.0, 0.10, "anthropic")}
CNY_PER_USD = 7.10


def load(directory: Path) -> list[dict[str, Any]]:
    """Every valid call record of the data dir (plain files only)."""
    out = []
    for path in sorted(directory.glob("usage_*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(rec, dict) or rec.get("kind", "call") != "call":
                continue
            if any(
                not isinstance(rec.get(k, 0), int) or rec.get(k, 0) < 0
                for k in (
                    "input_tokens",
                    "output_tokens",
                    "cache_read_tokens",
                    "cache_write_tokens",
                )
            ):
                continue
            out.append(rec)
    return out


def cost_usd(rec: dict[str, Any]) -> float:
    if rec.get("cost") is not None:
        return rec["cost"] / CNY_PER_USD if rec.get("currency") == "CNY" else rec["cost"]
    if rec["model"] in PRICES:
        p_in, p_out, p_cr, _ = PRICES[rec["model"]]
        return (
            rec.get("input_tokens", 0) * p_in
            + rec.get("output_tokens", 0) * p_out
            + rec.get("cache_read_tokens", 0) * p_cr
        ) / 1e6
    return 0.0


def tokens(rec: dict[str, Any]) -> int:
    return sum(
        rec.get(k, 0)
        for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    )


def make_records(seed: int, n: int, start: float, end: float) -> list[dict[str, Any]]:
    """Random records with failures, cache tokens, USD and CNY costs, priced-at-read and
    unpriced models, sessions and keys."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ts = rng.uniform(start, end)
        kind = rng.random()
        rec: dict[str, Any] = call(
            ts,
            user_id=rng.choice(["ann", "bob", "cy", None]),
            function=rng.choice(["chat", "search", None]),
            session_id=rng.choice(["s1", "s2", "s3"]),
            api_key=rng.choice(["sk-…aaaa", "sk-…bbbb"]),
            input_tokens=rng.randrange(0, 5000),
            output_tokens=rng.randrange(0, 800),
            cache_read_tokens=rng.randrange(0, 3000) if rng.random() < 0.5 else 0,
            tags={"team": rng.choice(["a", "b"])} if rng.random() < 0.7 else {},
            success=rng.random() > 0.1,
            duration_ms=round(rng.uniform(50, 5000), 1),
        )
        if kind < 0.35:
            rec["model"] = rng.choice(list(PRICES))
        elif kind < 0.6:
            rec.update(
                model="qwen-plus",
                provider="qwen",
                cost=round(rng.uniform(0, 0.5), 6),
                currency="CNY",
            )
        elif kind < 0.65:
            rec.update(model="secret-llm", cost=None)
        else:
            rec.update(
                model="gpt-4o-mini",
                provider="openai",
                cost=round(rng.uniform(0, 0.01), 8),
                currency="USD",
            )
        out.append(rec)
    return out


def write_store(directory: Path, records: list[dict[str, Any]]) -> None:
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by_day[dt.datetime.fromtimestamp(rec["timestamp"], dt.UTC).date().isoformat()].append(rec)
    for day, rows in by_day.items():
        write_jsonl(directory / f"usage_{day}.jsonl", rows)


# A pricing table for holding every cost path to the same cost, and its rates copied by hand:
# (input, output, cache_read, cache_write, cache_write_1h, reasoning) per 1M, None = absent;
# tiers (above, input, output, cache_read); per-request fee; batch multiplier; currency.
COST_TABLE_YAML = """
fx: {EUR: 0.5}
models:
  t-flat: {input: 2, output: 8}
  t-cached: {input: 3, output: 15, cache_read: 0.3, cache_write: 3.75, cache_write_1h: 6}
  t-thinking: {input: 1, output: 4, reasoning: 10, per_request: 0.005}
  t-long:
    input: 1.25
    output: 10
    cache_read: 0.125
    tiers: [{above: 2000, input: 2.5, output: 15, cache_read: 0.25}]
  t-half: {input: 2, output: 8, cache_write: 2.5, batch: 0.5}
  t-euro: {input: 3, output: 12, currency: EUR}
  t-fine: {input: 0.1234567, output: 0.7654321}
"""
F = Fraction
COST_TABLE: dict[str, dict[str, Any]] = {
    "t-flat": {"rates": (F(2), F(8), None, None, None, None)},
    "t-cached": {"rates": (F(3), F(15), F("0.3"), F("3.75"), F(6), None)},
    "t-thinking": {"rates": (F(1), F(4), None, None, None, F(10)), "fee": F("0.005")},
    "t-long": {
        "rates": (F("1.25"), F(10), F("0.125"), None, None, None),
        "tiers": [(2000, F("2.5"), F(15), F("0.25"))],
    },
    "t-half": {"rates": (F(2), F(8), None, F("2.5"), None, None), "batch": F("0.5")},
    "t-euro": {"rates": (F(3), F(12), None, None, None, None), "currency": "EUR"},
    "t-fine": {"rates": (F("0.1234567"), F("0.7654321"), None, None, None, None)},
}
USD_PER = {"USD": F(1), "EUR": F(2)}


def exact_cost(rec: dict[str, Any]) -> Fraction | None:
    """A call's exact cost in its entry's currency at COST_TABLE's rates (README "Pricing"),
    or ``None`` for a model the table does not know."""
    entry = COST_TABLE.get(rec["model"])
    if entry is None:
        return None
    n = {k: rec.get(f"{k}_tokens") or 0 for k in ("input", "output", "cache_read", "cache_write")}
    one_hour = rec.get("cache_write_1h_tokens") or 0
    inp, out, read, write, write_1h, reasoning_rate = entry["rates"]
    prompt = n["input"] + n["cache_read"] + n["cache_write"]
    for above, t_in, t_out, t_read in entry.get("tiers", []):
        if prompt > above:
            inp, out, read = t_in, t_out, t_read
    read = inp if read is None else read
    write = inp if write is None else write
    write_1h = write if write_1h is None else write_1h
    reasoning = (rec.get("reasoning_tokens") or 0) if reasoning_rate is not None else 0
    total = (
        n["input"] * inp
        + n["cache_read"] * read
        + (n["cache_write"] - one_hour) * write
        + one_hour * write_1h
        + (n["output"] - reasoning) * out
        + reasoning * (reasoning_rate or 0)
    ) / 1_000_000
    if rec.get("service_tier") == "batch" and "batch" in entry:
        total *= entry["batch"]
    if rec.get("success", True) and "fee" in entry:
        total += entry["fee"]
    return total


def record_cost(rec: dict[str, Any], *, current: bool) -> tuple[int | None, str]:
    """What a record costs (whole picos, half to even; ``None``: unpriced) and in which
    currency: its recorded cost stands unless ``current`` re-prices a known model."""
    exact = exact_cost(rec)
    entry = COST_TABLE.get(rec["model"], {})
    if exact is not None and (rec.get("cost") is None or current):
        return round(exact * 10**12), entry.get("currency", "USD")
    currency = rec.get("currency") or entry.get("currency", "USD")
    return (None if rec.get("cost") is None else round(rec["cost"] * 10**12)), currency
