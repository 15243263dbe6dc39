"""Turning a provider's response into usage, normalised as README: The record says: ``input_tokens``
excludes cache reads and writes, ``output_tokens`` includes reasoning, so that
``input + cache_read + cache_write`` is the provider's whole prompt (OpenTelemetry's
``gen_ai.usage.input_tokens``).

Recognised shapes (dicts from JSON, or SDK objects with attributes, pydantic models included):

========================  =================================================================
OpenAI Chat Completions   ``prompt_tokens`` *includes* ``prompt_tokens_details.cached_tokens``
(and compatible: Azure,   (and cache writes); DeepSeek's ``prompt_cache_hit_tokens``; xAI's
DeepSeek, Qwen, Mistral,  ``reasoning_tokens`` outside ``completion_tokens`` are added back
Groq, vLLM, embeddings)   when ``total = prompt + completion + reasoning``
OpenAI Responses API      ``input_tokens`` *includes* ``input_tokens_details.cached_tokens``
Anthropic Messages        ``input_tokens`` *excludes* ``cache_read_input_tokens`` and
                          ``cache_creation_input_tokens`` (split 5 m / 1 h in
                          ``cache_creation``)
Google Gemini             ``promptTokenCount`` *includes* ``cachedContentTokenCount``;
                          ``toolUsePromptTokenCount`` is input; ``thoughtsTokenCount`` is
                          added to ``candidatesTokenCount``
AWS Bedrock Converse      ``inputTokens`` *excludes* ``cacheReadInputTokens`` and
                          ``cacheWriteInputTokens``; no model id in the body
DashScope (native)        ``input_tokens`` includes ``prompt_tokens_details.cached_tokens``;
                          no model id in the body
Ollama                    ``prompt_eval_count``, ``eval_count``; durations in nanoseconds
Error bodies              OpenAI/Gemini ``{"error": {...}}``, Anthropic ``{"type": "error"}``:
                          a failed call with the provider's message and status code
========================  =================================================================

Anything else goes to the fallback (seed 001's parser): ``*tokens*`` counts found anywhere in
the JSON, then regular expressions over the text; ``Usage.method`` then says it guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

# Anthropic and OpenAI error types → HTTP status, for bodies that carry no status of their own.
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "api_error": 500,
    "server_error": 500,
    "overloaded_error": 529,
}
GUESSED = ("fallback-json", "fallback-regex")


@dataclass(frozen=True)
class Usage:
    """Normalised usage of one call, and how it was read (``method``)."""

    model: str | None = None
    provider: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    request_id: str | None = None
    duration_ms: float | None = None
    success: bool = True
    error_msg: str | None = None
    status_code: int | None = None
    method: str = "none"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def guessed(self) -> bool:
        """Whether the counts came from the fallback parser."""
        return self.method in GUESSED

    @property
    def prompt_tokens(self) -> int:
        """The whole prompt: plain input, cache reads and cache writes."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    def fields(self) -> dict[str, Any]:
        """The record fields this usage fills (``None`` values left out)."""
        out: dict[str, Any] = {
            "model": self.model,
            "provider": self.provider,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "request_id": self.request_id,
            "duration_ms": self.duration_ms,
        }
        if self.cache_write_1h_tokens:
            out["cache_write_1h_tokens"] = self.cache_write_1h_tokens
        if not self.success:
            out.update(success=False, error_msg=self.error_msg, status_code=self.status_code)
        if self.guessed:
            out["tags"] = {"extract_method": self.method}
        return {k: v for k, v in out.items() if v is not None}


def get(obj: Any, *names: str) -> Any:
    """The first present field of ``obj`` among ``names`` (dict key or attribute)."""
    if obj is None:
        return None
    for name in names:
        if isinstance(obj, Mapping):
            value = obj.get(name)
        else:
            try:
                value = getattr(obj, name, None)
            except Exception:  # a foreign object may raise from any attribute
                value = None
        if value is not None:
            return value
    return None


