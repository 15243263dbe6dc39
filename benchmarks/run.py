"""aiusage benchmarks: cold and warm reports, record throughput, start-up, import and export,
each against a reference measured in the same run (medians of --repeat runs).

    pip install duckdb polars          # the references; not dependencies of aiusage
    python benchmarks/run.py                     # the hc and 1m sets, a 100 MB Claude Code folder
    python benchmarks/run.py --sets hc,1m,10m    # and the 10M-record / 365-day set
    python benchmarks/run.py --sets hc --import-mb 0     # 1M records from 1,000 users only

Data sets are generated once under benchmarks/data/ (deterministic: same seed, same bytes).
Every command runs in a fresh wrapper process that reports its wall seconds, CPU seconds
(user + sys of the child, from RUSAGE_CHILDREN) and peak RSS. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
# name: (generator, records, days)
SETS = {
    "1m": ("generate.py", 1_000_000, 30),
    "10m": ("generate.py", 10_000_000, 365),
    "hc": ("generate_cardinality.py", 1_000_000, 30),
}
# The sets end today (UTC): `stats`, `check` and `trend` have no range flags and read the
# windows that end now, so data that ended earlier would leave them nothing to read.
END = dt.datetime.now(dt.UTC).date()
ENV = {**os.environ, "TZ": "UTC"}
CCUSAGE = "ccusage@20.0.24"
WRAP = (
    "import resource, subprocess, sys, time\n"
    "def cpu():\n"
    "    r = resource.getrusage(resource.RUSAGE_CHILDREN); return r.ru_utime + r.ru_stime\n"
    "with open(sys.argv[1], 'wb') as out:\n"
    "    c, t = cpu(), time.perf_counter()\n"
    "    r = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL)\n"
    "    wall, used = time.perf_counter() - t, cpu() - c\n"
    "print(wall, used, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
)


class Run(NamedTuple):
    wall: float  # seconds
    cpu: float | None  # user + sys seconds
    rss: float | None  # peak RSS, MB
    output: str = ""  # the command's stdout, when asked for


class Row(NamedTuple):
    label: str
    run: Run | None  # None: a further reference of the row above
    reference: str = ""
    ratio: str = ""


def measure(argv: list[str], env: dict[str, str] | None = ENV, *, capture: bool = False) -> Run:
    """Wall s, CPU s and peak RSS of one command, run in a fresh wrapper process."""
    with tempfile.NamedTemporaryFile(suffix=".out") as out:
        target = out.name if capture else os.devnull
        res = subprocess.run([sys.executable, "-c", WRAP, target, *argv],
                             capture_output=True, text=True, env=env, check=True)  # fmt: skip
        wall, cpu, rss_kb, code = res.stdout.split()
        if code != "0":
            raise SystemExit(f"benchmark command failed: {' '.join(argv)}")
        text = Path(out.name).read_text() if capture else ""
    return Run(float(wall), float(cpu), int(rss_kb) / 1024, text)


def median_of(
    repeat: int,
    argv: list[str],
    env: dict[str, str] | None = ENV,
    before: Callable[[], object] | None = None,
) -> Run:
    """Median wall and CPU seconds and the largest peak RSS of ``repeat`` runs."""
    runs = []
    for _ in range(repeat):
        if before:
            before()
        runs.append(measure(argv, env))
    return Run(
        statistics.median(r.wall for r in runs),
        statistics.median(r.cpu or 0.0 for r in runs),
        max(r.rss or 0.0 for r in runs),
    )


def secs(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def describe(name: str, run: Run) -> str:
    """A reference's numbers, for the reference column."""
    return f"{name}: {secs(run.wall)} s, {secs(run.cpu or 0)} s CPU, {run.rss:.0f} MB"


def python_code(repeat: int, code: str, *args: str, env: dict[str, str] | None = ENV) -> Run:
    return median_of(repeat, [sys.executable, "-c", code, *args], env)


