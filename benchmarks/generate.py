"""Deterministic generator of realistic aiusage records (same seed → identical bytes).

Skewed users (Zipf-like), many models across providers and currencies, functions, failures,
cache tokens, sessions and anchors, and a diurnal traffic pattern. Costs come from the
packaged pricing table, as ``aiusage record`` would write them.

    python benchmarks/generate.py OUT_DIR --records 1000000 --days 30
    python benchmarks/generate.py sample_logs --sample      # the repository's sample_logs/
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import random
import shutil
from pathlib import Path

import orjson

from aiusage.pricing.cost import TokenCounts
from aiusage.pricing.table import load_table, to_float

# (model, weight, provider-style cache behaviour)
MODELS = [
    ("gpt-4o-mini", 30, "openai"),
    ("gpt-4o", 12, "openai"),
    ("gpt-5-mini", 8, "openai"),
    ("claude-sonnet-4-5", 10, "anthropic"),
    ("claude-haiku-4-5", 9, "anthropic"),
    ("gemini-2.5-flash", 9, "google"),
    ("deepseek-chat", 6, "deepseek"),
    ("qwen-plus", 8, "qwen"),
    ("qwen-max", 3, "qwen"),
    ("mistral-small-latest", 4, "mistral"),
    ("acme-private-13b", 1, None),
]
FUNCTIONS = [
    ("chat", 30),
    ("summarise", 15),
    ("classify", 12),
    ("extract", 10),
    ("translate", 8),
    ("embed-search", 8),
    ("code-review", 7),
    ("realtime-analysis", 6),
    ("report-writer", 4),
]
ERRORS = [
    (429, "rate limit exceeded"),
    (500, "internal server error"),
    (529, "overloaded_error: Overloaded"),
    (400, "context length exceeded"),
]
TEAMS = ["search", "growth", "support", "platform"]
# Relative traffic per local hour: quiet nights, busy afternoons.
DIURNAL = [0.2, 0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.0, 0.95,
           0.8, 0.9, 1.0, 1.0, 0.95, 0.85, 0.7, 0.6, 0.5, 0.45, 0.35, 0.25]  # fmt: skip


def _weighted(
    rng: random.Random, items: list[tuple[str, int]] | list[tuple[str, int, str | None]]
) -> int:
    total = sum(i[1] for i in items)
    x = rng.random() * total
    for index, item in enumerate(items):
        x -= item[1]
        if x < 0:
            return index
    return len(items) - 1


class Generator:
    """Produces record dicts for a range of UTC days."""

    def __init__(self, seed: int, users: int = 60, skew: float = 1.1) -> None:
        self.rng = random.Random(seed)
        self.table = load_table()
        self.users = [f"user_{i:03d}" for i in range(1, users + 1)]
        # Zipf-like skew: user k gets weight 1/k^skew.
        self.user_weights = [1 / (k**skew) for k in range(1, users + 1)]
        self.cum_users = []
        acc = 0.0
        for w in self.user_weights:
            acc += w
            self.cum_users.append(acc)
        self.counter = 0

    def _user(self) -> str:
        x = self.rng.random() * self.cum_users[-1]
        lo, hi = 0, len(self.cum_users) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.cum_users[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return self.users[lo]

    def _timestamp(self, day: dt.date) -> float:
        base = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
        while True:
            hour = self.rng.randrange(24)
            if self.rng.random() < DIURNAL[hour]:
                return round(base + hour * 3600 + self.rng.random() * 3600, 3)

    def _choose(self) -> tuple[str, str | None, str, str]:
        """The next record's model, its provider-style cache behaviour, function and user."""
        model, _, family = MODELS[_weighted(self.rng, MODELS)]
        function = FUNCTIONS[_weighted(self.rng, FUNCTIONS)][0]
        return model, family, function, self._user()

    def record(self, day: dt.date) -> dict[str, object]:
        rng = self.rng
        self.counter += 1
        model, family, function, user = self._choose()
        prompt = int(rng.lognormvariate(7.0, 0.9)) + 20
        output = int(rng.lognormvariate(5.5, 0.8)) + 1
        cache_read = cache_write = 0
        if family in ("openai", "anthropic", "deepseek") and rng.random() < 0.45:
            cache_read = int(prompt * rng.uniform(0.3, 0.9))
        if family == "anthropic" and rng.random() < 0.15:
            cache_write = int(prompt * rng.uniform(0.1, 0.5))
        input_tokens = max(prompt - cache_read - cache_write, 0)
        reasoning = int(output * rng.uniform(0.2, 0.6)) if model.startswith("gpt-5") else 0
        failed = rng.random() < 0.03
        duration = round(rng.lognormvariate(6.8, 0.6) + output * 8, 1)
        rec: dict[str, object] = {
            "v": 1,
            "id": f"{self.counter:08x}{rng.getrandbits(64):016x}",
            "kind": "call",
            "timestamp": self._timestamp(day),
            "model": model,
        }
        price = self.table.lookup(model)
        if price is not None:
            rec["provider"] = price.provider
        rec.update(
            {
                "user_id": user,
                "session_id": f"s-{user[-3:]}-{day.isoformat()}-{rng.randrange(4)}",
                "anchor_id": f"doc-{rng.randrange(200):04d}" if rng.random() < 0.5 else None,
                "function": function,
            }
        )
        if failed:
            status, message = ERRORS[rng.randrange(len(ERRORS))]
            input_tokens = cache_read = cache_write = output = reasoning = 0
        rec.update(
            {
                "input_tokens": input_tokens,
                "cache_read_tokens": cache_read,
                "cache_write_tokens": cache_write,
                "output_tokens": output,
                "reasoning_tokens": reasoning,
                "total_tokens": input_tokens + cache_read + cache_write + output,
            }
        )
        if price is not None:
            cost = price.cost(
                TokenCounts(
                    input=input_tokens,
                    output=output,
                    cache_read=cache_read,
                    cache_write=cache_write,
                )
            )
            rec["cost"] = to_float(cost)
            rec["currency"] = price.currency
        else:
            rec["cost"] = None
            rec["currency"] = "USD"
        rec["duration_ms"] = duration if not failed else round(rng.uniform(50, 900), 1)
        rec["ttfb_ms"] = round(rec["duration_ms"] * rng.uniform(0.05, 0.3), 1)  # type: ignore[operator]
        rec["success"] = not failed
        if failed:
            rec["error_msg"] = message
            rec["status_code"] = status
        else:
            rec["status_code"] = 200
        rec["request_id"] = f"req_{rng.getrandbits(48):012x}"
        rec["api_key"] = f"sk-…{rng.choice(['9f3a', '2b71', 'c0de'])}"
        rec["tags"] = {
            "env": "prod" if rng.random() < 0.85 else "staging",
            "team": TEAMS[int(user[-3:]) % 4],
        }
        rec["host"] = f"app-{rng.randrange(3) + 1}"
        if price is not None:
            rec["price_ref"] = self.table.price_ref(price)
        return {k: v for k, v in rec.items() if v is not None or k == "cost"}