def count(value: Any) -> int:
    """A token count from anything: non-numbers, NaN and negatives count 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return max(int(value), 0)


def text(value: Any) -> str | None:
    """A non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def usage_from_response(response: Any, *, provider: str | None = None) -> Usage | None:
    """The usage in ``response`` (a provider response, object or JSON, or its text), or
    ``None`` when it holds none. Never raises."""
    try:
        if isinstance(response, bytes | str):
            return _from_text(response, provider)
        usage = _extract(response, provider)
    except Exception:
        return None
    return usage


def _from_text(raw: str | bytes, provider: str | None) -> Usage | None:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _fallback_regex(
            raw if isinstance(raw, str) else raw.decode("utf-8", "replace"), provider
        )
    return _extract(parsed, provider)


def _extract(response: Any, provider: str | None) -> Usage | None:
    error = _error(response)
    if error is not None:
        return replace(error, provider=provider or error.provider)
    for reader in (_gemini, _openai, _anthropic_or_bedrock, _ollama):
        found = reader(response, provider)
        if found is not None:
            return found
    return _fallback_json(response, provider)


def _model_and_id(response: Any) -> tuple[str | None, str | None]:
    model = text(get(response, "model", "modelVersion", "model_version", "modelId"))
    request_id = text(get(response, "id", "responseId", "response_id", "request_id", "requestId"))
    return model, request_id


def _error(response: Any) -> Usage | None:
    """A provider's error body: OpenAI/Gemini ``{"error": {...}}``, Anthropic
    ``{"type": "error", "error": {...}}``."""
    err = get(response, "error")
    if err is None or get(response, "usage") is not None:
        return None
    if isinstance(err, str):
        return Usage(success=False, error_msg=err, method="error")
    message = text(get(err, "message")) or text(get(err, "type")) or "error"
    kind = text(get(err, "type")) or text(get(err, "code")) or text(get(err, "status"))
    status = get(err, "code") if isinstance(get(err, "code"), int) else None
    if status is None and kind is not None:
        status = ERROR_STATUS.get(kind)
    if status is None and kind == "RESOURCE_EXHAUSTED":
        status = 429
    is_anthropic = get(response, "type") == "error"
    error_msg = f"{kind}: {message}" if kind and kind not in message else message
    return Usage(
        provider="anthropic" if is_anthropic else None,
        success=False,
        error_msg=error_msg,
        status_code=status if isinstance(status, int) and 100 <= status <= 599 else None,
        request_id=text(get(response, "request_id")),
        method="error",
    )


def _openai(response: Any, provider: str | None) -> Usage | None:
    usage = get(response, "usage")
    if usage is None:
        return None
    model, request_id = _model_and_id(response)
    prompt_field = get(usage, "prompt_tokens")
    if prompt_field is not None:
        # Chat Completions and compatible APIs: the prompt includes cache reads and writes.
        prompt = count(prompt_field)
        details = get(usage, "prompt_tokens_details")
        cached = count(get(details, "cached_tokens")) or count(
            get(usage, "prompt_cache_hit_tokens")
        )
        written = count(get(details, "cache_write_tokens", "cache_creation_tokens"))
        output = count(get(usage, "completion_tokens"))
        reasoning = count(get(get(usage, "completion_tokens_details"), "reasoning_tokens"))
        if reasoning and count(get(usage, "total_tokens")) == prompt + output + reasoning:
            output += reasoning  # xAI reports reasoning outside completion_tokens
        method = (
            "openai-chat" if get(usage, "completion_tokens") is not None else "openai-embeddings"
        )
        return _split_prompt(
            prompt,
            cached,
            written,
            output,
            reasoning,
            model,
            request_id,
            provider or _guess_provider(model, "openai"),
            method,
        )
    details = get(usage, "input_tokens_details", "prompt_tokens_details")
    if details is not None or get(usage, "output_tokens_details") is not None:
        # Responses API, and DashScope's native body: input_tokens include cached tokens.
        prompt = count(get(usage, "input_tokens"))
        cached = count(get(details, "cached_tokens"))
        written = count(get(details, "cache_write_tokens", "cache_creation_tokens"))
        output = count(get(usage, "output_tokens"))
        reasoning = count(get(get(usage, "output_tokens_details"), "reasoning_tokens"))
        native = get(response, "output") is not None and get(response, "request_id") is not None
        default = "qwen" if native else "openai"
        return _split_prompt(
            prompt,
            cached,
            written,
            output,
            reasoning,
            model,
            request_id,
            provider or _guess_provider(model, default),
            "openai-responses",
        )
    return None


