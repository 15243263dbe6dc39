from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from aiusage.engine.histogram import ALPHA, bucket_of, bucket_value, merge_into, quantiles

values = st.lists(
    st.floats(min_value=0.01, max_value=1e7, allow_nan=False), min_size=1, max_size=300
)


def _hist(xs: list[float]) -> dict[int, int]:
    h: dict[int, int] = {}
    for x in xs:
        b = bucket_of(x)
        h[b] = h.get(b, 0) + 1
    return h


@given(values, values, st.sampled_from([0.5, 0.75, 0.9, 0.95, 0.99]))
def test_merged_percentiles_within_two_percent(a: list[float], b: list[float], q: float) -> None:
    merged = _hist(a)
    merge_into(merged, _hist(b))
    assert merged == _hist(a + b)
    data = sorted(a + b)
    exact = data[max(1, math.ceil(q * len(data))) - 1]
    (estimate,) = quantiles(merged, [q])
    assert estimate is not None
    assert abs(estimate - exact) <= 0.02 * exact
    assert abs(estimate - exact) <= ALPHA * exact * 1.000001


def test_zero_and_empty() -> None:
    assert quantiles({}, [0.5, 0.9]) == [None, None]
    assert quantiles(_hist([0.0, 0.0, 5.0]), [0.5]) == [0.0]
    assert quantiles({bucket_of(7.0): 3}, [0.5, 0.99]) == [bucket_value(bucket_of(7.0))] * 2


@given(values, st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=5))
def test_quantiles_are_the_nearest_rank_buckets(xs: list[float], qs: list[float]) -> None:
    # The oracle: every value's bucket estimate, ranked one by one.
    ranked = sorted(bucket_value(bucket_of(x)) for x in xs)
    expected = [ranked[max(1, math.ceil(q * len(ranked))) - 1] for q in qs]
    assert quantiles(_hist(xs), qs) == expected
