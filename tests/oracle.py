"""An independent reading of a data dir for tests: a plain loop over ``json.loads``, with
hand-copied prices and rates, sharing no code with aiusage."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
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
