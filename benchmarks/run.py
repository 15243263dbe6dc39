"""aiusage benchmarks: cold and warm reports, DuckDB as the reference, record throughput and
start-up time, all measured in one run (medians of --repeat runs).

    pip install duckdb                 # the reference; not a dependency of aiusage
    python benchmarks/run.py                        # 1M records / 30 days
    python benchmarks/run.py --sets 1m,10m --repeat 3
    python benchmarks/run.py --sets 1m --import-mb 500     # + `import claude-code` on 500 MB

Data sets are generated once under benchmarks/data/ (deterministic: same seed, same bytes).
Prints a Markdown table: seconds, records/s, peak RSS and the ratio to DuckDB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SETS = {"1m": (1_000_000, 30), "10m": (10_000_000, 365)}
# The sets end today (UTC): `stats`, `check` and `trend` have no range flags and read the
# windows that end now, so data that ended earlier would leave them nothing to read.
END = dt.datetime.now(dt.UTC).date()
WRAP = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
)


def measure(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one command, run in a fresh wrapper process."""
    out = subprocess.run(
        [sys.executable, "-c", WRAP, *argv], capture_output=True, text=True, env=env, check=True
    )
    seconds, rss_kb, code = out.stdout.split()
    if code != "0":
        raise SystemExit(f"benchmark command failed: {' '.join(argv)}")
    return float(seconds), int(rss_kb) / 1024


def median_of(
    repeat: int, argv: list[str], env: dict[str, str] | None = None, before=None
) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        if before:
            before()
        runs.append(measure(argv, env))
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def dataset(name: str) -> tuple[Path, int]:
    records, days = SETS[name]
    path = DATA / f"{name}-{END}"
    marker = path / ".complete"
    if not marker.exists():
        for stale in DATA.glob(f"{name}-*"):  # sets of other days
            shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([sys.executable, str(HERE / "generate.py"), str(path), "--records", str(records),
                        "--days", str(days), "--end", END.isoformat(), "--seed", "7"], check=True)  # fmt: skip
        marker.write_text("ok")
    n = 0
    for f in path.glob("usage_*.jsonl"):
        with open(f, "rb") as fh:
            n += sum(1 for _ in fh)
    return path, n


# The reference computes what the report shows (README: Machine output), so the ratio compares equal
# work: per group, requests, successes, the five token sums, cache hits, cost, unpriced
# calls, the largest call, first and last timestamps, and mean and p50/p95/p99 of both
# latencies. It does not price records that lack a cost, nor validate or report bad lines.
METRICS_SQL = (
    "count(*), count(*) FILTER (WHERE success), sum(input_tokens), sum(output_tokens), "
    "sum(cache_read_tokens), count(*) FILTER (WHERE cache_read_tokens > 0), "
    "sum(cache_write_tokens), sum(reasoning_tokens), sum(cost), count(*) FILTER (WHERE cost IS NULL), "
    "max(coalesce(input_tokens, 0) + coalesce(output_tokens, 0) + coalesce(cache_read_tokens, 0) "
    "+ coalesce(cache_write_tokens, 0)), min(timestamp), max(timestamp), avg(duration_ms), "
    "approx_quantile(duration_ms, [0.5, 0.95, 0.99]), avg(ttfb_ms), "
    "approx_quantile(ttfb_ms, [0.5, 0.95, 0.99])"
)
COLUMNS_SQL = ", ".join(
    f"{name}: '{kind}'"
    for name, kind in (
        ("timestamp", "DOUBLE"), ("kind", "VARCHAR"), ("user_id", "VARCHAR"), ("model", "VARCHAR"),
        ("currency", "VARCHAR"), ("success", "BOOLEAN"), ("input_tokens", "BIGINT"),
        ("output_tokens", "BIGINT"), ("cache_read_tokens", "BIGINT"), ("cache_write_tokens", "BIGINT"),
        ("reasoning_tokens", "BIGINT"), ("cost", "DOUBLE"), ("duration_ms", "DOUBLE"), ("ttfb_ms", "DOUBLE"),
    )
)  # fmt: skip
DAY_SQL = "strftime(to_timestamp(timestamp), '%Y-%m-%d')"
# The reference this benchmark used before (five sums per day × model): shown for context.
BARE_SQL = (
    f"SELECT {DAY_SQL}, model, count(*), sum(input_tokens), sum(output_tokens), "
    "sum(cache_read_tokens), sum(cost) FROM read_json({files}, format='newline_delimited', "
    "columns={{timestamp: 'DOUBLE', input_tokens: 'BIGINT', output_tokens: 'BIGINT', "
    "cache_read_tokens: 'BIGINT', cost: 'DOUBLE', model: 'VARCHAR'}}) GROUP BY ALL"
)