def _split_prompt(
    prompt: int,
    cached: int,
    written: int,
    output: int,
    reasoning: int,
    model: str | None,
    request_id: str | None,
    provider: str | None,
    method: str,
) -> Usage:
    cached = min(cached, prompt)
    written = min(written, prompt - cached)
    return Usage(
        model=model,
        provider=provider,
        input_tokens=prompt - cached - written,
        cache_read_tokens=cached,
        cache_write_tokens=written,
        output_tokens=output,
        reasoning_tokens=min(reasoning, output),
        request_id=request_id,
        method=method,
    )


def _guess_provider(model: str | None, default: str) -> str:
    """The provider of an OpenAI-compatible response, from its model name."""
    name = (model or "").lower()
    for prefix, provider in (
        ("deepseek", "deepseek"),
        ("qwen", "qwen"),
        ("mistral", "mistral"),
        ("codestral", "mistral"),
        ("magistral", "mistral"),
        ("grok", "xai"),
        ("llama", default),
    ):
        if name.startswith(prefix) or f"/{prefix}" in name:
            return provider
    return default


def _anthropic_or_bedrock(response: Any, provider: str | None) -> Usage | None:
    usage = get(response, "usage")
    if usage is None:
        return None
    model, request_id = _model_and_id(response)
    if get(usage, "inputTokens") is not None or get(usage, "outputTokens") is not None:
        # Bedrock Converse: inputTokens exclude cache reads and writes.
        metadata = get(response, "ResponseMetadata")
        return Usage(
            model=model,
            provider=provider or "bedrock",
            input_tokens=count(get(usage, "inputTokens")),
            cache_read_tokens=count(get(usage, "cacheReadInputTokens")),
            cache_write_tokens=count(get(usage, "cacheWriteInputTokens")),
            output_tokens=count(get(usage, "outputTokens")),
            request_id=request_id or text(get(metadata, "RequestId")),
            duration_ms=_number(get(get(response, "metrics"), "latencyMs")),
            method="bedrock-converse",
        )
    if get(usage, "input_tokens") is None and get(usage, "output_tokens") is None:
        return None
    if get(response, "output") is not None and get(response, "request_id") is not None:
        # DashScope's native body (no cache details here): no model id, like Bedrock.
        return Usage(
            model=model,
            provider=provider or "qwen",
            input_tokens=count(get(usage, "input_tokens")),
            output_tokens=count(get(usage, "output_tokens")),
            request_id=text(get(response, "request_id")),
            method="dashscope",
        )
    # Anthropic Messages: input_tokens exclude cache reads and writes.
    creation = get(usage, "cache_creation")
    written = count(get(usage, "cache_creation_input_tokens"))
    one_hour = count(get(creation, "ephemeral_1h_input_tokens"))
    if creation is not None:
        written = max(written, count(get(creation, "ephemeral_5m_input_tokens")) + one_hour)
    return Usage(
        model=model,
        provider=provider or "anthropic",
        input_tokens=count(get(usage, "input_tokens")),
        cache_read_tokens=count(get(usage, "cache_read_input_tokens")),
        cache_write_tokens=written,
        cache_write_1h_tokens=min(one_hour, written),
        output_tokens=count(get(usage, "output_tokens")),
        request_id=request_id,
        method="anthropic",
    )


