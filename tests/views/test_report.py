"""Report numbers against an independent computation: a plain loop over ``json.loads``."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import aiusage
from conftest import call, write_jsonl
from oracle import CNY_PER_USD, PRICES, make_records

START = dt.datetime(2026, 10, 20, tzinfo=dt.UTC).timestamp()
END = dt.datetime(2026, 11, 6, tzinfo=dt.UTC).timestamp()  # spans both DST ends (EU, US)


def _make_records(seed: int, n: int) -> list[dict[str, Any]]:
    return make_records(seed, n, START, END)


def _write_store(directory: Path, records: list[dict[str, Any]]) -> None:
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by_day[dt.datetime.fromtimestamp(rec["timestamp"], dt.UTC).date().isoformat()].append(rec)
    for day, rows in by_day.items():
        write_jsonl(directory / f"usage_{day}.jsonl", rows)
    # Lines that are not records: skipped and counted.
    with open(directory / "usage_2026-10-21.jsonl", "ab") as fh:
        fh.write(b"not json\n")
        fh.write(b'{"timestamp": 1792600000, "model": "gpt-4o", "input_tokens": -4}\n')
        fh.write(b'{"kind": "counter", "key": "x", "n": 1, "timestamp": 1792600000}\n')
        fh.write(b'{"timestamp": 1792600000, "model": "gpt-4o", "output_tok')


def _period_key(ts: float, period: str, tz: ZoneInfo) -> str:
    d = dt.datetime.fromtimestamp(ts, tz)
    if period == "hour":
        return d.strftime("%Y-%m-%dT%H")
    if period == "day":
        return d.strftime("%Y-%m-%d")
    if period == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    if period == "month":
        return d.strftime("%Y-%m")
    return "total"


FIELD = {"user": "user_id", "model": "model", "function": "function", "provider": "provider"}


def _value(rec: dict[str, Any], dim: str) -> Any:
    if dim.startswith("tag:"):
        return (rec.get("tags") or {}).get(dim[4:])
    if dim == "provider":
        return rec.get("provider") or PRICES.get(rec["model"], (0, 0, 0, None))[3]
    return rec.get(FIELD[dim])


def _cost_usd(rec: dict[str, Any]) -> float:
    if rec.get("cost") is not None:
        return rec["cost"] / CNY_PER_USD if rec.get("currency") == "CNY" else rec["cost"]
    if rec["model"] in PRICES:
        p_in, p_out, p_cr, _ = PRICES[rec["model"]]
        return (
            rec["input_tokens"] * p_in
            + rec["output_tokens"] * p_out
            + rec["cache_read_tokens"] * p_cr
        ) / 1e6
    return 0.0


def expected(
    directory: Path, period: str, dims: list[str], tz: str
) -> dict[tuple[Any, ...], dict[str, Any]]:
    zone = ZoneInfo(tz)
    groups: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {
            "requests": 0,
            "successes": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_read_tokens": 0,
            "cost": 0.0,
            "unpriced": 0,
            "durations": [],
        }
    )
    for path in sorted(directory.glob("usage_*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("kind", "call") != "call" or rec.get("input_tokens", 0) < 0:
                continue
            key = (_period_key(rec["timestamp"], period, zone), *(_value(rec, d) for d in dims))
            g = groups[key]
            g["requests"] += 1
            g["successes"] += rec.get("success", True)
            g["input_tokens"] += rec.get("input_tokens", 0)
            g["output_tokens"] += rec.get("output_tokens", 0)
            g["cache_read_tokens"] += rec.get("cache_read_tokens", 0)
            g["cost"] += _cost_usd(rec)
            g["unpriced"] += rec.get("cost") is None and rec["model"] not in PRICES
            if rec.get("duration_ms") is not None:
                g["durations"].append(rec["duration_ms"])
    return groups


def _nearest_rank(values: list[float], q: float) -> float:
    ranked = sorted(values)
    return ranked[max(1, math.ceil(q * len(ranked))) - 1]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("store")
    _write_store(directory, _make_records(7, 1500))
    return directory


DIMS = [[], ["user"], ["model"], ["function", "provider"], ["tag:team"]]
PERIODS = ["hour", "day", "week", "month", "total"]
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"]


def _cases() -> list[Any]:
    """Every (dims, period, zone). The quick run keeps the 25 where the zone's index is
    ``(i + j) % 4``: still every pair of dims, period and zone; the other 75 are slow."""
    return [
        pytest.param(
            dims,
            period,
            tz,
            id=f"dims{i}-{period}-{tz}",
            marks=() if k == (i + j) % len(ZONES) else (pytest.mark.slow,),
        )
        for i, dims in enumerate(DIMS)
        for j, period in enumerate(PERIODS)
        for k, tz in enumerate(ZONES)
    ]


@pytest.mark.parametrize(("dims", "period", "tz"), _cases())
def test_report_equals_independent_computation(
    cli, store: Path, tz: str, period: str, dims: list[str]
) -> None:  # type: ignore[no-untyped-def]
    by = [arg for d in dims for arg in ("--by", d)]
    result = cli(
        "report", "--data-dir", store, "--all", "--period", period, "--tz", tz, "--json", *by
    )
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["skipped_lines"] == 3  # bad JSON, negative tokens, torn last line
    assert doc["unpriced_models"] == [
        {
            "model": "secret-llm",
            "requests": sum(g["unpriced"] for g in expected(store, "total", [], tz).values()),
        }
    ]
    want = expected(store, period, dims, tz)
    fields = [FIELD.get(d, d) for d in dims]
    got = {(row["period"], *(row[f] for f in fields)): row for row in doc["rows"]}
    assert set(got) == set(want)
    # In the default order: periods in order, the most expensive group first, then by the
    # group's values as text.
    order = [(r["period"], -r["cost"], *(str(r[f]) for f in fields)) for r in doc["rows"]]
    assert order == sorted(order)
    for key, exp in want.items():
        row = got[key]
        for metric in (
            "requests",
            "successes",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
        ):
            assert row[metric] == exp[metric], (key, metric)
        assert row["cost"] == pytest.approx(exp["cost"], abs=1e-9), key
        assert row["unpriced_requests"] == exp["unpriced"]
        # Percentiles within the histogram's 1% of the exact nearest rank (and the 3
        # decimals shown), in groups of one call to groups of hundreds.
        for q, name in (
            (0.5, "p50_duration_ms"),
            (0.95, "p95_duration_ms"),
            (0.99, "p99_duration_ms"),
        ):
            exact = _nearest_rank(exp["durations"], q)
            assert abs(row[name] - exact) <= 0.01 * exact + 0.001, (key, name)
    assert doc["totals"]["requests"] == sum(g["requests"] for g in want.values())
    assert doc["totals"]["cost"] == pytest.approx(sum(g["cost"] for g in want.values()), abs=1e-9)


def test_totals_equal_across_periods(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    totals = [
        cli(
            "report", "-d", store, "--all", "--period", p, "--tz", "America/New_York", "--json"
        ).json()["totals"]
        for p in ("hour", "day", "week", "month", "total")
    ]
    assert all(t == totals[0] for t in totals)


def test_days_range_in_zone(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    # --since/--until with dates: whole local days, until inclusive.
    doc = cli(
        "report",
        "-d",
        store,
        "--since",
        "2026-10-31",
        "--until",
        "2026-11-02",
        "--tz",
        "America/New_York",
        "--json",
    ).json()
    assert [r["period"] for r in doc["rows"]] == ["2026-10-31", "2026-11-01", "2026-11-02"]
    want = expected(store, "day", [], "America/New_York")
    for row in doc["rows"]:
        assert row["requests"] == want[(row["period"],)]["requests"]
    assert doc["range"]["since"] == "2026-10-31T00:00:00-04:00"
    assert doc["range"]["until"] == "2026-11-03T00:00:00-05:00"


def test_default_report_fills_empty_days(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC)
    write_jsonl(data_dir / f"usage_{now.date().isoformat()}.jsonl", [call(now.timestamp() - 1)])
    doc = cli("report", "-d", data_dir, "--json").json()
    assert len(doc["rows"]) == 7
    assert doc["rows"][-1]["period"] == now.date().isoformat()
    assert doc["rows"][-1]["requests"] == 1
    assert doc["rows"][-1]["models"] == ["gpt-4o"]
    assert sum(r["requests"] for r in doc["rows"]) == 1


def test_filters_sort_and_limit(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    doc = cli(
        "report",
        "-d",
        store,
        "--all",
        "--period",
        "total",
        "--by",
        "user",
        "--user",
        "ann",
        "--user",
        "bob",
        "--json",
    ).json()
    assert {r["user_id"] for r in doc["rows"]} == {"ann", "bob"}
    assert doc["filters"] == {"user_id": ["ann", "bob"]}
    doc = cli(
        "report",
        "-d",
        store,
        "--all",
        "--period",
        "total",
        "--by",
        "model",
        "--sort",
        "requests",
        "--limit",
        "2",
        "--json",
    ).json()
    assert len(doc["rows"]) == 2
    assert doc["rows"][0]["requests"] >= doc["rows"][1]["requests"]
    team = cli(
        "report", "-d", store, "--all", "--period", "total", "--tag", "team=a", "--json"
    ).json()
    want = sum(1 for rec in _make_records(7, 1500) if rec.get("tags", {}).get("team") == "a")
    assert team["totals"]["requests"] == want


@pytest.mark.parametrize(
    ("by", "sort", "limit"),
    [
        (["user", "model"], None, None),
        (["function"], None, 7),
        ("model", "-requests", None),
        ((), None, 3),
    ],
)
def test_streamed_rows_equal_listed_rows(
    store: Path, by: Any, sort: str | None, limit: int | None
) -> None:
    # The CLI builds rows as it writes them; the library default holds them as a list.
    workspace = aiusage.open(store)
    args = {"period": "day", "by": by, "sort": sort, "limit": limit, "all_time": True}
    listed = workspace.report(**args)
    streamed = workspace.report(**args, stream_rows=True)
    assert type(listed["rows"]) is list
    # Rows sorted by a metric are built to be sorted; in the default order, as written.
    assert (type(streamed["rows"]) is list) == (sort is not None)
    assert len(streamed["rows"]) == len(listed["rows"])
    assert {**streamed, "rows": list(streamed["rows"]), "generated_at": 0} == {
        **listed,
        "generated_at": 0,
    }


def test_currency_conversion(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    usd = cli("report", "-d", store, "--all", "--period", "total", "--json").json()
    cny = cli(
        "report", "-d", store, "--all", "--period", "total", "--currency", "CNY", "--json"
    ).json()
    assert cny["currency"] == "CNY"
    assert cny["totals"]["cost"] == pytest.approx(usd["totals"]["cost"] * CNY_PER_USD, rel=1e-9)
    bad = cli("report", "-d", store, "--all", "--currency", "XYZ", "--json")
    assert bad.exit_code == 2
    assert "XYZ" in bad.stderr


def test_top_users(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    doc = cli("top-users", "-d", store, "--all", "--limit", "2", "--json").json()
    assert doc["schema"] == "aiusage.top-users/1"
    want = expected(store, "total", ["user"], "UTC")
    ranked = sorted(want.items(), key=lambda kv: -kv[1]["cost"])
    assert [u["user_id"] for u in doc["users"]] == [k[1] for k, _ in ranked[:2]]
    total = sum(g["cost"] for g in want.values())
    for user in doc["users"]:
        exp = want[("total", user["user_id"])]
        assert user["cost"] == pytest.approx(exp["cost"], abs=1e-9)
        assert user["share"] == pytest.approx(exp["cost"] / total, abs=1e-6)
        assert user["favourite_model"]
    assert doc["users_total"] == 4
    by_req = cli("top-users", "-d", store, "--all", "--by", "requests", "--json").json()
    reqs = [u["requests"] for u in by_req["users"]]
    assert reqs == sorted(reqs, reverse=True)


def test_cost_sums_do_not_drift(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ts = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC).timestamp()
    with open(data_dir / "usage_2026-11-01.jsonl", "wb") as fh:
        line = json.dumps(call(ts, cost=0.000123, currency="USD")).encode() + b"\n"
        fh.write(line * 100_000)
    doc = cli("report", "-d", data_dir, "--all", "--period", "total", "--json").json()
    assert doc["totals"]["cost"] == 12.3


def test_models_comparison(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    doc = cli("report", "-d", store, "--all", "--period", "total", "--by", "model", "--json").json()
    models = cli("models", "-d", store, "--all", "--json").json()
    assert models["schema"] == "aiusage.models/1"
    by_model = {r["model"]: r for r in doc["rows"]}
    for row in models["rows"]:
        base = by_model[row["model"]]
        priced = base["requests"] - base["unpriced_requests"]
        if priced:
            assert row["cost_per_call"] == pytest.approx(base["cost"] / priced)
        assert row["p95_duration_ms"] == base["p95_duration_ms"]
    per_call = [r["cost_per_call"] for r in models["rows"] if r["cost_per_call"] is not None]
    assert per_call == sorted(per_call)
    assert "Per call" in cli("models", "-d", store, "--all").stdout


def test_session_detail_and_key_usage(cli, store: Path) -> None:  # type: ignore[no-untyped-def]
    records = [r for r in _make_records(7, 1500) if r["session_id"] == "s2"]
    doc = cli(
        "report", "-d", store, "--all", "--period", "total", "--session", "s2", "--json"
    ).json()
    assert doc["totals"]["requests"] == len(records)
    assert doc["totals"]["first_seen"] is not None
    keys = cli(
        "report",
        "-d",
        store,
        "--all",
        "--period",
        "total",
        "--by",
        "key",
        "--by",
        "model",
        "--json",
    ).json()
    assert {r["api_key"] for r in keys["rows"]} == {"sk-…aaaa", "sk-…bbbb"}


def test_documents_hold_the_keys_their_types_declare(cli) -> None:  # type: ignore[no-untyped-def]
    """The row and total types renderers are checked against are what the builders emit."""
    from aiusage.views.document import METRICS, Metrics, ModelRow, ReportRow, TopUser

    sample = Path(__file__).resolve().parents[2] / "sample_logs"
    assert set(METRICS) <= set(Metrics.__annotations__)
    report = cli("report", "-d", sample, "--all", "--by", "user,tag:team", "--json").json()
    assert set(report["totals"]) == set(Metrics.__annotations__)
    for row in report["rows"]:
        assert set(row) == set(ReportRow.__annotations__) | {"user_id", "tag:team"}
    by_model = cli("report", "-d", sample, "--all", "--by", "model", "--json").json()
    assert set(by_model["rows"][0]) == set(ReportRow.__annotations__) - {"models"} | {"model"}
    top = cli("top-users", "-d", sample, "--all", "--json").json()
    assert set(top["totals"]) == set(Metrics.__annotations__)
    assert [set(u) for u in top["users"]] == [set(TopUser.__annotations__)] * len(top["users"])
    models = cli("models", "-d", sample, "--all", "--json").json()
    assert [set(r) for r in models["rows"]] == [set(ModelRow.__annotations__)] * len(models["rows"])
