"""One real-shaped payload per provider case (from the providers' documented examples), with
exact expected normalised usage."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aiusage
from aiusage.records.extract import usage_from_response
from aiusage.records.streams import usage_from_events, usage_from_payload
from aiusage.store.dayfiles import iter_lines, list_files

FIXTURES = Path(__file__).parents[1] / "fixtures" / "responses"

# file → (model, provider, input, cache_read, cache_write, cache_write_1h, output, reasoning, request_id, method)
CASES: dict[str, tuple[Any, ...]] = {
    # prompt_tokens includes the 1,920 cached tokens: 2006 − 1920 = 86 plain input.
    "openai_chat.json": (
        "gpt-4o-2024-08-06",
        "openai",
        86,
        1920,
        0,
        0,
        300,
        0,
        "chatcmpl-AbC123",
        "openai-chat",
    ),
    "openai_reasoning.json": (
        "o3-2025-04-16",
        "openai",
        1200,
        0,
        0,
        0,
        900,
        640,
        "chatcmpl-o3",
        "openai-chat",
    ),
    # Responses API input_tokens includes the cached ones too.
    "openai_responses.json": (
        "gpt-5-mini-2025-08-07",
        "openai",
        1104,
        4096,
        0,
        0,
        250,
        128,
        "resp_67ccd2bed1ec8190",
        "openai-responses",
    ),
    "openai_embeddings.json": (
        "text-embedding-3-small",
        "openai",
        8,
        0,
        0,
        0,
        0,
        0,
        None,
        "openai-embeddings",
    ),
    "azure_openai.json": (
        "gpt-4o-2024-08-06",
        "openai",
        476,
        1024,
        0,
        0,
        75,
        0,
        "chatcmpl-azure",
        "openai-chat",
    ),
    "deepseek.json": ("deepseek-chat", "deepseek", 30, 1280, 0, 0, 42, 0, "ds-1", "openai-chat"),
    "qwen_compatible.json": (
        "qwen-plus",
        "qwen",
        971,
        2048,
        0,
        0,
        104,
        0,
        "chatcmpl-qwen",
        "openai-chat",
    ),
    "dashscope_native.json": (
        None,
        "qwen",
        31,
        0,
        0,
        0,
        8,
        0,
        "fa2f3d8e-0b9a-9d33-a5a1-0e1f2f1c3c11",
        "dashscope",
    ),
    "mistral.json": (
        "mistral-small-latest",
        "mistral",
        16,
        0,
        0,
        0,
        34,
        0,
        "cmpl-e5cc70bb",
        "openai-chat",
    ),
    "groq.json": (
        "llama-3.3-70b-versatile",
        "openai",
        24,
        0,
        0,
        0,
        377,
        0,
        "chatcmpl-groq",
        "openai-chat",
    ),
    "vllm.json": (
        "meta-llama/Llama-3.1-8B-Instruct",
        "openai",
        60,
        0,
        0,
        0,
        30,
        0,
        "cmpl-vllm",
        "openai-chat",
    ),
    # xAI: reasoning outside completion_tokens (total = 20 + 10 + 100): added back to output.
    "xai.json": ("grok-3-mini", "xai", 20, 0, 0, 0, 110, 100, "xai-1", "openai-chat"),
    # Anthropic: input_tokens excludes cache; writes split 456 (5 m) + 100 (1 h).
    "anthropic.json": (
        "claude-sonnet-4-5-20250929",
        "anthropic",
        50,
        100000,
        556,
        100,
        503,
        0,
        "msg_01XFDUDYJgAACzvnptvVoYEL",
        "anthropic",
    ),
    # Gemini: promptTokenCount includes the cached 200,000; thoughts are added to candidates.
    "gemini.json": (
        "gemini-2.5-pro",
        "google",
        50000,
        200000,
        0,
        0,
        2000,
        800,
        "mAitaLmkHPPlz7IPvtfUqQ4",
        "gemini",
    ),
    # toolUsePromptTokenCount belongs to input.
    "gemini_tools.json": ("gemini-2.5-flash", "google", 1300, 0, 0, 0, 50, 0, None, "gemini"),
    "bedrock_converse.json": (
        None,
        "bedrock",
        30,
        4000,
        0,
        0,
        628,
        0,
        "5f3c2a1b-1234",
        "bedrock-converse",
    ),
    "ollama.json": ("llama3.2", "ollama", 26, 0, 0, 0, 298, 0, None, "ollama"),
    "unknown_shape.json": ("in-house-7b", None, 120, 0, 0, 0, 30, 0, None, "fallback-json"),
    "unknown_text.txt": ("in-house-7b", None, 812, 0, 0, 0, 97, 0, None, "fallback-regex"),
}


def _load(name: str) -> Any:
    raw = (FIXTURES / name).read_bytes()
    return raw if name.endswith(".txt") else orjson.loads(raw)


def _tuple(u: Any) -> tuple[Any, ...]:
    return (
        u.model,
        u.provider,
        u.input_tokens,
        u.cache_read_tokens,
        u.cache_write_tokens,
        u.cache_write_1h_tokens,
        u.output_tokens,
        u.reasoning_tokens,
        u.request_id,
        u.method,
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture(name: str) -> None:
    usage = usage_from_response(_load(name))
    assert usage is not None
    assert _tuple(usage) == CASES[name]
    assert usage.success


def test_prompt_invariant_matches_provider_total() -> None:
    # input + cache_read + cache_write is the provider's whole prompt (OTel input_tokens).
    assert usage_from_response(_load("openai_chat.json")).prompt_tokens == 2006  # type: ignore[union-attr]
    assert usage_from_response(_load("gemini.json")).prompt_tokens == 250000  # type: ignore[union-attr]
    assert usage_from_response(_load("anthropic.json")).prompt_tokens == 50 + 100000 + 556  # type: ignore[union-attr]


def test_ollama_duration_from_nanoseconds() -> None:
    assert usage_from_response(_load("ollama.json")).duration_ms == pytest.approx(5191.566416)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("openai_429.json", None, "Rate limit reached"),
        ("anthropic_overloaded.json", 529, "overloaded_error: Overloaded"),
        ("anthropic_500.json", 500, "api_error: Internal server error"),
        ("gemini_429.json", 429, "Resource has been exhausted"),
    ],
)
def test_error_bodies(name: str, status: int | None, message: str) -> None:
    usage = usage_from_response(_load(name))
    assert usage is not None
    assert usage.success is False
    assert usage.status_code == status
    assert message in (usage.error_msg or "")
    assert usage.input_tokens == usage.output_tokens == 0


def test_sdk_objects_with_attributes() -> None:
    class Model:  # a pydantic-like object: attributes only
        def __init__(self, **kw: Any) -> None:
            self.__dict__.update(kw)

    response = Model(
        id="msg_1",
        model="claude-haiku-4-5",
        type="message",
        usage=Model(
            input_tokens=10,
            output_tokens=5,
            cache_read_input_tokens=7,
            cache_creation_input_tokens=None,
            cache_creation=None,
        ),
    )
    usage = usage_from_response(response)
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (10, 7, 5)
    gemini = SimpleNamespace(
        usage_metadata=SimpleNamespace(
            prompt_token_count=100,
            candidates_token_count=20,
            thoughts_token_count=5,
            cached_content_token_count=40,
        ),
        model_version="gemini-2.5-flash",
        response_id="r",
    )
    g = usage_from_response(gemini)
    assert g is not None
    assert (g.input_tokens, g.cache_read_tokens, g.output_tokens, g.reasoning_tokens) == (
        60,
        40,
        25,
        5,
    )


STREAMS = {
    "openai_stream.sse": ("gpt-4o-mini-2024-07-18", 220, 1280, 0, 3, "chatcmpl-s1", True),
    # message_delta usage is cumulative: 89, not 2 + 15 + 89.
    "anthropic_stream.sse": (
        "claude-haiku-4-5-20251001",
        472,
        10000,
        2000,
        89,
        "msg_stream1",
        True,
    ),
    # Gemini chunks carry cumulative usage: the last one wins (120 + 300 thoughts).
    "gemini_stream.jsonl": ("gemini-2.5-flash", 900, 0, 0, 420, "gem-stream", True),
    "openai_responses_stream.sse": ("gpt-5-2025-08-07", 300, 0, 0, 700, "resp_s", True),
    "bedrock_stream.jsonl": (None, 12, 0, 0, 30, None, True),
    # An error in the middle of a stream: a failed call, usage so far kept.
    "anthropic_stream_error.sse": (
        "claude-haiku-4-5-20251001",
        472,
        10000,
        2000,
        2,
        "msg_stream1",
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_stream_transcripts(name: str) -> None:
    usage = usage_from_payload((FIXTURES / name).read_bytes())
    assert usage is not None
    got = (
        usage.model,
        usage.input_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.output_tokens,
        usage.request_id,
        usage.success,
    )
    assert got == STREAMS[name]


def test_anthropic_stream_keeps_one_hour_writes() -> None:
    usage = usage_from_payload((FIXTURES / "anthropic_stream.sse").read_bytes())
    assert usage is not None
    assert usage.cache_write_1h_tokens == 2000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "usage",
                    "prompt_tokens",
                    "input_tokens",
                    "model",
                    "id",
                    "prompt_tokens_details",
                    "cached_tokens",
                    "usageMetadata",
                    "promptTokenCount",
                    "error",
                    "type",
                    "message",
                    "output",
                    "request_id",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@given(json_values)
def test_never_raises(obj: Any) -> None:
    for usage in (usage_from_response(obj), usage_from_events([obj, obj])):
        if usage is not None:
            assert (
                min(
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.cache_read_tokens,
                    usage.cache_write_tokens,
                    usage.reasoning_tokens,
                )
                >= 0
            )
            assert usage.reasoning_tokens <= usage.output_tokens


@given(st.binary(max_size=200))
def test_payloads_never_raise(raw: bytes) -> None:
    usage_from_payload(raw)


# --- tracking streams --------------------------------------------------------------------


def _records(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for f in list_files(directory) for line in iter_lines(f.path)]


def _events(name: str) -> list[Any]:
    out = []
    for raw in (FIXTURES / name).read_bytes().splitlines():
        line = raw.removeprefix(b"data: ").strip()
        if line.startswith(b"{"):
            out.append(orjson.loads(line))
    return out


def test_tracked_stream_passes_chunks_and_records_once(data_dir: Path) -> None:
    chunks = _events("openai_stream.sse")

    @aiusage.track(function="chat", user_id="ann", data_dir=data_dir)
    def call() -> Any:
        def gen() -> Any:
            yield from chunks

        return gen()

    got = list(call())
    assert got == chunks
    (rec,) = _records(data_dir)
    assert (rec["model"], rec["input_tokens"], rec["cache_read_tokens"], rec["output_tokens"]) == (
        "gpt-4o-mini-2024-07-18",
        220,
        1280,
        3,
    )
    assert rec["ttfb_ms"] <= rec["duration_ms"]
    assert rec["function"] == "chat"


def test_async_stream_and_abandoned_stream(data_dir: Path) -> None:
    events = _events("anthropic_stream.sse")

    async def source() -> Any:
        for e in events:
            yield e

    @aiusage.track(data_dir=data_dir)
    async def call() -> Any:
        return source()

    async def consume() -> list[Any]:
        return [e async for e in await call()]

    assert asyncio.run(consume()) == events
    stream = aiusage.track_stream(
        iter(_events("openai_stream.sse")), data_dir=data_dir, user_id="bob"
    )
    next(stream)
    stream.close()  # the caller stops early
    first, second = _records(data_dir)
    assert (
        first["output_tokens"],
        first["cache_write_tokens"],
        first["cache_write_1h_tokens"],
    ) == (89, 2000, 2000)
    assert second["tags"] == {"stream": "abandoned"}
    assert second["user_id"] == "bob"


def test_stream_failing_midway_is_a_failed_call(data_dir: Path) -> None:
    def broken() -> Any:
        yield {"id": "c", "model": "gpt-4o", "choices": [], "usage": None}
        raise ConnectionError("connection reset")

    stream = aiusage.track_stream(broken(), data_dir=data_dir)
    with pytest.raises(ConnectionError):
        list(stream)
    (rec,) = _records(data_dir)
    assert rec["success"] is False
    assert rec["error_msg"] == "ConnectionError: connection reset"
    assert rec["model"] == "gpt-4o"


def test_record_from_response_cli(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "record",
        "-d",
        data_dir,
        "--from-response",
        FIXTURES / "anthropic.json",
        "--user",
        "ann",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    rec = result.json()
    assert (
        rec["input_tokens"],
        rec["cache_write_tokens"],
        rec["cache_write_1h_tokens"],
        rec["user_id"],
    ) == (50, 556, 100, "ann")
    # PRICING_NOTES worked example: 50×3 + 100000×0.30 + 456×3.75 + 100×6 + 503×15 per 1M
    assert rec["cost"] == pytest.approx(0.040005)
    stream = cli(
        "record",
        "-d",
        data_dir,
        "--from-response",
        "-",
        input=(FIXTURES / "openai_stream.sse").read_bytes(),
        env={},
    )
    assert stream.exit_code == 0, stream.stderr
    bedrock = cli("record", "-d", data_dir, "--from-response", FIXTURES / "bedrock_converse.json")
    assert bedrock.exit_code == 2
    assert "pass --model" in bedrock.stderr
    ok = cli(
        "record",
        "-d",
        data_dir,
        "--from-response",
        FIXTURES / "bedrock_converse.json",
        "--model",
        "anthropic.claude-3-haiku",
        "--json",
    )
    assert ok.json()["cache_read_tokens"] == 4000
    err = cli(
        "record",
        "-d",
        data_dir,
        "--from-response",
        FIXTURES / "anthropic_overloaded.json",
        "--model",
        "claude-haiku-4-5",
        "--json",
    ).json()
    assert (err["success"], err["status_code"]) == (False, 529)
    guessed = cli(
        "record", "-d", data_dir, "--from-response", FIXTURES / "unknown_text.txt", "--json"
    )
    assert "guessed" in guessed.stderr
    assert guessed.json()["tags"] == {"extract_method": "fallback-regex"}
    assert (
        cli(
            "record", "-d", data_dir, "--from-response", FIXTURES / "anthropic.json", "-i", "5"
        ).exit_code
        == 2
    )
