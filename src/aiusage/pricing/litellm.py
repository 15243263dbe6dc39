"""``aiusage pricing import``: LiteLLM's ``model_prices_and_context_window.json`` (per-token
USD prices) turned into an aiusage ``pricing.yaml`` (per 1M tokens), so prices can be
refreshed offline from a file you trust.

Mapping: ``input_cost_per_token`` → ``input``, ``output_cost_per_token`` → ``output``,
``cache_read_input_token_cost`` (or ``input_cost_per_token_cache_hit``) → ``cache_read``,
``cache_creation_input_token_cost`` → ``cache_write``,
``cache_creation_input_token_cost_above_1hr`` → ``cache_write_1h``,
``output_cost_per_reasoning_token`` → ``reasoning``, ``input_cost_per_request`` →
``per_request``, ``*_above_<N>k_tokens`` and ``tiered_pricing`` → ``tiers``,
``input_cost_per_token_batches`` / ``input_cost_per_token`` → ``batch``. Entries are named
without their provider prefix (the full LiteLLM key becomes an alias); when two providers
list the same name, the first provider in ``only`` (else the first seen) wins. ``only`` takes
LiteLLM's provider names (``gemini``, ``dashscope``) or aiusage's (``google``, ``qwen``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import yaml

from aiusage.errors import UsageError

MODES = frozenset({"chat", "responses", "completion", "embedding"})
PROVIDERS = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "vertex_ai-language-models": "google",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "dashscope": "qwen",
    "xai": "xai",
    "groq": "groq",
    "bedrock": "bedrock",
    "bedrock_converse": "bedrock",
    "azure": "azure",
}
FIELDS = (
    ("input", ("input_cost_per_token",)),
    ("output", ("output_cost_per_token",)),
    ("cache_read", ("cache_read_input_token_cost", "input_cost_per_token_cache_hit")),
    ("cache_write", ("cache_creation_input_token_cost",)),
    ("cache_write_1h", ("cache_creation_input_token_cost_above_1hr",)),
    ("reasoning", ("output_cost_per_reasoning_token",)),
)
_ABOVE_RE = re.compile(r"^(.*)_above_(\d+)k_tokens$")
_MILLION = Decimal(1_000_000)


def _per_million(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        amount = Decimal(repr(value)) * _MILLION
    except InvalidOperation:
        return None
    return float(amount.normalize()) if amount >= 0 else None


def _rates(raw: Mapping[str, Any], suffix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for name, keys in FIELDS:
        for key in keys:
            value = _per_million(raw.get(key + suffix))
            if value is not None:
                out[name] = value
                break
    return out


def _tiers(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    thresholds = sorted({int(m.group(2)) for k in raw if (m := _ABOVE_RE.match(k))})
    tiers = []
    for n in thresholds:
        rates = _rates(raw, f"_above_{n}k_tokens")
        if "input" in rates and "output" in rates:
            tiers.append({"above": n * 1000, **rates})
    return tiers


def _tiered(raw: Mapping[str, Any]) -> tuple[dict[str, float], list[dict[str, Any]]] | None:
    """LiteLLM ``tiered_pricing`` ranges: the first becomes the base rates, the others tiers."""
    ranges = raw.get("tiered_pricing")
    if not isinstance(ranges, list) or not ranges:
        return None
    parsed = []
    for item in ranges:
        if not isinstance(item, Mapping):
            return None
        bounds = item.get("range")
        rates = _rates(item)
        if not isinstance(bounds, list) or len(bounds) != 2 or {"input", "output"} - set(rates):
            return None
        parsed.append((int(bounds[0]), rates))
    parsed.sort(key=lambda p: p[0])
    base = parsed[0][1]
    return base, [{"above": lo, **rates} for lo, rates in parsed[1:]]


def _entry(key: str, raw: Mapping[str, Any], provider: str) -> dict[str, Any] | None:
    """The aiusage entry of one LiteLLM model, or ``None`` when it has no usable rates."""
    base = _rates(raw)
    tiers = _tiers(raw)
    if {"input", "output"} - set(base):
        tiered = _tiered(raw)
        if tiered is None:
            return None
        base, tiers = tiered
    entry: dict[str, Any] = {"provider": provider, **base}
    if tiers:
        entry["tiers"] = tiers
    per_request = raw.get("input_cost_per_request")
    if (
        isinstance(per_request, int | float)
        and not isinstance(per_request, bool)
        and per_request > 0
    ):
        entry["per_request"] = float(per_request)
    batch_in = raw.get("input_cost_per_token_batches")
    if isinstance(batch_in, int | float) and raw.get("input_cost_per_token"):
        ratio = Decimal(repr(batch_in)) / Decimal(repr(raw["input_cost_per_token"]))
        if 0 < ratio <= 1:
            entry["batch"] = float(round(ratio, 4))
    if key != key.rsplit("/", 1)[-1]:
        entry["aliases"] = [key]
    if isinstance(raw.get("source"), str):
        entry["source"] = raw["source"]
    return entry


def convert(
    litellm: Mapping[str, Any], *, only: Sequence[str] | None = None, source: str = "LiteLLM"
) -> dict[str, Any]:
    """An aiusage pricing document from a LiteLLM price map."""
    wanted = [p.strip().lower() for p in only] if only else None
    rank = {p: i for i, p in enumerate(wanted or [])}
    chosen: dict[str, tuple[int, dict[str, Any]]] = {}
    for key, raw in litellm.items():
        if key == "sample_spec" or not isinstance(raw, Mapping) or raw.get("mode") not in MODES:
            continue
        native = str(raw.get("litellm_provider"))
        provider = PROVIDERS.get(native, native)
        if wanted is not None and provider not in wanted and native not in wanted:
            continue
        entry = _entry(key, raw, provider)
        if entry is None:
            continue
        name = key.rsplit("/", 1)[-1]
        order = min(rank.get(provider, len(rank)), rank.get(native, len(rank)))
        previous = chosen.get(name)
        if previous is None or order < previous[0]:
            chosen[name] = (order, entry)
        elif key != name:
            previous[1].setdefault("aliases", []).append(key)
    if not chosen:
        raise UsageError("no chat, completion or embedding prices found for those providers")
    return {
        "version": f"imported from {source}",
        "unit": "per 1M tokens",
        "models": {name: entry for name, (_, entry) in sorted(chosen.items())},
    }


def import_file(raw: bytes, *, only: Sequence[str] | None = None, source: str = "LiteLLM") -> str:
    """The YAML text of :func:`convert` for a LiteLLM JSON file's bytes."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"not a LiteLLM price file: {exc}") from None
    if not isinstance(data, Mapping):
        raise UsageError("not a LiteLLM price file: expected a JSON object of models")
    doc = convert(data, only=only, source=source)
    header = (
        f"# aiusage pricing table imported from {source} (LiteLLM's model price map, MIT-licensed\n"
        "# data). Prices per 1M tokens. Check it with `aiusage pricing check FILE`.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