def dataset(name: str) -> tuple[Path, int]:
    script, records, days = SETS[name]
    path = DATA / f"{name}-{END}"
    marker = path / ".complete"
    if not marker.exists():
        for stale in DATA.glob(f"{name}-*"):  # sets of other days
            shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([sys.executable, str(HERE / script), str(path), "--records", str(records),
                        "--days", str(days), "--end", END.isoformat(), "--seed", "7"], check=True)  # fmt: skip
        marker.write_text("ok")
    n = 0
    for f in path.glob("usage_*.jsonl"):
        with open(f, "rb") as fh:
            n += sum(1 for _ in fh)
    return path, n


def clear_cache(path: Path) -> Callable[[], None]:
    return lambda: shutil.rmtree(path / ".cache", ignore_errors=True)


def table_line(row: Row) -> str:
    label, run, reference, ratio = row
    wall = f"{run.wall:.3f}" if run else ""
    cpu = f"{run.cpu:.2f}" if run and run.cpu is not None else ""
    rss = f"{run.rss:.0f} MB" if run and run.rss else ""
    return f"| {label} | {wall} | {cpu} | {rss} | {reference} | {ratio} |"


def progress(rows: list[Row]) -> list[Row]:
    for row in rows:
        print(table_line(row), file=sys.stderr, flush=True)
    return rows


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


def file_list(path: Path, days: int | None = None) -> list[str]:
    """The day files of ``path``, the last ``days`` of them (all: None)."""
    files = sorted(str(f) for f in path.glob("usage_*.jsonl"))
    return files[-days:] if days is not None else files


def duckdb_run(
    path: Path, days: int | None, repeat: int, *, by: str = f"{DAY_SQL}, model", bare: bool = False
) -> Run | None:
    """The reference query over the last ``days`` files (all: None), on 2 threads."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return None
    pattern = "[" + ",".join(f"'{f}'" for f in file_list(path, days)) + "]"
    sql = BARE_SQL.format(files=pattern) if bare else reference_sql(pattern, by)
    code = f'import duckdb; con = duckdb.connect(); con.execute("SET threads=2"); con.execute({sql!r}).fetchall()'
    return python_code(repeat, code)


# polars, the same metrics as METRICS_SQL per day × user × model × currency.
POLARS = """
import sys, polars as pl
tokens = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"]
schema = {"timestamp": pl.Float64, "kind": pl.String, "user_id": pl.String, "model": pl.String,
          "currency": pl.String, "success": pl.Boolean, **{t: pl.Int64 for t in tokens},
          "reasoning_tokens": pl.Int64, "cost": pl.Float64, "duration_ms": pl.Float64,
          "ttfb_ms": pl.Float64}
c = pl.col
day = (c("timestamp") * 1e6).cast(pl.Int64).cast(pl.Datetime("us")).dt.date().alias("day")
quantiles = [c(f).quantile(q).alias(f"{f}_p{q}") for f in ("duration_ms", "ttfb_ms") for q in (0.5, 0.95, 0.99)]
(pl.scan_ndjson(sys.argv[1:], schema=schema)
   .filter(c("kind").fill_null("call") == "call")
   .group_by(day, "user_id", "model", "currency")
   .agg(pl.len(), c("success").sum(), *[c(t).sum() for t in tokens],
        (c("cache_read_tokens") > 0).sum().alias("cache_hits"), c("reasoning_tokens").sum(),
        c("cost").sum(), c("cost").is_null().sum().alias("unpriced"),
        pl.sum_horizontal([c(t).fill_null(0) for t in tokens]).max().alias("largest"),
        c("timestamp").min().alias("first"), c("timestamp").max().alias("last"),
        c("duration_ms").mean(), c("ttfb_ms").mean().alias("ttfb_mean"), *quantiles)
   .collect())