def seed003_record(gen: Generator, day: dt.date) -> dict[str, object]:
    """A record in the exact field set of the monitor in seed 003 (no v/id/provider/currency;
    costs in CNY at the seed's Qwen prices)."""
    rng = gen.rng
    model = rng.choice(["qwen-plus", "qwen-plus", "qwen-turbo", "qwen-max"])
    input_tokens = int(rng.lognormvariate(7.3, 0.5))
    output_tokens = int(rng.lognormvariate(6.2, 0.5))
    price = gen.table.lookup(model)
    assert price is not None
    cost = to_float(price.cost(TokenCounts(input=input_tokens, output=output_tokens)))
    success = rng.random() > 0.02
    return {
        "timestamp": gen._timestamp(day),
        "user_id": gen._user(),
        "anchor_id": f"anchor_{rng.randrange(1, 40):03d}",
        "session_id": f"session_{rng.randrange(100, 999)}",
        "model": model,
        "function": rng.choice(["实时分析", "话术生成", "弹幕回复"]),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "cost": round(cost, 6),
        "duration_ms": round(rng.lognormvariate(7.0, 0.4), 1),
        "success": success,
        "error_msg": None if success else "Request timed out",
    }


def write_days(
    out: Path,
    *,
    seed: int,
    records: int,
    days: int,
    end: dt.date,
    gzip_before: dt.date | None = None,
    seed003_day: dt.date | None = None,
    torn_day: dt.date | None = None,
) -> int:
    """Write ``records`` records spread over ``days`` UTC days ending at ``end``."""
    out.mkdir(parents=True, exist_ok=True)
    gen = Generator(seed)
    per_day = records // days
    extra = records - per_day * days
    written = 0
    for i in range(days):
        day = end - dt.timedelta(days=days - 1 - i)
        n = per_day + (1 if i < extra else 0)
        # Weekends are quieter.
        if day.weekday() >= 5:
            n = int(n * 0.6)
        make = (lambda d: seed003_record(gen, d)) if day == seed003_day else gen.record
        rows = [make(day) for _ in range(n)]
        torn = orjson.dumps(gen.record(day)) if day == torn_day else b""
        gz = gzip_before is not None and day < gzip_before
        written += write_day_file(out, day, rows, torn=torn[: len(torn) // 2], gz=gz)
    return written


def write_day_file(
    out: Path, day: dt.date, rows: list[dict[str, object]], *, torn: bytes = b"", gz: bool = False
) -> int:
    """Write one day's records, in timestamp order, to ``out/usage_DAY.jsonl`` (``gz``: as
    ``.jsonl.gz``), followed by ``torn``, a line cut short as by a writer killed mid-line.
    Returns the number of records written."""
    rows = sorted(rows, key=lambda r: r["timestamp"])  # type: ignore[arg-type,return-value]
    data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows) + torn
    path = out / f"usage_{day.isoformat()}.jsonl"
    if gz:
        with (
            open(f"{path}.gz", "wb") as raw,
            gzip.GzipFile(path.name, "wb", fileobj=raw, mtime=0) as gzfile,
        ):
            gzfile.write(data)
    else:
        path.write_bytes(data)
    return len(rows)


def data_set_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments every generator takes: OUT, --records, --days, --end, --seed."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--seed", type=int, default=1)
    return parser


def main() -> None:
    parser = data_set_parser(__doc__)
    parser.add_argument("--sample", action="store_true", help="make the repository's sample_logs/")
    args = parser.parse_args()
    if args.sample:
        if args.out.exists():
            shutil.rmtree(args.out)
        n = write_days(
            args.out,
            seed=3,
            records=60 * 90,
            days=60,
            end=dt.date(2026, 11, 23),
            gzip_before=dt.date(2026, 10, 15),
            seed003_day=dt.date(2026, 10, 26),
            torn_day=dt.date(2026, 11, 23),
        )
    else:
        n = write_days(args.out, seed=args.seed, records=args.records, days=args.days, end=args.end)
    print(f"wrote {n:,} records to {args.out}")


if __name__ == "__main__":
    main()
