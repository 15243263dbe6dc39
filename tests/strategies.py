"""Hypothesis strategies the tests share."""

from __future__ import annotations

from hypothesis import strategies as st

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(-1, 1e6, allow_nan=False),
    st.text(max_size=3),
    st.lists(st.integers(-9, 9), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(-9, 9), max_size=2),
)
FIELDS = [
    "timestamp",
    "model",
    "kind",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "cost",
    "currency",
    "duration_ms",
    "ttfb_ms",
    "success",
    "tags",
    "user_id",
]
records = st.fixed_dictionaries(
    {
        "timestamp": st.one_of(st.floats(0, 4e9), values),
        "model": st.one_of(st.just("gpt-4o"), values),
    },
    optional=dict.fromkeys(FIELDS[2:], values),
)
