"""Turning a provider's response into usage: model, provider, token counts normalised as
SPEC.md §1 says (``input_tokens`` excludes cache reads and writes; ``output_tokens``
includes reasoning), and the provider's request id.

Works on dicts (parsed JSON) and on SDK objects (attribute access, pydantic models).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Usage:
    """Normalised usage of one call."""

    model: str | None = None
    provider: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    request_id: str | None = None

    def fields(self) -> dict[str, Any]:
        """The record fields this usage fills (``None`` values left out)."""
        out = {
            "model": self.model,
            "provider": self.provider,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "request_id": self.request_id,
        }
        return {k: v for k, v in out.items() if v is not None}


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return max(int(value), 0)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def usage_from_response(response: Any, *, provider: str | None = None) -> Usage | None:
    """The usage carried by ``response`` (OpenAI Chat Completions or Responses, Anthropic
    Messages), or ``None`` when it carries none. Never raises."""
    try:
        return _extract(response, provider)
    except Exception:  # a foreign object may raise from any attribute access
        return None


def _extract(response: Any, provider: str | None) -> Usage | None:
    usage = _get(response, "usage")
    if usage is None:
        return None
    model = _text(_get(response, "model"))
    request_id = _text(_get(response, "id"))
    if _get(usage, "prompt_tokens") is not None:
        # OpenAI Chat Completions: prompt_tokens includes cached tokens.
        prompt = _count(_get(usage, "prompt_tokens"))
        cached = _count(_get(_get(usage, "prompt_tokens_details"), "cached_tokens"))
        output = _count(_get(usage, "completion_tokens"))
        reasoning = _count(_get(_get(usage, "completion_tokens_details"), "reasoning_tokens"))
        return Usage(
            model=model,
            provider=provider or "openai",
            input_tokens=max(prompt - cached, 0),
            cache_read_tokens=min(cached, prompt),
            output_tokens=output,
            reasoning_tokens=min(reasoning, output),
            request_id=request_id,
        )
    if (
        _get(usage, "input_tokens_details") is not None
        or _get(usage, "output_tokens_details") is not None
    ):
        # OpenAI Responses API: input_tokens includes cached tokens.
        prompt = _count(_get(usage, "input_tokens"))
        cached = _count(_get(_get(usage, "input_tokens_details"), "cached_tokens"))
        output = _count(_get(usage, "output_tokens"))
        reasoning = _count(_get(_get(usage, "output_tokens_details"), "reasoning_tokens"))
        return Usage(
            model=model,
            provider=provider or "openai",
            input_tokens=max(prompt - cached, 0),
            cache_read_tokens=min(cached, prompt),
            output_tokens=output,
            reasoning_tokens=min(reasoning, output),
            request_id=request_id,
        )
    if _get(usage, "input_tokens") is not None:
        # Anthropic Messages: input_tokens excludes cache reads and writes.
        return Usage(
            model=model,
            provider=provider or "anthropic",
            input_tokens=_count(_get(usage, "input_tokens")),
            cache_read_tokens=_count(_get(usage, "cache_read_input_tokens")),
            cache_write_tokens=_count(_get(usage, "cache_creation_input_tokens")),
            output_tokens=_count(_get(usage, "output_tokens")),
            request_id=request_id,
        )
    return None
