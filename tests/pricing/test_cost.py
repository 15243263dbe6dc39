"""The one cost of a record: the write path (``record --batch`` and ``prepare``), the pass
(``report`` in both cost modes), ``reprice`` and ``pricing cost`` all charge a generated set
of records what an independent oracle says."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiusage.errors import UsageError
from aiusage.pricing.modes import COST_MODES, parse_cost_mode
from aiusage.pricing.table import load_table
from aiusage.records.prepare import prepare
from oracle import COST_TABLE, COST_TABLE_YAML, USD_PER, record_cost

DAY = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()  # a closed day: reprice rewrites it
MODELS = [*COST_TABLE, "t-unknown"]


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    """The fields of one call: any model of the test table or an unknown one, cache and
    reasoning tokens, failures, batch calls, and sometimes a recorded cost or currency."""
    write = draw(st.integers(0, 3000))
    output = draw(st.integers(0, 2000))
    rec: dict[str, Any] = {
        "model": draw(st.sampled_from(MODELS)),
        "input_tokens": draw(st.integers(0, 5000)),
        "cache_read_tokens": draw(st.integers(0, 3000)),
        "cache_write_tokens": write,
        "output_tokens": output,
        "reasoning_tokens": draw(st.integers(0, output)),
        "success": draw(st.booleans()),
    }
    one_hour = draw(st.integers(0, write))
    if one_hour:
        rec["cache_write_1h_tokens"] = one_hour
    if draw(st.booleans()):
        rec["service_tier"] = "batch"
    if draw(st.integers(0, 3)) == 0:
        rec["cost"] = draw(st.floats(0, 2, allow_nan=False, allow_subnormal=False))
    if draw(st.integers(0, 3)) == 0:
        rec["currency"] = draw(st.sampled_from(["USD", "EUR"]))
    return rec


def _by_model(records: list[dict[str, Any]], *, current: bool) -> dict[str, float]:
    """The oracle's report: per model, the cost in USD."""
    picos: dict[str, Fraction] = defaultdict(Fraction)
    for rec in records:
        amount, currency = record_cost(rec, current=current)
        picos[rec["model"]] += (amount or 0) * USD_PER[currency]
    return {model: float(total / 10**12) for model, total in picos.items()}


def _report(cli: Any, data: Path, mode: str) -> dict[str, float]:
    doc = cli("report", "-d", data, "--all", "--by", "model", "--cost", mode, "--json").json()
    return {row["model"]: row["cost"] for row in doc["rows"]}


def _lines(data: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line) for line in (data / "usage_2026-11-01.jsonl").read_bytes().splitlines()
    ]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(calls(), min_size=1, max_size=30))
def test_every_path_charges_what_the_oracle_does(cli: Any, records: list[dict[str, Any]]) -> None:
    for i, rec in enumerate(records):
        rec.update(v=1, id=f"r{i}", timestamp=DAY + i)
    with tempfile.TemporaryDirectory() as tmp:
        written, raw = Path(tmp, "written"), Path(tmp, "raw")
        for data in (written, raw):
            data.mkdir()
            (data / "pricing.yaml").write_text(COST_TABLE_YAML)
        # The write path: the bulk path, and prepare (what it hands the rest to).
        batch = Path(tmp, "batch.jsonl")
        batch.write_bytes(b"".join(orjson.dumps(rec) + b"\n" for rec in records))
        assert cli("record", "--batch", batch, "-d", written).exit_code == 0
        table = load_table(data_dir=written)
        for rec, line in zip(records, _lines(written), strict=True):
            expected = record_cost(rec, current=False)
            picos = None if line["cost"] is None else round(line["cost"] * 10**12)
            assert (picos, line["currency"]) == expected, rec
            assert prepare(rec, table=table, now=0)["cost"] == line["cost"]
        # The pass: over the records as written, and over the fields as given (records
        # without a cost are priced by the pass itself).
        (raw / "usage_2026-11-01.jsonl").write_bytes(batch.read_bytes())
        for data in (written, raw):
            assert _report(cli, data, "recorded") == _by_model(records, current=False)
            assert _report(cli, data, "current") == _by_model(records, current=True)
        # reprice: the plan (two passes), then the rewrite, record by record.
        plan = cli("reprice", "-d", raw, "--all", "--dry-run", "--json").json()
        assert {r["model"]: r["current_cost"] for r in plan["rows"]} == _by_model(
            records, current=True
        )
        assert cli("reprice", "-d", raw, "--all").exit_code == 0
        for rec, line in zip(records, _lines(raw), strict=True):
            expected = record_cost(rec, current=True)
            picos = None if line.get("cost") is None else round(line["cost"] * 10**12)
            assert (picos, line.get("currency") or "USD") == expected, rec
        # pricing cost: a successful call of a known model.
        for rec in records[:5]:
            if rec["model"] not in COST_TABLE:
                continue
            call = {**rec, "success": True}
            args = ["--input", rec["input_tokens"], "--output", rec["output_tokens"]]
            args += ["--cache-read", rec["cache_read_tokens"]]
            args += ["--cache-write", rec["cache_write_tokens"]]
            args += ["--cache-write-1h", rec.get("cache_write_1h_tokens", 0)]
            args += ["--reasoning", rec["reasoning_tokens"]]
            if rec.get("service_tier") == "batch":
                args.append("--batch")
            doc = cli("pricing", "cost", rec["model"], *args, "-d", written, "--json").json()
            picos, currency = record_cost({**call, "cost": None}, current=True)
            assert (round(doc["cost"] * 10**12), doc["currency"]) == (picos, currency)


def test_cost_modes_are_named() -> None:
    assert [parse_cost_mode(name) for name in COST_MODES] == ["recorded", "auto", "current"]
    with pytest.raises(UsageError, match="choose from recorded, auto, current"):
        parse_cost_mode("guess")
