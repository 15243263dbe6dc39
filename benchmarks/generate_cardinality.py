"""Deterministic high-cardinality aiusage data (same seed → identical bytes), for issue 19.

Many users with power-law activity (user k has weight 1/k^0.6, so even the quietest of
1,000 users calls every day), every model of the packaged pricing table plus a few
unpriced private models, many functions, latencies (duration_ms, ttfb_ms). Each user has
their own favourite models and functions (a weighted random order of all of them, then a
Zipf-like pick by rank), which gives about 150k-250k day × user × model groups per 1M
records over 30 days. Records have the schema of ``generate.py`` (its record writer is
reused); weekends carry 0.6 of a weekday's traffic, and the day counts add up to
``--records`` exactly.

    python benchmarks/generate_cardinality.py OUT_DIR --records 1000000 --days 30
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from pathlib import Path

from generate import Generator, data_set_parser, write_day_file

# Providers whose prompt caching generate.py's record writer models.
CACHING = {"openai", "anthropic", "deepseek"}
# Models not in the pricing table: their records carry no cost.
PRIVATE_MODELS = (
    "acme-private-13b",
    "acme-private-70b",
    "llama-3.1-8b-local",
    "ft:gpt-4o-mini:acme",
)
FUNCTIONS = (
    "chat", "summarise", "classify", "extract", "translate", "embed-search", "code-review",
    "realtime-analysis", "report-writer", "ticket-triage", "sql-assistant", "email-draft",
    "doc-qa", "moderation", "agent-planner", "agent-tool-call", "rerank", "title-gen",
    "sentiment", "meeting-notes", "invoice-parse", "product-copy", "test-writer", "changelog",
)  # fmt: skip
# How steeply a user prefers their first-ranked model / function over the next ones.
MODEL_RANK_SKEW = 2.0
FUNCTION_RANK_SKEW = 2.5
WEEKEND = 0.6


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    """An index drawn with the weights whose running sums are ``cumulative``."""
    index = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
    return min(index, len(cumulative) - 1)


def _preference(rng: random.Random, weights: list[float]) -> list[int]:
    """A random order of ``range(len(weights))`` where heavier items tend to come first
    (Efraimidis-Spirakis keys)."""
    keys = [rng.random() ** (1 / w) for w in weights]
    return sorted(range(len(weights)), key=keys.__getitem__, reverse=True)


class CardinalityGenerator(Generator):
    """generate.py's :class:`Generator` with many users, each with favourite models and
    functions."""

    def __init__(self, seed: int, users: int = 1000, skew: float = 0.6) -> None:
        super().__init__(seed, users=users, skew=skew)
        rng = self.rng
        self.models: list[tuple[str, str | None]] = [
            (name, price.provider if price.provider in CACHING else None)
            for name, price in sorted(self.table.prices.items())
        ] + [(name, None) for name in PRIVATE_MODELS]
        # Cheap, general models are used more than the rest; private ones least.
        popularity = [rng.uniform(0.5, 4.0) for _ in self.models[: -len(PRIVATE_MODELS)]]
        popularity += [0.3] * len(PRIVATE_MODELS)
        self.model_ranks = _cumulative(
            [1 / r**MODEL_RANK_SKEW for r in range(1, len(self.models) + 1)]
        )
        self.function_ranks = _cumulative(
            [1 / r**FUNCTION_RANK_SKEW for r in range(1, len(FUNCTIONS) + 1)]
        )
        function_weights = [1 / r for r in range(1, len(FUNCTIONS) + 1)]
        self.user_index = {user: i for i, user in enumerate(self.users)}
        self.user_models = [_preference(rng, popularity) for _ in self.users]
        self.user_functions = [_preference(rng, function_weights) for _ in self.users]

    def _choose(self) -> tuple[str, str | None, str, str]:
        """The user first (power law), then one of their favourite models and functions."""
        user = self._user()
        index = self.user_index[user]
        model, family = self.models[self.user_models[index][_pick(self.rng, self.model_ranks)]]
        function = FUNCTIONS[self.user_functions[index][_pick(self.rng, self.function_ranks)]]
        return model, family, function, user


def day_counts(records: int, days: list[dt.date]) -> list[int]:
    """Records per day: weekends at 0.6 of a weekday, adding up to ``records`` exactly
    (largest remainders)."""
    weights = [WEEKEND if day.weekday() >= 5 else 1.0 for day in days]
    shares = [records * w / sum(weights) for w in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(days)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: records - sum(counts)]:
        counts[i] += 1
    return counts


def write_cardinality_days(
    out: Path, *, seed: int, records: int, days: int, end: dt.date, users: int = 1000
) -> int:
    """Write ``records`` records over the ``days`` UTC days ending at ``end``; the count."""
    out.mkdir(parents=True, exist_ok=True)
    gen = CardinalityGenerator(seed, users=users)
    dates = [end - dt.timedelta(days=days - 1 - i) for i in range(days)]
    written = 0
    for day, n in zip(dates, day_counts(records, dates), strict=True):
        written += write_day_file(out, day, [gen.record(day) for _ in range(n)])
    return written


def main() -> None:
    parser = data_set_parser(__doc__)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    n = write_cardinality_days(
        args.out,
        seed=args.seed,
        records=args.records,
        days=args.days,
        end=args.end,
        users=args.users,
    )
    print(f"wrote {n:,} records to {args.out}")


if __name__ == "__main__":
    main()
