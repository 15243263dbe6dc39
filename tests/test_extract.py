from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiusage.extract import usage_from_response


def test_openai_chat_subtracts_cached_tokens() -> None:
    u = usage_from_response(
        {
            "id": "chatcmpl-1",
            "model": "gpt-4o",
            "usage": {
                "prompt_tokens": 2006,
                "completion_tokens": 300,
                "prompt_tokens_details": {"cached_tokens": 1920},
                "completion_tokens_details": {"reasoning_tokens": 64},
            },
        }
    )
    assert u is not None
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (
        86,
        1920,
        300,
        64,
    )
    assert (u.provider, u.request_id) == ("openai", "chatcmpl-1")


def test_openai_responses_api() -> None:
    u = usage_from_response(
        {
            "model": "o3",
            "usage": {
                "input_tokens": 500,
                "output_tokens": 90,
                "input_tokens_details": {"cached_tokens": 100},
                "output_tokens_details": {"reasoning_tokens": 40},
            },
        }
    )
    assert u is not None
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (
        400,
        100,
        90,
        40,
    )


def test_anthropic_messages_keep_input_apart() -> None:
    u = usage_from_response(
        {
            "id": "msg_1",
            "model": "claude-sonnet-4-5",
            "usage": {
                "input_tokens": 50,
                "output_tokens": 503,
                "cache_read_input_tokens": 100000,
                "cache_creation_input_tokens": 556,
            },
        }
    )
    assert u is not None
    assert (u.input_tokens, u.cache_read_tokens, u.cache_write_tokens, u.output_tokens) == (
        50,
        100000,
        556,
        503,
    )
    assert u.provider == "anthropic"


@pytest.mark.parametrize(
    "obj", [None, 1, "text", {}, {"usage": None}, {"usage": {"foo": 1}}, object()]
)
def test_no_usage(obj: Any) -> None:
    assert usage_from_response(obj) is None


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
    u = usage_from_response(obj)
    if u is not None:
        assert (
            min(
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_write_tokens,
                u.reasoning_tokens,
            )
            >= 0
        )
