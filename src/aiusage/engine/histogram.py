"""A mergeable log-bucket histogram for latency percentiles (DDSketch-style).

Values map to bucket ``ceil(log(v) / log(GAMMA))``; the estimate of a bucket is the value
whose relative distance to both bucket edges is ``ALPHA``, so every percentile is within
``ALPHA`` = 1% (relative) of a value actually in the data — well inside the 2% promised.
A :data:`Histogram` of a few values is the list of their buckets (in any order); past
:data:`SAMPLES` values it becomes the count per bucket, a ``dict[int, int]``. Both merge
exactly (lists extend, counts add), so partial rollups merge exactly, and both give the same
percentiles for the same values. Most groups of a report by user × model × day hold a
handful of calls: as a list their histograms take a third of a dict's memory, a merge is an
``extend`` and percentiles are one sort and an index. Memory is bounded either way: by
:data:`SAMPLES` for a list, by the value range for counts (≈1,200 buckets from 1 µs to 1 day).
"""

from __future__ import annotations

import functools
import math
import operator
import sys
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate, chain, repeat

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LOG_GAMMA = math.log(GAMMA)
ZERO_BUCKET = -(2**31)  # values ≤ 1e-9 (0 ms latencies)
MIN_VALUE = 1e-9
# The one int object of each bucket a value above MIN_VALUE can fall in (up to the largest
# float), at ``index + BUCKET_OFFSET``. A pass that keys its histograms with these finds a
# bucket by identity rather than by comparing numbers: a measured 3–5% of a scan.
BUCKET_OFFSET = -math.ceil(math.log(MIN_VALUE) / LOG_GAMMA)
BUCKETS = list(range(-BUCKET_OFFSET, math.ceil(math.log(sys.float_info.max) / LOG_GAMMA) + 1))
# The same objects, indexed by the bucket itself: buckets from 0 up at their index, those
# below 0 at the end, where a negative index finds them (no offset to add per value).
BUCKET_AT = BUCKETS[BUCKET_OFFSET:] + BUCKETS[:BUCKET_OFFSET]
# The same objects by value, for the buckets of 1 µs to a year (1,600 of them): histograms
# read back from the cache use them as keys too, which saves a third of their memory.
CANONICAL = {b: b for b in (ZERO_BUCKET, *BUCKETS[BUCKET_OFFSET - 350 : BUCKET_OFFSET + 1220])}


# Values a list holds before it becomes counts: a list of 128 (1 KB) is smaller than most
# dicts of as many values' buckets, and sorts in microseconds.
SAMPLES = 128

Histogram = list[int] | dict[int, int]


