"""Compare `aiusage import claude-code` with ccusage, day by day and model by model.

    npm install --prefix /tmp/ccu ccusage@20.0.24        # or let this script use npx
    python benchmarks/ccusage_compare.py CLAUDE_DIR [--ccusage /tmp/ccu/node_modules/.bin/ccusage]

Imports CLAUDE_DIR into a fresh data dir, runs `aiusage report --by model --period day
--json --all` and `ccusage claude daily --json --offline` (both in UTC), and prints every
(day, model) whose token counts differ or whose costs differ by a cent or more. Exits 1 when
there is one that is not explained.

One rule differs on purpose: a request whose prompt exceeds 200k tokens on a model with a
long-context tier. Anthropic bills the whole request at the premium rates ("all tokens incur
premium pricing"), and so does aiusage; ccusage charges each token type the premium rate only
for its tokens above 200k. Such rows are recomputed the ccusage way and reported as explained
when that accounts for the difference.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiusage.pricing.table import load_table
from aiusage.store.dayfiles import iter_lines, list_files

TOKENS = (
    ("input_tokens", "inputTokens"),
    ("output_tokens", "outputTokens"),
    ("cache_read_tokens", "cacheReadTokens"),
    ("cache_write_tokens", "cacheCreationTokens"),
)


def marginal_gap(data: Path) -> dict[tuple[str, str], float]:
    """(day, model) → how much more the long-context requests cost when, as Anthropic bills,
    the whole request takes the >200k tier, than when (ccusage) each token type pays the
    tier rate only for its tokens above the threshold."""
    table = load_table()
    gaps: dict[tuple[str, str], float] = {}
    for day_file in list_files(data):
        for line in iter_lines(day_file.path):
            rec = json.loads(line)
            entry = table.lookup(rec["model"])
            prompt = rec["input_tokens"] + rec["cache_read_tokens"] + rec["cache_write_tokens"]
            if entry is None or not entry.tiers or prompt <= entry.tiers[0].above:
                continue
            tier = entry.tiers[0]
            one_hour = rec.get("cache_write_1h_tokens") or 0
            marginal = Decimal(0)
            for tokens, field in (
                (rec["input_tokens"], "input"),
                (rec["output_tokens"], "output"),
                (rec["cache_read_tokens"], "cache_read"),
                (rec["cache_write_tokens"] - one_hour, "cache_write"),
                (one_hour, "cache_write_1h"),
            ):
                below, above = min(tokens, tier.above), max(tokens - tier.above, 0)
                base, high = getattr(entry.base, field), getattr(tier.rates, field)
                marginal += (below * base + above * high) / 1_000_000
            key = (day_file.day.isoformat(), rec["model"])
            gaps[key] = gaps.get(key, 0.0) + rec["cost"] - float(marginal)
    return gaps


def aiusage_days(
    claude_dir: Path,
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[tuple[str, str], float]]:
    """(day, model) → tokens and cost, from aiusage after a fresh import; and the
    long-context gaps of :func:`marginal_gap`."""
    aiusage = shutil.which("aiusage") or "aiusage"
    env = {**os.environ, "TZ": "UTC"}
    with tempfile.TemporaryDirectory() as data:
        subprocess.run([aiusage, "import", "claude-code", str(claude_dir), "-d", data, "--json"],
                       check=True, env=env, capture_output=True)  # fmt: skip
        out = subprocess.run([aiusage, "report", "-d", data, "--by", "model", "--period", "day",
                              "--json", "--all", "--tz", "UTC"],
                             check=True, env=env, capture_output=True).stdout  # fmt: skip
        gaps = marginal_gap(Path(data))
    days = {
        (row["period"], row["model"]): {**{a: row[a] for a, _ in TOKENS}, "cost": row["cost"]}
        for row in json.loads(out)["rows"]
    }
    return days, gaps


def ccusage_days(claude_dir: Path, ccusage: str | None) -> dict[tuple[str, str], dict[str, Any]]:
    """(day, model) → tokens and cost, from ccusage's daily report."""
    command = [ccusage] if ccusage else ["npx", "--yes", "ccusage@20.0.24"]
    env = {**os.environ, "TZ": "UTC", "CLAUDE_CONFIG_DIR": str(claude_dir)}
    out = subprocess.run([*command, "claude", "daily", "--json", "--offline", "--breakdown"],
                         check=True, env=env, capture_output=True).stdout  # fmt: skip
    days = {}
    for day in json.loads(out)["daily"]:
        for model in day["modelBreakdowns"]:
            days[(day["date"], model["modelName"])] = {
                **{a: model[c] for a, c in TOKENS},
                "cost": model["cost"],
            }
    return days


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("claude_dir", type=Path)
    parser.add_argument("--ccusage", help="the ccusage executable (default: npx ccusage@20.0.24)")
    args = parser.parse_args()
    ours, gaps = aiusage_days(args.claude_dir)
    theirs = ccusage_days(args.claude_dir, args.ccusage)
    differences = explained = 0
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key), theirs.get(key)
        if a is None or b is None:
            print(f"{key}: only in {'ccusage' if a is None else 'aiusage'}")
            differences += 1
            continue
        tokens = [name for name, _ in TOKENS if a[name] != b[name]]
        cents = abs(round(a["cost"], 2) - round(b["cost"], 2)) >= 0.01
        gap = gaps.get(key, 0.0)
        if cents and not tokens and abs(a["cost"] - gap - b["cost"]) < 0.005:
            explained += 1
            print(f"{key[0]} {key[1]}: cost {a['cost']:.6f} vs {b['cost']:.6f}: explained by "
                  f"long-context requests ({gap:.6f}: whole request at the >200k tier)")  # fmt: skip
            continue
        if tokens or cents:
            differences += 1
            what = [f"tokens differ in {tokens}"] if tokens else []
            what += [f"cost {a['cost']:.6f} vs {b['cost']:.6f}"] if cents else []
            print(f"{key[0]} {key[1]}: {'; '.join(what)}")
    total_a = sum(v["cost"] for v in ours.values())
    total_b = sum(v["cost"] for v in theirs.values())
    print(
        f"{len(ours)} (day, model) rows in aiusage, {len(theirs)} in ccusage; "
        f"{differences} differ, {explained} by the long-context rule only; "
        f"total cost ${total_a:,.2f} vs ${total_b:,.2f}"
    )
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