"""
# The plain-Python floor: one process, orjson per line, a dict of group -> a few sums.
FLOOR = """
import sys, orjson
groups = {}
for name in sys.argv[1:]:
    day = name[-16:-6]
    with open(name, "rb") as f:
        for line in f:
            r = orjson.loads(line)
            key = (day, r.get("user_id"), r.get("model"))
            g = groups.get(key)
            if g is None:
                g = groups[key] = [0, 0, 0, 0.0]
            g[0] += 1
            g[1] += r.get("input_tokens") or 0
            g[2] += r.get("output_tokens") or 0
            g[3] += r.get("cost") or 0.0
print(len(groups))
"""


def cpu_ratio(name: str, ours: Run, ref: Run) -> str:
    return f"{(ref.cpu or 0) / (ours.cpu or 1e-9):.2f}× {name} CPU"


def hc_scan_rows(path: Path, n: int, repeat: int, aiusage: list[str]) -> list[Row]:
    """Cold day × user × model report against DuckDB, polars and a plain-Python floor."""
    argv = [*aiusage, "report", "-d", str(path), "--all", "--period", "day",
            "--by", "user", "--by", "model", "--json", "--no-cache"]  # fmt: skip
    ours = median_of(repeat, argv, before=clear_cache(path))
    label = f"hc: cold `report --all --period day --by user --by model` ({n / ours.wall:,.0f} records/s)"
    rows = [Row(label, ours)]
    refs: list[tuple[str, Run | None, str]] = []
    duck = duckdb_run(path, None, repeat, by=f"{DAY_SQL}, user_id, model")
    refs.append(("DuckDB", duck, "DuckDB is not installed"))
    try:
        import polars  # noqa: F401

        polars_env = {**ENV, "POLARS_MAX_THREADS": "2"}
        refs.append(("polars", python_code(repeat, POLARS, *file_list(path), env=polars_env), ""))
    except ImportError:
        refs.append(("polars", None, "polars is not installed: skipped"))
    refs.append(("Python floor", python_code(repeat, FLOOR, *file_list(path)), ""))
    for i, (name, run, note) in enumerate(refs):
        reference, ratio = (describe(name, run), cpu_ratio(name, ours, run)) if run else (note, "")
        if i == 0:
            rows[0] = rows[0]._replace(reference=reference, ratio=ratio)
        else:
            rows.append(Row(f"↳ same, vs {name}", None, reference, ratio))
    return rows


def hc_warm_rows(path: Path, repeat: int, aiusage: list[str]) -> list[Row]:
    """Warm top-users, and the table against --json on a warm cache."""
    argv = [*aiusage, "top-users", "-d", str(path), "--days", "30", f"--until={END}", "--json"]
    measure(argv)  # build the cache first
    ours = median_of(repeat, argv)
    duck = duckdb_run(path, 30, repeat, by="user_id")
    rows = [Row("hc: warm `top-users --days 30`", ours, describe("DuckDB by user_id", duck) if duck else "",
                f"{duck.wall / ours.wall:.2f}× DuckDB wall, {cpu_ratio('DuckDB', ours, duck)}" if duck else "")]  # fmt: skip
    # The table is drawn at COLUMNS wide whatever stdout is (output/terminal.py: make_console).
    report = [*aiusage, "report", "-d", str(path), "--all", "--by", "user", "--by", "function"]
    table_env = {**ENV, "COLUMNS": "160"}
    measure(report, table_env)
    table = median_of(repeat, report, table_env)
    as_json = median_of(repeat, [*report, "--json"], table_env)
    rows.append(Row("hc: warm `report --all --by user --by function`, table 160 wide", table,
                    describe("same with --json", as_json), f"table = {table.wall / as_json.wall:.2f}× --json wall, {(table.cpu or 0) / (as_json.cpu or 1e-9):.2f}× CPU"))  # fmt: skip
    return rows


def hc_export_rows(path: Path, repeat: int, aiusage: list[str]) -> list[Row]:
    """Parquet export against a cold report over the same set (target: ≤ 2.5× the report)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return [Row("hc: `export --format parquet`", None, "pyarrow is not installed: skipped")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "parquet"

        def clear() -> None:
            clear_cache(path)()
            shutil.rmtree(out, ignore_errors=True)

        argv = [*aiusage, "export", "--all", "--format", "parquet", "--out", str(out), "-d", str(path)]  # fmt: skip
        ours = median_of(repeat, argv, before=clear)
    report = median_of(repeat, [*aiusage, "report", "-d", str(path), "--all", "--json", "--no-cache"],
                       before=clear_cache(path))  # fmt: skip
    ratio = f"export = {ours.wall / report.wall:.2f}× report wall (target ≤ 2.5×), {(ours.cpu or 0) / (report.cpu or 1e-9):.2f}× CPU"
    label = "hc: cold `export --all --format parquet`"
    return [Row(label, ours, describe("cold `report --all --json`", report), ratio)]


def hc_rows(repeat: int, aiusage: list[str]) -> list[Row]:
    path, n = dataset("hc")
    rows = progress(hc_scan_rows(path, n, repeat, aiusage))
    rows += progress(hc_warm_rows(path, repeat, aiusage))
    return rows + progress(hc_export_rows(path, repeat, aiusage))


def measure_set(name: str, repeat: int, aiusage: list[str]) -> list[Row]:
    """The benchmark rows of one data set: each command cold and warm, against DuckDB."""
    rows: list[Row] = []
    path, n = dataset(name)
    now = f"--until={END.isoformat()}"
    report = [*aiusage, "report", "-d", str(path), "--json"]
    limits = ["--daily-budget", "1e6", "--monthly-budget", "1e7", "--user-quota", "user_001=1e6"]
    full_duck = duckdb_run(path, None, repeat)
    bare_duck = duckdb_run(path, None, repeat, bare=True)
    window_duck = duckdb_run(path, 30, repeat)
    users_duck = duckdb_run(path, 30, repeat, by="user_id, model")
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
            measure(argv)  # build the cache first
        run = median_of(repeat, argv, before=None if warm else clear_cache(path))
        title = f"{label} ({count / run.wall:,.0f} records/s)" if count else label
        reference = describe("DuckDB", duck) if duck else ""
        if "full scan" in label and duck and bare_duck:
            reference += f"; DuckDB's bare 5-sum query: {bare_duck.wall:.2f} s"
        ratio = f"{duck.wall / run.wall:.2f}× DuckDB wall" if duck else ""
        rows += progress([Row(title, run, reference, ratio)])
    return rows


def start_up_rows(repeat: int, aiusage: list[str]) -> list[Row]:
    """`report --help` and a report over an empty dir against `--version` and `python -c pass`."""
    version = median_of(repeat, [*aiusage, "--version"])
    bare = median_of(repeat, [sys.executable, "-c", "pass"])
    reference = f"{describe('`--version`', version)}; {describe('`python -c pass`', bare)}"
    rows = [Row("`aiusage --version`", version, describe("`python -c pass`", bare),
                f"{version.wall / bare.wall:.2f}× `python -c pass` wall")]  # fmt: skip
    with tempfile.TemporaryDirectory() as empty:
        for label, argv in (("`aiusage report --help`", [*aiusage, "report", "--help"]),
                            ("`aiusage report -d EMPTYDIR`", [*aiusage, "report", "-d", empty])):  # fmt: skip
            run = median_of(repeat, argv)
            ratio = f"{run.wall / version.wall:.2f}× `--version`, {run.wall / bare.wall:.2f}× `python -c pass` wall"
            rows.append(Row(label, run, reference, ratio))
    return progress(rows)


# One timed call per iteration: prints calls/s and the p99 of a call in ms.
LOOP = """
import sys, time
{setup}
n = int(sys.argv[1]); laps = []; t = time.perf_counter()
for i in range(n):
    s = time.perf_counter()
    {call}
    laps.append(time.perf_counter() - s)
laps.sort(); print(n / (time.perf_counter() - t), laps[int(n * 0.99)] * 1000)
"""
RECORD = "aiusage.record(data_dir=sys.argv[2], raise_errors=True, model='gpt-4o-mini', input_tokens=i, output_tokens=5, user_id='u')"
# A line like record()'s (~330 bytes), built per call.
LINE = """
import fcntl, os, orjson
path = os.path.join(sys.argv[2], "floor.jsonl")
def line(i):
    return orjson.dumps({"v": 1, "id": os.urandom(16).hex(), "kind": "call", "timestamp": time.time(),
        "model": "gpt-4o-mini", "provider": "openai", "user_id": "u", "input_tokens": i,
        "cache_read_tokens": 0, "cache_write_tokens": 0, "output_tokens": 5, "reasoning_tokens": 0,
        "total_tokens": i + 5, "cost": 3.75e-6, "currency": "USD", "success": True, "host": "vm",
        "price_ref": "gpt-4o-mini@7bcead183dae"}, option=orjson.OPT_APPEND_NEWLINE)
"""
OPEN = "os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)"
LOOPS = {
    "aiusage": LOOP.format(setup="import aiusage", call=RECORD),
    "floor (a) open+flock+write+close": LOOP.format(
        setup=LINE, call=f"fd = {OPEN}; fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, line(i)); os.close(fd)"),
    "floor (b) kept fd+flock+write": LOOP.format(
        setup=f"{LINE}fd = {OPEN}",
        call="fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, line(i)); fcntl.flock(fd, fcntl.LOCK_UN)"),
}  # fmt: skip


def loop_run(repeat: int, code: str, calls: int) -> tuple[Run, float, float]:
    """Median process run, calls/s and p99 ms of ``calls`` calls in one process."""
    runs, rates, p99s = [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            run = measure([sys.executable, "-c", code, str(calls), tmp], capture=True)
        rate, p99 = map(float, run.output.split())
        runs.append(run)
        rates.append(rate)
        p99s.append(p99)
    median = Run(statistics.median(r.wall for r in runs), statistics.median(r.cpu or 0 for r in runs),
                 max(r.rss or 0 for r in runs))  # fmt: skip
    return median, statistics.median(rates), statistics.median(p99s)


def record_rows(repeat: int, aiusage: list[str], calls: int = 20000) -> list[Row]:
    """record() in one process against plain-Python appends; 4 processes; record --batch."""
    results = {name: loop_run(repeat, code, calls) for name, code in LOOPS.items()}
    ours, rate, p99 = results.pop("aiusage")
    rows = []
    for i, (name, (run, ref_rate, ref_p99)) in enumerate(results.items()):
        reference = f"{name}: {ref_rate:,.0f}/s, p99 {ref_p99:.3f} ms, {run.cpu:.2f} s CPU"
        ratio = f"{rate / ref_rate:.2f}× the floor's calls/s"
        label = f"`aiusage.record()` 1 process, {calls:,} calls: {rate:,.0f}/s, p99 {p99:.3f} ms"
        rows.append(
            Row(label, ours, reference, ratio) if i == 0 else Row("↳ same", None, reference, ratio)
        )
    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            sys.executable,
            "-c",
            LOOP.format(setup="import aiusage", call=RECORD),
            str(calls),
            tmp,
        ]
        cpu0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL) for _ in range(4)]
        for p in procs:
            p.wait()
        wall, cpu1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
        rows.append(
            Row(f"`aiusage.record()` 4 processes: {4 * calls / wall:,.0f}/s", Run(wall, cpu, None))
        )
        batch = Path(tmp) / "batch.jsonl"
        batch.write_bytes(b"".join(json.dumps({"model": "gpt-4o", "input_tokens": i, "output_tokens": 3,
                                               "timestamp": 1795000000 + i}).encode() + b"\n"
                                   for i in range(200_000)))  # fmt: skip
        target = Path(tmp) / "batch-data"
        run = median_of(repeat, [*aiusage, "record", "--batch", str(batch), "-d", str(target)],
                        before=lambda: shutil.rmtree(target, ignore_errors=True))  # fmt: skip
        rows.append(Row(f"`record --batch` 200k lines: {200_000 / run.wall:,.0f}/s", run))
    return progress(rows)