def bucket_of(value: float) -> int:
    """The bucket index of a value ≥ 0."""
    if value <= MIN_VALUE:
        return ZERO_BUCKET
    return math.ceil(math.log(value) / LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The representative value of a bucket."""
    if index == ZERO_BUCKET:
        return 0.0
    return 2 * GAMMA**index / (GAMMA + 1)


def merge_into(target: dict[int, int], other: Mapping[int, int]) -> None:
    """Add ``other``'s counts to ``target``."""
    if not target:  # the common first merge into a fresh group: a C-level copy
        target.update(other)
        return
    # Each key's sum is computed before it is stored, all in C (no bytecode per bucket).
    sums = map(operator.add, map(target.get, other, repeat(0)), other.values())
    target.update(zip(other, sums, strict=True))


def counts_of(hist: Histogram) -> dict[int, int]:
    """The count per bucket of a histogram (a new dict)."""
    counts: dict[int, int] = {}
    if isinstance(hist, list):
        _count_into(counts, hist)
    else:
        counts.update(hist)
    return counts


def merged(target: Histogram, other: Histogram) -> Histogram:
    """``target`` with ``other``'s values added: ``target`` itself, changed, or a new
    histogram (counts, once a list would pass :data:`SAMPLES`; a copy of ``other`` when
    ``target`` is empty). ``other`` is never changed nor shared."""
    if not other:
        return target
    if isinstance(other, list):
        if isinstance(target, dict):
            _count_into(target, other)
            return target
        if len(target) + len(other) <= SAMPLES:
            if not target:
                return other.copy()
            target.extend(other)
            return target
        counts = counts_of(target)
        _count_into(counts, other)
        return counts
    counts = counts_of(target) if isinstance(target, list) else target
    merge_into(counts, other)
    return counts


def _count_into(counts: dict[int, int], samples: list[int]) -> None:
    # Counted in C (Counter), then added per bucket: at most ~1,200 of them.
    merge_into(counts, Counter(samples))


def sum_of(hists: Sequence[Histogram]) -> Histogram:
    """One histogram of all of ``hists`` (none of them changed): their lists' buckets
    counted in one C pass, not merged one histogram at a time."""
    listed = [h for h in hists if isinstance(h, list)]
    total = sum(map(len, listed))
    if total <= SAMPLES and len(listed) == len(hists):
        return list(chain.from_iterable(listed))
    counts = dict(Counter(chain.from_iterable(listed)))
    for hist in hists:
        if isinstance(hist, dict):
            merge_into(counts, hist)
    return counts


def size(hist: Histogram) -> int:
    """How many values a histogram holds."""
    return len(hist) if isinstance(hist, list) else sum(hist.values())


def quantiles(buckets: Histogram | Mapping[int, int], qs: Sequence[float]) -> list[float | None]:
    """The ``qs`` quantiles (each 0–1, nearest rank) of the histogram, all ``None`` when it
    is empty."""
    ranked = rank_buckets(buckets, qs)
    return [None] * len(qs) if ranked is None else [bucket_value(b) for b in ranked]


def rank_buckets(
    buckets: Histogram | Mapping[int, int], qs: Sequence[float]
) -> Sequence[int] | None:
    """The bucket of each of the ``qs`` quantiles (nearest rank), ``None`` when the histogram
    is empty. One sort of the buckets serves every quantile."""
    return ranker(tuple(qs))(buckets)


Ranker = Callable[[Histogram | Mapping[int, int]], Sequence[int] | None]


@functools.cache
def ranker(qs: tuple[float, ...]) -> Ranker:
    """:func:`rank_buckets` of the quantiles ``qs``, as one function: a view ranks every
    group's histograms by the same few quantiles, so which positions of a sorted list of
    ``n`` values they pick is worked out once per ``n`` (lists hold at most
    :data:`SAMPLES`), not per histogram."""
    pickers: dict[int, Callable[[list[int]], Sequence[int]]] = {}

    def rank(buckets: Histogram | Mapping[int, int]) -> Sequence[int] | None:
        if isinstance(buckets, list):
            n = len(buckets)
            pick = pickers.get(n)
            if pick is None:
                if not n:
                    return None
                pick = pickers[n] = _picker([max(1, math.ceil(q * n)) - 1 for q in qs])
            return pick(sorted(buckets))
        return _rank_counts(buckets, qs)

    return rank


def _picker(positions: list[int]) -> Callable[[list[int]], Sequence[int]]:
    """A function from a list to its items at ``positions``, as a tuple."""
    if len(positions) == 1:  # itemgetter of one position returns the item, not a tuple
        (only,) = positions
        return lambda items: (items[only],)
    return operator.itemgetter(*positions)


def _rank_counts(buckets: Mapping[int, int], qs: Sequence[float]) -> Sequence[int] | None:
    """:func:`rank_buckets` of counts per bucket."""
    if len(buckets) == 1:  # one bucket (a group of one call, or of equal ones): no ranks
        (only,) = buckets
        return (only,) * len(qs)
    if not buckets:
        return None
    order = sorted(buckets)
    running = list(accumulate(map(buckets.__getitem__, order)))
    total = running[-1]
    if total == 0:
        return None
    # The first bucket whose running count reaches each rank.
    return tuple(order[bisect_left(running, max(1, math.ceil(q * total)))] for q in qs)
