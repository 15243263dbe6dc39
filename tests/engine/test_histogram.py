from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from aiusage.engine.histogram import (
    ALPHA,
    SAMPLES,
    Histogram,
    bucket_of,
    bucket_value,
    counts_of,
    merge_into,
    merged,
    quantiles,
    size,
)
from aiusage.engine.histogram import sum_of as histogram_sum

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


def test_an_empty_list_has_no_quantiles() -> None:
    assert quantiles([], [0.5, 0.99]) == [None, None]
    assert size([]) == 0


@given(values, st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=5))
def test_a_list_of_buckets_gives_the_quantiles_of_its_counts(
    xs: list[float], qs: list[float]
) -> None:
    listed = [bucket_of(x) for x in xs]
    assert quantiles(listed, qs) == quantiles(_hist(xs), qs)
    assert size(listed) == len(xs) == size(_hist(xs))


# Parts of a histogram, each a list of buckets or their counts; sizes around SAMPLES, so
# merges cross from a list to counts.
parts = st.lists(
    st.tuples(st.lists(st.integers(-5, 5), max_size=SAMPLES + 3), st.booleans()),
    min_size=1,
    max_size=5,
)


@given(parts)
def test_merges_in_any_form_hold_every_value_once(chunks: list[tuple[list[int], bool]]) -> None:
    hist: Histogram = []
    every: list[int] = []
    for buckets, as_counts in chunks:
        other: Histogram = counts_of(buckets) if as_counts else list(buckets)
        before = counts_of(other)
        hist = merged(hist, other)
        every += buckets
        assert counts_of(other) == before  # never changed
        assert hist is not other
        # A list never grows past SAMPLES: beyond, it is counted.
        assert not isinstance(hist, list) or len(hist) <= SAMPLES
    assert counts_of(hist) == counts_of(every)
    assert size(hist) == len(every)
    qs = [0.0, 0.5, 0.95, 0.99, 1.0]
    assert quantiles(hist, qs) == quantiles(counts_of(every), qs)


@given(parts)
def test_a_sum_of_histograms_holds_what_merging_them_does(
    chunks: list[tuple[list[int], bool]],
) -> None:
    hists: list[Histogram] = [counts_of(b) if as_counts else list(b) for b, as_counts in chunks]
    before = [counts_of(h) for h in hists]
    one_by_one: Histogram = []
    for hist in hists:
        one_by_one = merged(one_by_one, hist)
    total = histogram_sum(hists)
    assert counts_of(total) == counts_of(one_by_one)
    assert [counts_of(h) for h in hists] == before  # none changed
    assert all(total is not h for h in hists)