def _gemini(response: Any, provider: str | None) -> Usage | None:
    meta = get(response, "usageMetadata", "usage_metadata")
    if meta is None:
        return None
    prompt = count(get(meta, "promptTokenCount", "prompt_token_count"))
    cached = min(count(get(meta, "cachedContentTokenCount", "cached_content_token_count")), prompt)
    tool = count(get(meta, "toolUsePromptTokenCount", "tool_use_prompt_token_count"))
    candidates = count(get(meta, "candidatesTokenCount", "candidates_token_count"))
    thoughts = count(get(meta, "thoughtsTokenCount", "thoughts_token_count"))
    model, request_id = _model_and_id(response)
    return Usage(
        model=model,
        provider=provider or "google",
        input_tokens=prompt - cached + tool,
        cache_read_tokens=cached,
        output_tokens=candidates + thoughts,
        reasoning_tokens=thoughts,
        request_id=request_id,
        method="gemini",
    )


def _ollama(response: Any, provider: str | None) -> Usage | None:
    if get(response, "prompt_eval_count") is None and get(response, "eval_count") is None:
        return None
    model, _ = _model_and_id(response)
    total_ns = _number(get(response, "total_duration"))
    return Usage(
        model=model,
        provider=provider or "ollama",
        input_tokens=count(get(response, "prompt_eval_count")),
        output_tokens=count(get(response, "eval_count")),
        duration_ms=None if total_ns is None else total_ns / 1e6,
        method="ollama",
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if value >= 0 else None


_INPUT_KEYS = ("input_tokens", "prompt_tokens", "inputtokens", "prompttokens", "prompt_token_count")
_OUTPUT_KEYS = (
    "output_tokens",
    "completion_tokens",
    "outputtokens",
    "completiontokens",
    "candidates_token_count",
)


def _walk(obj: Any, depth: int = 0) -> list[tuple[str, Any]]:
    """Every (key, value) pair of a JSON tree, up to a sane depth."""
    if depth > 8:
        return []
    pairs: list[tuple[str, Any]] = []
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            pairs.append((str(key), value))
            pairs.extend(_walk(value, depth + 1))
    elif isinstance(obj, list | tuple):
        for item in obj[:50]:
            pairs.extend(_walk(item, depth + 1))
    return pairs


def _fallback_json(response: Any, provider: str | None) -> Usage | None:
    """Seed 001's JSON pass: token counts under any familiar key anywhere in the tree."""
    if hasattr(response, "model_dump") and callable(response.model_dump):
        response = response.model_dump()
    pairs = [(k.lower().replace("-", "_"), v) for k, v in _walk(response)]
    found: dict[str, int] = {}
    for key, value in pairs:
        if "token" not in key or isinstance(value, bool) or not isinstance(value, int):
            continue
        squashed = key.replace("_", "")
        if key in _INPUT_KEYS or squashed in _INPUT_KEYS:
            found.setdefault("input", value)
        elif key in _OUTPUT_KEYS or squashed in _OUTPUT_KEYS:
            found.setdefault("output", value)
    if not found:
        return None
    model = next(
        (
            v
            for k, v in pairs
            if k in ("model", "model_name", "modelid") and isinstance(v, str) and v
        ),
        None,
    )
    return Usage(
        model=model,
        provider=provider,
        input_tokens=count(found.get("input")),
        output_tokens=count(found.get("output")),
        method="fallback-json",
    )


_REGEX = {
    "input": re.compile(r'"?(?:input|prompt)_?tokens"?\s*[:=]\s*(\d+)', re.IGNORECASE),
    "output": re.compile(r'"?(?:output|completion)_?tokens"?\s*[:=]\s*(\d+)', re.IGNORECASE),
    "model": re.compile(r'"?model"?\s*[:=]\s*"([^"]+)"'),
}


def _fallback_regex(raw: str, provider: str | None) -> Usage | None:
    """Seed 001's regex pass over text that is not JSON (logs, truncated bodies)."""
    snippet = raw[:1_000_000]
    inp = _REGEX["input"].search(snippet)
    out = _REGEX["output"].search(snippet)
    if inp is None and out is None:
        return None
    model = _REGEX["model"].search(snippet)
    return Usage(
        model=model.group(1) if model else None,
        provider=provider,
        input_tokens=int(inp.group(1)) if inp else 0,
        output_tokens=int(out.group(1)) if out else 0,
        method="fallback-regex",
    )
