"""A mergeable log-bucket histogram for latency percentiles (DDSketch-style).

Values map to bucket ``ceil(log(v) / log(GAMMA))``; the estimate of a bucket is the value
whose relative distance to both bucket edges is ``ALPHA``, so every percentile is within
``ALPHA`` = 1% (relative) of a value actually in the data — well inside the 2% promised.
Buckets are a ``dict[int, int]``: merging two histograms adds counts, so partial rollups
merge exactly. Memory is bounded by the value range (≈1,200 buckets from 1 µs to 1 day).
"""

from __future__ import annotations

import math
import operator
import sys
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from itertools import accumulate, repeat

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
# The same objects by value, for the buckets of 1 µs to a year (1,600 of them): histograms
# read back from the cache use them as keys too, which saves a third of their memory.
CANONICAL = {b: b for b in (ZERO_BUCKET, *BUCKETS[BUCKET_OFFSET - 350 : BUCKET_OFFSET + 1220])}


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


def quantiles(buckets: Mapping[int, int], qs: Sequence[float]) -> list[float | None]:
    """The ``qs`` quantiles (each 0–1, nearest rank) of the histogram, all ``None`` when it
    is empty. One sort of the buckets serves every quantile (this runs per group per view)."""
    if len(buckets) == 1:  # one bucket (a group of one call, or of equal ones): no ranks
        (only,) = buckets
        return [bucket_value(only)] * len(qs)
    if not buckets:
        return [None] * len(qs)
    order = sorted(buckets)
    running = list(accumulate(map(buckets.__getitem__, order)))
    total = running[-1]
    if total == 0:
        return [None] * len(qs)
    # The first bucket whose running count reaches each rank.
    return [bucket_value(order[bisect_left(running, max(1, math.ceil(q * total)))]) for q in qs]
