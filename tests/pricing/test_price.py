"""Every pricing feature against hand-computed costs, and the shipped table against LiteLLM."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiusage.errors import PricingError
from aiusage.pricing.cost import TokenCounts
from aiusage.pricing.table import load_table

REFERENCE = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "litellm_model_prices.json"
)

TABLE_YAML = """
models:
  flat: {input: 2, output: 8}
  cached: {input: 2, output: 8, cache_read: 0.5, cache_write: 2.5, cache_write_1h: 4}
  uncached: {input: 2, output: 8}
  thinking: {input: 1, output: 4, reasoning: 10}
  long: {input: 1.25, output: 10, cache_read: 0.125, tiers: [{above: 200000, input: 2.5, output: 15, cache_read: 0.25}]}
  stepped:
    input: 1.2
    output: 6
    tiers:
      - {above: 32000, input: 2.4, output: 12}
      - {above: 128000, input: 3, output: 15}
  fee: {input: 1, output: 1, per_request: 0.005}
  half: {input: 2, output: 8, batch: 0.5}
  yuan: {input: 0.4, output: 2, currency: CNY}
accounts:
  users:
    vip: {multiplier: 0.8}
    intern: {free: true}
  keys:
    "sk-…9f3a": {multiplier: 1.2}
"""


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("p") / "prices.yaml"
    path.write_text(TABLE_YAML)
    return load_table(extra=path)


# (model, usage, expected cost computed by hand, per 1M tokens)
CASES = [
    (
        "flat",
        {"input_tokens": 1000, "output_tokens": 500},
        "(1000×2 + 500×8) / 1e6",
        Decimal("0.006"),
    ),
    (
        "cached",
        {
            "input_tokens": 100,
            "cache_read_tokens": 10000,
            "cache_write_tokens": 3000,
            "cache_write_1h_tokens": 1000,
            "output_tokens": 10,
        },
        "100×2 + 10000×0.5 + 2000×2.5 + 1000×4 + 10×8",
        Decimal("0.01428"),
    ),
    (
        "uncached",
        {"input_tokens": 100, "cache_read_tokens": 1000, "cache_write_tokens": 1000},
        "cache billed as input: 2100×2",
        Decimal("0.0042"),
    ),
    (
        "thinking",
        {"input_tokens": 100, "output_tokens": 1000, "reasoning_tokens": 600},
        "100×1 + 400×4 + 600×10",
        Decimal("0.0077"),
    ),
    (
        "flat",
        {"output_tokens": 1000, "reasoning_tokens": 600},
        "no reasoning price: all output at 8",
        Decimal("0.008"),
    ),
    (
        "long",
        {"input_tokens": 50000, "cache_read_tokens": 150000, "output_tokens": 1000},
        "200,000 is not above 200k: 50000×1.25 + 150000×0.125 + 1000×10",
        Decimal("0.09125"),
    ),
    (
        "long",
        {"input_tokens": 50000, "cache_read_tokens": 200000, "output_tokens": 2000},
        "whole call at >200k: 50000×2.5 + 200000×0.25 + 2000×15",
        Decimal("0.205"),
    ),
    (
        "stepped",
        {"input_tokens": 32000, "output_tokens": 1000},
        "≤32k: 32000×1.2 + 1000×6",
        Decimal("0.0444"),
    ),
    (
        "stepped",
        {"input_tokens": 32001, "output_tokens": 1000},
        ">32k: 32001×2.4 + 1000×12",
        Decimal("0.0888024"),
    ),
    (
        "stepped",
        {"input_tokens": 200000, "output_tokens": 1000},
        ">128k: 200000×3 + 1000×15",
        Decimal("0.615"),
    ),
    (
        "fee",
        {"input_tokens": 1000, "output_tokens": 1000},
        "2000×1 + 0.005 per request",
        Decimal("0.007"),
    ),
    (
        "fee",
        {"input_tokens": 1000, "success": False},
        "failed calls pay no request fee",
        Decimal("0.001"),
    ),
    (
        "half",
        {"input_tokens": 1000, "output_tokens": 1000, "batch": True},
        "(1000×2 + 1000×8) × 0.5",
        Decimal("0.005"),
    ),
    (
        "half",
        {"input_tokens": 1000, "output_tokens": 1000},
        "not a batch call: full price",
        Decimal("0.01"),
    ),
]


@pytest.mark.parametrize(("model", "usage", "why", "expected"), CASES)
def test_costs_by_hand(
    table: Any, model: str, usage: dict[str, Any], why: str, expected: Decimal
) -> None:
    counts, success, batch = _call(usage)
    assert table.lookup(model).cost(counts, success=success, batch=batch) == expected, why


def _call(usage: dict[str, Any]) -> tuple[TokenCounts, bool, bool]:
    """A case's usage keywords as (counts, success, batch)."""
    counts = {k.removesuffix("_tokens"): v for k, v in usage.items() if k.endswith("_tokens")}
    return TokenCounts(**counts), usage.get("success", True), usage.get("batch", False)