def reference_sql(files: str, by: str) -> str:
    """The DuckDB query computing the report's metrics per ``by`` (SQL expressions)."""
    return (
        f"SELECT {by}, currency, {METRICS_SQL} FROM read_json({files}, "
        f"format='newline_delimited', columns={{{COLUMNS_SQL}}}) "
        "WHERE coalesce(kind, 'call') = 'call' GROUP BY ALL"
    )


def duckdb_seconds(
    path: Path, days: int | None, repeat: int, *, by: str = f"{DAY_SQL}, model", bare: bool = False
) -> float | None:
    """Median seconds of the reference query over the last ``days`` files (all: None)."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return None
    files = sorted(path.glob("usage_*.jsonl"))
    if days is not None:
        files = files[-days:]
    pattern = "[" + ",".join(f"'{f}'" for f in files) + "]"
    sql = BARE_SQL.format(files=pattern) if bare else reference_sql(pattern, by)
    code = f'import duckdb; con = duckdb.connect(); con.execute("SET threads=2"); con.execute({sql!r}).fetchall()'
    return median_of(repeat, [sys.executable, "-c", code])[0]


def measure_set(
    name: str, repeat: int, aiusage: list[str]
) -> list[tuple[str, float, float | None, float, str]]:
    """The benchmark rows of one data set: each command cold and warm, against DuckDB."""
    rows: list[tuple[str, float, float | None, float, str]] = []
    path, n = dataset(name)
    env = {**os.environ, "TZ": "UTC"}
    now = f"--until={END.isoformat()}"
    report = [*aiusage, "report", "-d", str(path), "--json"]
    limits = [
        "--daily-budget",
        "1e6",
        "--monthly-budget",
        "1e7",
        "--user-quota",
        "user_001=1e6",
    ]

    def clear(path: Path = path) -> None:
        shutil.rmtree(path / ".cache", ignore_errors=True)

    full_duck = duckdb_seconds(path, None, repeat)
    bare_duck = duckdb_seconds(path, None, repeat, bare=True)
    window_duck = duckdb_seconds(path, 30, repeat)
    users_duck = duckdb_seconds(path, 30, repeat, by="user_id, model")
    for label, argv, duck, count in (
        (f"{name}: cold full scan, day×model", [*report, "--all", "--by", "model", "--no-cache"], full_duck, n),
        (f"{name}: cold one day's file", [*report, f"--since={END}", f"--until={END}", "--no-cache"], None, None),
        (f"{name}: warm one day's file", [*report, f"--since={END}", f"--until={END}"], None, None),
        (f"{name}: cold `report --days 30`", [*report, "--days", "30", now, "--no-cache"], window_duck, None),
        (f"{name}: warm `report --days 30`", [*report, "--days", "30", now], window_duck, None),
        (f"{name}: cold `top-users --days 30`", [*aiusage, "top-users", "-d", str(path), "--days", "30", now, "--json", "--no-cache"], users_duck, None),
        (f"{name}: warm `top-users --days 30`", [*aiusage, "top-users", "-d", str(path), "--days", "30", now, "--json"], users_duck, None),
        (f"{name}: cold `trend`", [*aiusage, "trend", "-d", str(path), "--json", "--no-cache"], None, None),
        (f"{name}: warm `trend`", [*aiusage, "trend", "-d", str(path), "--json"], None, None),
        (f"{name}: cold `stats`", [*aiusage, "stats", "-d", str(path), "--json", "--no-cache"], None, None),
        (f"{name}: warm `stats`", [*aiusage, "stats", "-d", str(path), "--json"], None, None),
        (f"{name}: cold `check` (budget, quota)", [*aiusage, "check", "-d", str(path), *limits, "--no-cache"], None, None),
        (f"{name}: warm `check` (budget, quota)", [*aiusage, "check", "-d", str(path), *limits], None, None),
    ):  # fmt: skip
        warm = "warm" in label
        if warm:
            measure(argv, env)  # build the cache first
        seconds, rss = median_of(repeat, argv, env, None if warm else clear)
        rate = f"{count / seconds:,.0f}" if count else ""
        ratio = f"{duck / seconds:.2f}× DuckDB ({duck:.2f} s)" if duck else ""
        if "full scan" in label and duck and bare_duck:
            ratio += f"; DuckDB's bare 5-sum query: {bare_duck:.2f} s"
        rows.append((label, seconds, count / seconds if count else None, rss, ratio))
        print(f"{label}: {seconds:.3f} s {rate} {rss:.0f} MB {ratio}", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="1m")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--import-mb", type=int, default=500, help="Claude Code folder size (0: skip)"
    )
    args = parser.parse_args()
    aiusage = [shutil.which("aiusage") or "aiusage"]
    # Byte-compile aiusage as `pip install` does (an editable install, or a shell with
    # PYTHONDONTWRITEBYTECODE set, would otherwise compile every module on every start).
    import aiusage as package

    env_compile = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(package.__file__).parent)],
                   check=True, env=env_compile, stdout=subprocess.DEVNULL)  # fmt: skip
    rows: list[tuple[str, float, float | None, float, str]] = []

    start_up = median_of(args.repeat, [*aiusage, "--version"])
    rows.append(("`aiusage --version`", start_up[0], None, start_up[1], ""))

    for name in filter(None, args.sets.split(",")):
        rows += measure_set(name, args.repeat, aiusage)

    with tempfile.TemporaryDirectory() as tmp:
        code = (
            "import aiusage, sys, time; n = int(sys.argv[1]); t = time.perf_counter(); laps = []\n"
            "for i in range(n):\n"
            "    s = time.perf_counter()\n"
            "    aiusage.record(data_dir=sys.argv[2], raise_errors=True, model='gpt-4o-mini', input_tokens=i, output_tokens=5, user_id='u')\n"
            "    laps.append(time.perf_counter() - s)\n"
            "laps.sort(); print(n / (time.perf_counter() - t), laps[int(n * 0.99)] * 1000)"
        )
        single, p99 = map(
            float,
            subprocess.run(
                [sys.executable, "-c", code, "20000", tmp],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split(),
        )
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen([sys.executable, "-c", code, "20000", tmp], stdout=subprocess.DEVNULL)
            for _ in range(4)
        ]
        for p in procs:
            p.wait()
        four = 80000 / (time.perf_counter() - t0)
        batch = Path(tmp) / "batch.jsonl"
        batch.write_bytes(
            b"".join(
                json.dumps(
                    {
                        "model": "gpt-4o",
                        "input_tokens": i,
                        "output_tokens": 3,
                        "timestamp": 1795000000 + i,
                    }
                ).encode()
                + b"\n"
                for i in range(200_000)
            )
        )
        target = Path(tmp) / "batch-data"
        seconds, rss = median_of(
            args.repeat,
            [*aiusage, "record", "--batch", str(batch), "-d", str(target)],
            before=lambda: shutil.rmtree(target, ignore_errors=True),
        )
    rows.append(
        ("`aiusage.record()` 1 process", 20000 / single, single, 0, f"appends/s, p99 {p99:.2f} ms")
    )
    rows.append(("`aiusage.record()` 4 processes", 80000 / four, four, 0, "appends/s"))
    rows.append(("`record --batch` 200k lines", seconds, 200_000 / seconds, rss, ""))

    if args.import_mb:
        folder = DATA / f"claude-{args.import_mb}mb"
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)
            subprocess.run([sys.executable, str(HERE / "claude_code.py"), str(folder),
                            "--mb", str(args.import_mb), "--seed", "1"], check=True)  # fmt: skip
            (folder / ".complete").write_text("ok")
        lines = sum(data.count(b"\n") for data in map(Path.read_bytes, folder.rglob("*.jsonl")))
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "data"
            argv = [*aiusage, "import", "claude-code", str(folder), "-d", str(target), "--json"]
            seconds, rss = median_of(
                args.repeat, argv, before=lambda: shutil.rmtree(target, ignore_errors=True)
            )
            again, _ = median_of(args.repeat, argv)
        label = f"`import claude-code` {args.import_mb} MB"
        rows.append((label, seconds, lines / seconds, rss, "lines/s"))
        rows.append((f"{label} again (nothing new)", again, None, 0, ""))

    print("| benchmark | seconds | records/s | peak RSS | vs DuckDB |")
    print("|---|---:|---:|---:|---|")
    for label, seconds, rate, rss, note in rows:
        rate_text = f"{rate:,.0f}" if rate else ""
        rss_text = f"{rss:.0f} MB" if rss else ""
        print(f"| {label} | {seconds:.3f} | {rate_text} | {rss_text} | {note} |")


if __name__ == "__main__":
    main()
