"""Gaps between a user's (or key's) consecutive calls, and the prompt-cache TTL they suggest
(seed 002's cache-affinity analysis).

:class:`Intervals` is filled in time order: the pass sorts each day file's call times per user
(lines of a day may be slightly out of order) and feeds them in; each call adds the gap since
the previous one, in minutes, to exact range counts (≤5, 5–15, 15–30, 30–60, >60) and to a
log-bucket histogram for percentiles. Memory per user is bounded by the histogram; the pass
holds one day's call times at most.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from aiusage.engine.histogram import bucket_of, merge_into, quantiles

RANGES = (("le_5min", 5.0), ("le_15min", 15.0), ("le_30min", 30.0), ("le_60min", 60.0))
OVER = "over_60min"
TTL_CHOICES = (5, 15, 30, 60)


@dataclass
class Intervals:
    """Gaps between consecutive calls of one user or key."""

    first: float
    last: float
    calls: int = 1
    ranges: list[int] = field(default_factory=lambda: [0] * (len(RANGES) + 1))
    hist: dict[int, int] = field(default_factory=dict)
    total_minutes: float = 0.0
    min_minutes: float = math.inf
    max_minutes: float = -math.inf

    def add(self, ts: float) -> None:
        """Count one more call at ``ts`` (calls arrive in time order)."""
        self.calls += 1
        self._gap(abs(ts - self.last) / 60)
        self.last = max(ts, self.last)

    def _gap(self, minutes: float) -> None:
        for i, (_, bound) in enumerate(RANGES):
            if minutes <= bound:
                self.ranges[i] += 1
                break
        else:
            self.ranges[-1] += 1
        b = bucket_of(minutes)
        self.hist[b] = self.hist.get(b, 0) + 1
        self.total_minutes += minutes
        self.min_minutes = min(self.min_minutes, minutes)
        self.max_minutes = max(self.max_minutes, minutes)

    def merge(self, later: Intervals) -> None:
        """Append the calls of a later stretch of time (the gap between them included)."""
        self.calls += later.calls
        self._gap(abs(later.first - self.last) / 60)
        for i, n in enumerate(later.ranges):
            self.ranges[i] += n
        merge_into(self.hist, later.hist)
        self.total_minutes += later.total_minutes
        for value in (later.min_minutes, later.max_minutes):
            if value is not None:
                self.min_minutes = (
                    value if self.min_minutes is None else min(self.min_minutes, value)
                )
                self.max_minutes = (
                    value if self.max_minutes is None else max(self.max_minutes, value)
                )
        self.last = max(self.last, later.last)

    @property
    def gaps(self) -> int:
        """How many gaps were measured (calls − 1)."""
        return sum(self.ranges)


def recommend_ttl(p75: float | None, p90: float | None) -> tuple[int, str]:
    """The cache TTL (minutes) for a call pattern, and why (seed 002's rule): 90% of gaps
    within 5 min → 5; else 75% within 15 → 15; 75% within 30 → 30; else 60."""
    if p75 is None or p90 is None:
        return 5, "not enough calls to measure gaps; 5 minutes is the default"
    if p90 <= 5:
        return 5, f"frequent: 90% of gaps are within {p90:.1f} min"
    if p75 <= 15:
        return 15, f"fairly frequent: 75% of gaps are within {p75:.1f} min"
    if p75 <= 30:
        return 30, f"moderate: 75% of gaps are within {p75:.1f} min"
    return 60, f"infrequent: 75% of gaps are up to {p75:.1f} min; a 1-hour cache write may pay off"


def summary(iv: Intervals) -> dict[str, Any]:
    """The documented summary of one user's gaps (minutes)."""
    n = iv.gaps
    p50, p75, p90 = quantiles(iv.hist, (0.50, 0.75, 0.90))
    ttl, reason = recommend_ttl(p75, p90)
    names = [name for name, _ in RANGES] + [OVER]
    return {
        "calls": iv.calls,
        "intervals": n,
        "distribution": dict(zip(names, iv.ranges, strict=True)),
        "shares": {
            name: round(c / n, 4) if n else None for name, c in zip(names, iv.ranges, strict=True)
        },
        "p50_minutes": None if p50 is None else round(p50, 2),
        "p75_minutes": None if p75 is None else round(p75, 2),
        "p90_minutes": None if p90 is None else round(p90, 2),
        "avg_minutes": round(iv.total_minutes / n, 2) if n else None,
        "min_minutes": round(iv.min_minutes, 2) if n else None,
        "max_minutes": round(iv.max_minutes, 2) if n else None,
        "recommended_ttl_minutes": ttl,
        "reason": reason,
    }
