from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from aiusage.errors import PricingError
from aiusage.pricing.cost import TokenCounts
from aiusage.pricing.table import load_table, packaged_table_text


@pytest.fixture(scope="module")
def table():  # type: ignore[no-untyped-def]
    return load_table()


def test_packaged_table_ships_inside_the_package() -> None:
    where, text = packaged_table_text()
    assert "models:" in text
    assert Path(where).name == "pricing.yaml"


@pytest.mark.parametrize(
    ("model", "entry", "rule"),
    [
        ("gpt-4o", "gpt-4o", "exact"),
        ("gpt-4o-mini", "gpt-4o-mini", "exact"),
        ("GPT-4o", "gpt-4o", "case"),
        ("openai/gpt-4o-mini", "gpt-4o-mini", "provider prefix"),
        ("gpt-4o-2024-08-06", "gpt-4o", "date suffix"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", "date suffix"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4", "date suffix"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku", "date suffix"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku", "alias"),
        ("anthropic/claude-opus-4-20250514", "claude-opus-4", "date suffix"),
        ("dashscope/qwen-plus", "qwen-plus", "provider prefix"),
        ("mistral/mistral-small-latest", "mistral-small-latest", "provider prefix"),
    ],
)
def test_lookup_rules(table, model: str, entry: str, rule: str) -> None:  # type: ignore[no-untyped-def]
    res = table.resolve(model)
    assert res.price is not None
    assert res.price.name == entry
    assert res.rule == rule


@pytest.mark.parametrize(
    "model", ["gpt-4o-mini-extra", "gpt", "4o", "my-gpt-4o", "claude", "unknown-model"]
)
def test_no_fuzzy_matching(table, model: str) -> None:  # type: ignore[no-untyped-def]
    assert table.lookup(model) is None
    assert table.resolve(model).rule == "unknown"


def test_seed_prices_and_currencies(table) -> None:  # type: ignore[no-untyped-def]
    gpt4 = table.lookup("gpt-4")
    assert (gpt4.input, gpt4.output, gpt4.currency) == (Decimal(30), Decimal(60), "USD")
    qwen = table.lookup("qwen-plus")
    assert (qwen.input, qwen.output, qwen.currency) == (Decimal("0.4"), Decimal(2), "CNY")
    for name in [
        "gpt-4-32k",
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-16k",
        "claude-3-opus",
        "claude-3-sonnet",
        "claude-3-haiku",
        "gemini-pro",
        "qwen-turbo",
        "qwen-max",
    ]:
        assert table.lookup(name) is not None, name


def test_main_providers_are_covered(table) -> None:  # type: ignore[no-untyped-def]
    providers = {p.provider for p in table.prices.values()}
    assert {"openai", "anthropic", "google", "deepseek", "mistral", "qwen"} <= providers


def test_cost_formula(table) -> None:  # type: ignore[no-untyped-def]
    # PRICING_NOTES worked example without the 1-hour split: 50 in, 100k cache read,
    # 556 cache write (5m), 503 out on claude-sonnet-4-5.
    cost = table.lookup("claude-sonnet-4-5").cost(
        TokenCounts(input=50, cache_read=100_000, cache_write=556, output=503)
    )
    # 50×3 + 100000×0.30 + 556×3.75 + 503×15 = 39,780 per 1M
    assert cost == Decimal("0.03978")
    # An absent cache price bills cached tokens as input.
    assert table.lookup("qwen-plus").cost(TokenCounts(cache_read=1_000_000)) == Decimal("0.4")


def test_user_overrides_and_extends(tmp_path: Path) -> None:
    (tmp_path / "pricing.yaml").write_text(
        "models:\n  gpt-4o: {output: 12}\n  my-private-llm: {input: 1, output: 2, currency: EUR}\n"
        "fx: {EUR: 0.5}\n"
    )
    table = load_table(data_dir=tmp_path)
    assert table.lookup("gpt-4o").output == Decimal(12)
    assert table.lookup("gpt-4o").input == Decimal("2.50")
    assert table.lookup("my-private-llm").currency == "EUR"
    assert table.rate("EUR", "USD") == 2
    extra = tmp_path / "extra.yaml"
    extra.write_text("models:\n  gpt-4o: {output: 13}\n")
    assert load_table(data_dir=tmp_path, extra=extra).lookup("gpt-4o").output == Decimal(13)
    assert load_table().version != table.version


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("models:\n  m: {input: 1}\n", "model 'm': missing field 'output'"),
        ("models:\n  m: {input: -1, output: 1}\n", "model 'm': field 'input'"),
        ("models:\n  m: {input: x, output: 1}\n", "model 'm': field 'input'"),
        ("models:\n  m: {input: 1, output: 1, colour: red}\n", "unknown field 'colour'"),
        ("models:\n  m: {input: 1, output: 1, currency: usd}\n", "field 'currency'"),
        ("models: [1, 2]\n", "'models' must be a mapping"),
        ("models:\n  m: {input: 1\n", "line"),
        ("fx: {EUR: 0}\n", "fx rate for EUR"),
        ("prices: {}\n", "unknown top-level key 'prices'"),
    ],
)
def test_bad_pricing_files_name_the_problem(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml_text)
    with pytest.raises(PricingError, match=message):
        load_table(extra=path)


def test_missing_rate_is_an_error(table) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PricingError, match="no exchange rate for XYZ"):
        table.rate("XYZ", "USD")


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("models: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(PricingError):
        load_table(extra=path)