def test_currency_and_accounts(table: Any) -> None:
    assert table.lookup("yuan").currency == "CNY"
    assert table.account_factor("vip", None) == Decimal("0.8")
    assert table.account_factor("intern", "sk-…9f3a") == 0  # the user's setting wins
    assert table.account_factor("someone", "sk-…9f3a") == Decimal("1.2")
    assert table.account_factor("someone", "sk-…other") is None


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "models:\n  m: {input: 1, output: 1, tiers: [{above: 10, input: 1}]}\n",
            "model 'm': tiers[0]: missing field 'output'",
        ),
        (
            "models:\n  m: {input: 1, output: 1, tiers: [{above: -1, input: 1, output: 1}]}\n",
            "tiers[0]: 'above'",
        ),
        (
            "models:\n  m: {input: 1, output: 1, tiers: {above: 1}}\n",
            "field 'tiers' must be a list",
        ),
        ("models:\n  m: {input: 1, output: 1, batch: 2}\n", "field 'batch' is a multiplier"),
        ("models:\n  m: {input: 1, output: 1, per_request: -1}\n", "field 'per_request'"),
        ("models:\n  m: {input: 1, output: 1, reasoning: x}\n", "field 'reasoning'"),
        ("accounts: {users: {a: {multiplier: -1}}}\n", "accounts.users.a"),
        ("accounts: {users: {a: {discount: 1}}}\n", "multiplier: X or free: true"),
        ("accounts: {teams: {}}\n", "'users' and 'keys' only"),
    ],
)
def test_schema_errors_name_model_and_field(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(PricingError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_table(extra=path)


# Shipped entry → LiteLLM key holding the same list prices (USD per token).
LITELLM_KEYS = {
    "gpt-4o": "gpt-4o",
    "gpt-4o-mini": "gpt-4o-mini",
    "gpt-4.1": "gpt-4.1",
    "gpt-4.1-mini": "gpt-4.1-mini",
    "gpt-4.1-nano": "gpt-4.1-nano",
    "gpt-5": "gpt-5",
    "gpt-5-mini": "gpt-5-mini",
    "gpt-5-nano": "gpt-5-nano",
    "gpt-5.1": "gpt-5.1",
    "gpt-5.2": "gpt-5.2",
    "gpt-5.4": "gpt-5.4",
    "gpt-5.5": "gpt-5.5",
    "o1": "o1",
    "o3": "o3",
    "o3-mini": "o3-mini",
    "o4-mini": "o4-mini",
    "o3-pro": "o3-pro",
    "gpt-4-turbo": "gpt-4-turbo",
    "gpt-4": "gpt-4",
    "gpt-3.5-turbo-16k": "gpt-3.5-turbo-16k",
    "gpt-5-codex": "gpt-5-codex",
    "gpt-5.1-codex": "gpt-5.1-codex",
    "text-embedding-3-small": "text-embedding-3-small",
    "text-embedding-3-large": "text-embedding-3-large",
    "claude-opus-4-6": "claude-opus-4-6",
    "claude-opus-4-5": "claude-opus-4-5",
    "claude-sonnet-4-6": "claude-sonnet-4-6",
    "claude-sonnet-4-5": "claude-sonnet-4-5",
    "claude-haiku-4-5": "claude-haiku-4-5",
    "claude-sonnet-4": "anthropic.claude-sonnet-4-20250514-v1:0",
    "claude-opus-4": "anthropic.claude-opus-4-20250514-v1:0",
    "claude-opus-4-1": "anthropic.claude-opus-4-1-20250805-v1:0",
    "claude-3-5-haiku": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "claude-3-7-sonnet": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "claude-3-opus": "anthropic.claude-3-opus-20240229-v1:0",
    "gemini-2.5-pro": "gemini/gemini-2.5-pro",
    "gemini-2.5-flash": "gemini/gemini-2.5-flash",
    "gemini-2.5-flash-lite": "gemini/gemini-2.5-flash-lite",
    "gemini-3.1-pro-preview": "gemini/gemini-3.1-pro-preview",
    "gemini-3.5-flash": "gemini/gemini-3.5-flash",
    "deepseek-chat": "deepseek-chat",
    "deepseek-reasoner": "deepseek-reasoner",
    "deepseek-v4-flash": "deepseek/deepseek-v4-flash",
    "deepseek-v4-pro": "deepseek/deepseek-v4-pro",
    "mistral-large-latest": "mistral/mistral-large-latest",
    "mistral-medium-latest": "mistral/mistral-medium-latest",
    "mistral-small-latest": "mistral/mistral-small-latest",
    "codestral-latest": "mistral/codestral-latest",
}


def _per_million(value: float | None) -> Decimal | None:
    return None if value is None else (Decimal(repr(value)) * 1_000_000).normalize()


@pytest.mark.skipif(not REFERENCE.is_file(), reason="LiteLLM reference file not beside the project")
def test_shipped_prices_match_litellm() -> None:
    reference = json.loads(REFERENCE.read_text())
    table = load_table()
    assert len(LITELLM_KEYS) >= 30
    for name, key in LITELLM_KEYS.items():
        ours, theirs = table.prices[name], reference[key]
        assert ours.input == _per_million(theirs["input_cost_per_token"]), name
        assert ours.output == _per_million(theirs["output_cost_per_token"]), name
        assert ours.cache_read == _per_million(theirs.get("cache_read_input_token_cost")), name
        assert ours.cache_write == _per_million(theirs.get("cache_creation_input_token_cost")), name
        for tier in ours.tiers:
            suffix = f"_above_{tier.above // 1000}k_tokens"
            if "input_cost_per_token" + suffix in theirs:
                assert tier.rates.input == _per_million(theirs["input_cost_per_token" + suffix]), (
                    name
                )
                assert tier.rates.output == _per_million(
                    theirs["output_cost_per_token" + suffix]
                ), name


def test_retired_models_still_priced() -> None:
    table = load_table()
    for model in [
        "gpt-4",
        "gpt-3.5-turbo",
        "claude-3-opus",
        "claude-3-opus-20240229",
        "claude-3-5-haiku-20241022",
        "claude-sonnet-4-20250514",
        "claude-opus-4-20250514",
        "claude-3-haiku-20240307",
    ]:
        assert table.lookup(model) is not None, model


_rates = st.decimals(min_value=0, max_value=200, places=7, allow_nan=False, allow_infinity=False)


@settings(max_examples=300)
@given(
    st.fixed_dictionaries(
        {"input": _rates, "output": _rates},
        optional={
            "cache_read": _rates,
            "cache_write": _rates,
            "cache_write_1h": _rates,
            "reasoning": _rates,
            "per_request": _rates,
            "batch": st.sampled_from(["0.5", "0.25"]),
        },
    ),
    st.lists(st.integers(0, 10**9), min_size=6, max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_integer_picos_equal_the_decimal_cost(
    raw: dict[str, Any], tokens: list[int], success: bool, batch: bool
) -> None:
    from aiusage.pricing.price import parse_entry
    from aiusage.pricing.table import to_float

    entry = parse_entry("m", {k: str(v) for k, v in raw.items()})
    usage = {
        "input_tokens": tokens[0], "output_tokens": tokens[1], "cache_read_tokens": tokens[2],
        "cache_write_tokens": tokens[3], "cache_write_1h_tokens": min(tokens[4], tokens[3]),
        "reasoning_tokens": min(tokens[5], tokens[1]), "success": success, "batch": batch,
    }  # fmt: skip
    counts, success, batch = _call(usage)
    exact = entry.cost(counts, success=success, batch=batch)
    picos = entry.picos(counts, success=success, batch=batch)
    assert picos == (exact * 10**12).to_integral_value()  # rounded half to even
    if Decimal(picos).scaleb(-12) != exact:  # a rate finer than a pico per token
        assert (
            any(
                Decimal(str(v)).scaleb(6) != Decimal(str(v)).scaleb(6).to_integral_value()
                for v in raw.values()
            )
            or batch
        )
    else:
        assert picos / 10**12 == to_float(exact)