def ccusage_command() -> list[str] | None:
    """ccusage, installed once under benchmarks/data/ (None when npm cannot install it)."""
    prefix = DATA / CCUSAGE.replace("@", "-")
    binary = prefix / "node_modules" / ".bin" / "ccusage"
    if not binary.exists() and shutil.which("npm"):
        subprocess.run(["npm", "install", "--silent", "--prefix", str(prefix), CCUSAGE],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # fmt: skip
    return [str(binary)] if binary.exists() else None


def import_rows(repeat: int, aiusage: list[str], mb: int) -> list[Row]:
    """`import claude-code` on a generated Claude Code folder, against ccusage's daily report."""
    folder = DATA / f"claude-{mb}mb"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([sys.executable, str(HERE / "claude_code.py"), str(folder),
                        "--mb", str(mb), "--seed", "1"], check=True)  # fmt: skip
        (folder / ".complete").write_text("ok")
    lines = sum(data.count(b"\n") for data in map(Path.read_bytes, folder.rglob("*.jsonl")))
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "data"
        argv = [*aiusage, "import", "claude-code", str(folder), "-d", str(target), "--json"]
        ours = median_of(repeat, argv, before=lambda: shutil.rmtree(target, ignore_errors=True))
        again = median_of(repeat, argv)
    label = f"`import claude-code` {mb} MB: {lines / ours.wall:,.0f} lines/s"
    ccusage = ccusage_command()
    if ccusage is None:
        reference, ratio = f"{CCUSAGE} could not be installed (npm): skipped", ""
        print(reference, file=sys.stderr)
    else:
        env = {**ENV, "CLAUDE_CONFIG_DIR": str(folder)}
        ref = median_of(repeat, [*ccusage, "claude", "daily", "--json", "--offline"], env)
        reference = f"{describe(f'{CCUSAGE} `claude daily --json --offline`', ref)}, {lines / ref.wall:,.0f} lines/s"
        ratio = f"{cpu_ratio('ccusage', ours, ref)}, {ref.wall / ours.wall:.2f}× ccusage wall"
    return progress(
        [
            Row(label, ours, reference, ratio),
            Row(f"`import claude-code` {mb} MB again (nothing new)", again),
        ]
    )


def print_table(rows: list[Row]) -> None:
    print("| benchmark | wall s | CPU s | peak RSS | reference (same run) | ratio |")
    print("|---|---:|---:|---:|---|---|")
    for row in rows:
        print(table_line(row))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="hc,1m", help=f"comma-separated: {', '.join(SETS)}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--import-mb", type=int, default=100, help="Claude Code folder size (0: skip)"
    )
    args = parser.parse_args()
    # The aiusage next to this Python (a venv's, even when not activated), else on PATH.
    aiusage = [shutil.which("aiusage", path=Path(sys.executable).parent) or shutil.which("aiusage") or "aiusage"]  # fmt: skip
    # Byte-compile aiusage as `pip install` does (an editable install, or a shell with
    # PYTHONDONTWRITEBYTECODE set, would otherwise compile every module on every start).
    import aiusage as package

    env_compile = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(package.__file__).parent)],
                   check=True, env=env_compile, stdout=subprocess.DEVNULL)  # fmt: skip
    rows = start_up_rows(args.repeat, aiusage)
    for name in filter(None, args.sets.split(",")):
        rows += (
            hc_rows(args.repeat, aiusage)
            if name == "hc"
            else measure_set(name, args.repeat, aiusage)
        )
    rows += record_rows(args.repeat, aiusage)
    if args.import_mb:
        rows += import_rows(args.repeat, aiusage, args.import_mb)
    print_table(rows)


if __name__ == "__main__":
    main()
