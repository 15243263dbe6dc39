from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aiusage.pricing.table import load_table

REFERENCE = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "litellm_model_prices.json"
)


@pytest.mark.parametrize(
    ("model", "entry", "rule"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o", "date suffix"),
        ("openai/gpt-4o-mini", "gpt-4o-mini", "provider prefix"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4", "date suffix"),
    ],
)
def test_pricing_show_explains(cli, model: str, entry: str, rule: str) -> None:  # type: ignore[no-untyped-def]
    doc = cli("pricing", "show", model, "--json").json()
    assert doc["schema"] == "aiusage.pricing-show/1"
    assert (doc["entry"]["model"], doc["rule"]) == (entry, rule)
    text = cli("pricing", "show", model).stdout
    assert f"{model} → {entry}" in text


def test_pricing_show_unknown(cli) -> None:  # type: ignore[no-untyped-def]
    doc = cli("pricing", "show", "gpt-4o-minii", "--json").json()
    assert doc["entry"] is None
    assert doc["rule"] == "unknown"
    assert "gpt-4o-mini" in doc["similar"]
    assert "unknown model" in cli("pricing", "show", "my-finetune").stdout


def test_pricing_cost_shows_the_arithmetic(cli) -> None:  # type: ignore[no-untyped-def]
    args = [
        "pricing",
        "cost",
        "claude-sonnet-4-5",
        "--input",
        "50",
        "--cache-read",
        "100000",
        "--cache-write",
        "556",
        "--cache-write-1h",
        "100",
        "--output",
        "503",
    ]
    doc = cli(*args, "--json").json()
    assert doc["exact"] == "0.040005"
    assert [line["item"] for line in doc["lines"]] == [
        "input",
        "cache read",
        "cache write (5m)",
        "cache write (1h)",
        "output",
    ]
    text = cli(*args).stdout
    assert "0.040005" in text
    assert "cache write (1h)" in text
    long = cli(
        "pricing",
        "cost",
        "gemini-2.5-pro",
        "--input",
        "50000",
        "--cache-read",
        "200000",
        "--output",
        "2000",
        "--json",
    ).json()
    assert long["exact"] == "0.205"
    assert "(prompt > 200,000)" in long["lines"][0]["item"]
    assert cli("pricing", "cost", "nope", "--input", "1").exit_code == 2
    assert cli("pricing", "cost", "gpt-4o", "--input", "-1").exit_code == 2


def test_pricing_list_and_check(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = cli("pricing", "list", "--provider", "anthropic", "--json").json()
    assert {m["provider"] for m in doc["models"]} == {"anthropic"}
    assert "claude-sonnet-4-5" in cli("pricing", "list", "--search", "sonnet").stdout
    assert cli("pricing", "check").stdout.startswith("ok: ")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  mine: {input: 1, output: -2}\n")
    result = cli("pricing", "check", bad)
    assert result.exit_code == 2
    assert "model 'mine': field 'output'" in result.stderr


@pytest.mark.skipif(not REFERENCE.is_file(), reason="LiteLLM reference file not beside the project")
def test_pricing_import_from_litellm(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "imported.yaml"
    result = cli(
        "pricing", "import", REFERENCE, "--only", "openai,anthropic,gemini,dashscope", "--out", out
    )
    assert result.exit_code == 0, result.stderr
    doc = yaml.safe_load(out.read_text())
    assert doc["models"]["gpt-4o"]["input"] == 2.5
    assert doc["models"]["claude-sonnet-4-5"]["cache_write_1h"] == 6.0
    assert doc["models"]["gemini-2.5-pro"]["tiers"][0] == {
        "above": 200000,
        "input": 2.5,
        "output": 15.0,
        "cache_read": 0.25,
    }
    assert doc["models"]["qwen3-max"]["tiers"][0]["above"] == 32000
    assert "gemini/gemini-2.5-pro" in doc["models"]["gemini-2.5-pro"]["aliases"]
    table = load_table(extra=out)
    assert table.lookup("gemini/gemini-2.5-pro").name == "gemini-2.5-pro"
    assert cli("pricing", "import", tmp_path / "missing.json").exit_code == 2
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    assert cli("pricing", "import", junk).exit_code == 2
