from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from aiusage.output.json_csv import csv_chunks, json_bytes, json_chunks, to_csv, to_json
from conftest import call, write_jsonl


def test_csv_quotes_and_joins() -> None:
    text = to_csv(["a", "b", "c"], [{"a": 'x,"y"', "b": ["m1", "m2"], "c": None}])
    assert text == 'a,b,c\r\n"x,""y""",m1;m2,\r\n'
    assert list(csv.reader(io.StringIO(text)))[1] == ['x,"y"', "m1;m2", ""]


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx=1", "\rcmd|' /c calc'!A0"]


@pytest.mark.parametrize("text", FORMULAS)
def test_csv_text_cells_never_start_a_formula(text: str) -> None:
    rows = [{"user": text, "models": [text, "b"], "cost": -1.5, "requests": -3}]
    parsed = list(csv.reader(io.StringIO(to_csv(["user", "models", "cost", "requests"], rows))))
    assert parsed[1] == ["'" + text, "'" + text + ";b", "-1.5", "-3"]
    raw = list(csv.reader(io.StringIO(to_csv(["user"], rows, neutralise=False))))
    assert raw[1] == [text]


def test_every_csv_output_neutralises_formulas(cli, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    evil = "=cmd|' /C calc'!A0"
    write_jsonl(data_dir / "usage_2026-11-01.jsonl", [
        call(T, user_id=evil, model="@evil", function="-f", cost=1.5, currency="USD"),
    ])  # fmt: skip
    outputs = {
        "report": ["report", "-d", data_dir, "--all", "--by", "user,model,function", "--csv"],
        "top-users": ["top-users", "-d", data_dir, "--all", "--csv"],
        "export": ["export", "-d", data_dir, "--all", "--by", "user", "--format", "csv", "--out", "-"],
        "focus": ["export", "-d", data_dir, "--all", "--format", "csv", "--columns", "focus", "--out", "-"],
    }  # fmt: skip
    for name, args in outputs.items():
        result = cli(*args)
        assert result.exit_code == 0, (name, result.stderr)
        cells = [c for row in csv.reader(io.StringIO(result.stdout)) for c in row]
        assert evil not in cells, name
        assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")], name
        assert [c for c in cells if c.startswith("'")], name
        raw = cli(*args, "--raw-csv").stdout
        assert "'=" not in raw, name
        assert "'@" not in raw, name
        assert evil in raw or "@evil" in raw, name


def test_json_keeps_key_order() -> None:
    doc = {"schema": "aiusage.report/1", "b": 1, "a": [1.5, None]}
    text = to_json(doc)
    assert list(orjson.loads(text)) == ["schema", "b", "a"]
    assert text.endswith("\n")


class Lazy(Sequence[Any]):
    """A sequence that is not a list, as a view's lazily built rows are."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: Any) -> Any:
        return Lazy(self.items[index]) if isinstance(index, slice) else self.items[index]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip


@given(
    rows=st.lists(st.dictionaries(st.text(max_size=6), _JSON, max_size=4), max_size=9),
    others=st.lists(_JSON, max_size=2),
    chunk_rows=st.integers(1, 4),
)
def test_json_chunks_are_the_bytes_of_the_whole_document(
    rows: list[dict[str, Any]], others: list[Any], chunk_rows: int
) -> None:
    # Lazy rows anywhere among the keys, two lazy values, wide integers, text with NULs:
    # the pieces joined are exactly the document serialised whole with lists.
    doc = {
        "schema": "x",
        **{f"k{i}": v for i, v in enumerate(others)},
        "rows": rows,
        "more": rows[:2],
    }
    lazy = {**doc, "rows": Lazy(rows), "more": Lazy(rows[:2])}
    assert b"".join(json_chunks(lazy, chunk_rows=chunk_rows)) == json_bytes(doc)


@given(
    rows=st.lists(st.dictionaries(st.sampled_from("abc"), _JSON, max_size=3), max_size=9),
    chunk_rows=st.integers(1, 4),
)
def test_csv_in_pieces_is_the_csv_of_all_rows(rows: list[dict[str, Any]], chunk_rows: int) -> None:
    whole = "".join(csv_chunks("abc", rows, chunk_rows=len(rows) + 1))
    assert "".join(csv_chunks("abc", Lazy(rows), chunk_rows=chunk_rows)) == whole
    assert whole.count("\r\n") >= len(rows) + 1  # a header and every row


# --- the export command -------------------------------------------------------------------

T = 1_793_500_000.0


@pytest.fixture
def store(data_dir: Path) -> Path:
    write_jsonl(data_dir / "usage_2026-11-01.jsonl", [
        call(T, user_id="<script>alert(1)</script>", model="gpt-4o", function="chat", cost=1.5, currency="USD", duration_ms=800.0),
        call(T + 60, user_id="bob", model="claude-haiku-4-5", function="sum", cost=0.25, currency="USD", success=False),
        call(T + 120, user_id="bob", model="mystery", function="sum"),
    ])  # fmt: skip
    return data_dir


def test_json_export_is_stable_and_atomic(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    out.mkdir()
    first = cli("export", "-d", store, "--all", "--by", "model", "--out", out / "a.json")
    second = cli("export", "-d", store, "--all", "--by", "model", "--out", out / "b.json")
    assert second.exit_code == 0
    assert first.stdout.strip() == str(out / "a.json")
    a, b = (orjson.loads((out / n).read_bytes()) for n in ("a.json", "b.json"))
    a.pop("generated_at")
    b.pop("generated_at")
    assert a == b
    assert a["schema"] == "aiusage.report/1"
    named = cli("export", "-d", store, "--all", "--out", out).stdout.strip()
    assert Path(named).parent == out
    assert Path(named).name.startswith("usage_report_")
    assert Path(named).name.endswith(".json")


def test_interrupted_export_leaves_no_partial_file(
    cli, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "report.json"
    target.write_text("previous report")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", boom)
    result = cli("export", "-d", store, "--all", "--out", target)
    assert result.exit_code == 3
    assert target.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "report.json"]


def test_csv_focus_columns(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "focus.csv"
    cli("export", "-d", store, "--all", "--format", "csv", "--columns", "focus", "--out", out)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0])[:6] == [
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "BillingCurrency",
        "BilledCost",
        "EffectiveCost",
        "ListCost",
    ]
    assert sum(float(r["BilledCost"]) for r in rows) == pytest.approx(1.75)
    assert {r["ConsumedUnit"] for r in rows} == {"Tokens"}
    assert rows[0]["ChargePeriodStart"] == "2026-11-01T00:00:00+00:00"
    assert rows[0]["ChargePeriodEnd"] == "2026-11-02T00:00:00+00:00"


def test_prometheus_output_parses(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "aiusage.prom"
    cli("export", "-d", store, "--all", "--format", "prom", "--out", out)
    families = {f.name: f for f in text_string_to_metric_families(out.read_text())}
    assert {
        "aiusage_requests",
        "aiusage_cost",
        "aiusage_tokens",
        "aiusage_request_duration_seconds",
    } <= set(families)
    requests = sum(s.value for s in families["aiusage_requests"].samples)
    assert requests == 3
    cost = sum(s.value for s in families["aiusage_cost"].samples)
    assert cost == pytest.approx(1.75)


def test_prometheus_cardinality_cap() -> None:
    from aiusage.output.prometheus import to_prometheus

    rows = [{"user_id": f"u{i}", "model": "m", "function": "f", "requests": 1, "failures": 0, "cost": float(i),
             **{f"{t}_tokens": 1 for t in ("input", "output", "cache_read", "cache_write", "reasoning")},
             "p50_duration_ms": None, "p95_duration_ms": None, "p99_duration_ms": None} for i in range(10)]  # fmt: skip
    text = to_prometheus({"rows": rows, "currency": "USD"}, max_series=3)
    lines = [x for x in text.splitlines() if x.startswith("aiusage_requests_total")]
    assert len(lines) == 4
    assert 'user="other"' in lines[-1]
    assert lines[-1].endswith(" 7")


def test_html_is_self_contained_and_escaped(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "dash.html"
    cli("export", "-d", store, "--all", "--format", "html", "--out", out)
    page = out.read_text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http://" not in page
    assert "https://" not in page
    assert page.count("<svg") == 2
    assert "$1.75" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--format", "pdf"], "unknown --format"), (["--columns", "x"], "unknown --columns")],
)
def test_export_errors(cli, store: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("export", "-d", store, "--all", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_export_refuses_path_tricks(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert (
        "'..' is not allowed"
        in cli("export", "-d", store, "--all", "--out", tmp_path / "x" / ".." / "r.json").stderr
    )
    real = tmp_path / "real.json"
    real.write_text("keep")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    result = cli("export", "-d", store, "--all", "--out", link)
    assert result.exit_code == 2
    assert "symbolic link" in result.stderr
    assert real.read_text() == "keep"
    assert cli("export", "-d", store, "--all", "--out", tmp_path / "no" / "r.json").exit_code == 2
    # a directory link in a directory anyone may write to: refused, the real path suggested
    victim = tmp_path / "victim"
    victim.mkdir()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "dir").symlink_to(victim, target_is_directory=True)
    for fmt in ("json", "csv", "prom", "html", "parquet"):
        through = cli(
            "export", "-d", store, "--all", "--format", fmt, "--out", shared / "dir" / "r"
        )
        assert through.exit_code == 2, fmt
        assert f"give the real path ({victim}/r)" in through.stderr, fmt
    assert list(victim.iterdir()) == []


def test_json_export_matches_the_shipped_schema(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json
    from importlib import resources

    import jsonschema

    schema = json.loads(
        resources.files("aiusage").joinpath("schemas/report.schema.json").read_text()
    )
    for args in ([], ["--by", "model"], ["--period", "total", "--by", "user", "--by", "tag:team"]):
        out = tmp_path / "r.json"
        cli("export", "-d", store, "--all", *args, "--out", out)
        jsonschema.validate(orjson.loads(out.read_bytes()), schema)


def test_parquet_export_is_hive_partitioned(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pq = pytest.importorskip("pyarrow.parquet")
    lake = tmp_path / "lake"
    result = cli("export", "-d", store, "--all", "--format", "parquet", "--out", lake)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(lake / "date=2026-11-01" / "part-0.parquet")
    table = pq.read_table(lake / "date=2026-11-01" / "part-0.parquet")
    assert table.num_rows == 3
    assert sorted(table.column("user_id").to_pylist(), key=str) == [
        "<script>alert(1)</script>",
        "bob",
        "bob",
    ]
    assert sum(c or 0 for c in table.column("cost").to_pylist()) == pytest.approx(1.75)
    again = cli("export", "-d", store, "--all", "--format", "parquet", "--out", lake)
    assert again.exit_code == 0
    assert sorted(p.name for p in (lake / "date=2026-11-01").iterdir()) == ["part-0.parquet"]
    assert cli("export", "-d", store, "--all", "--format", "parquet").exit_code == 2


def test_out_dash_prints_the_report_and_writes_no_file(
    cli, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import orjson

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = cli("export", "-d", store, "--all", "--format", "json", "--out", "-")
    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout)["schema"] == "aiusage.report/1"
    prom = cli("export", "-d", store, "--all", "--format", "prom", "-o", "-")
    assert prom.stdout.startswith("# HELP")
    assert list(cwd.iterdir()) == []
    parquet = cli("export", "-d", store, "--all", "--format", "parquet", "--out", "-")
    assert parquet.exit_code == 2
    assert "needs --out DIR" in parquet.stderr


def test_sums_beyond_64_bits_are_written_exactly(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    count = 2100  # × 2^53 tokens: beyond 2^64, which orjson cannot write
    rows = [
        call(1793500000.0 + i, input_tokens=2**53, output_tokens=0, cost=0.0) for i in range(count)
    ]
    write_jsonl(data_dir / "usage_2026-11-01.jsonl", rows)
    report = cli("report", "-d", data_dir, "--all", "--json")
    assert report.exit_code == 0, report.stderr
    assert json.loads(report.stdout)["totals"]["input_tokens"] == count * 2**53
    export = cli("export", "-d", data_dir, "--all", "--format", "json", "--out", "-")
    assert export.exit_code == 0, export.stderr
    assert json.loads(export.stdout)["totals"]["input_tokens"] == count * 2**53
    for fmt in ("csv", "prom", "html"):
        assert (
            cli("export", "-d", data_dir, "--all", "--format", fmt, "--out", "-").exit_code == 0
        ), fmt


def test_exports_delete_what_a_killed_export_left(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    pytest.importorskip("pyarrow.parquet")
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    out = tmp_path / "out"
    (out / "date=2026-11-01").mkdir(parents=True)
    left = [
        out / f".report.csv.tmp-{gone}",
        out / f".usage_report_20261101_120000.json.tmp-{gone}",
        out / "date=2026-11-01" / f".part-0.parquet.tmp-{gone}",
    ]
    for path in left:
        path.write_bytes(b"half")
    assert (
        cli("export", "-d", store, "--all", "-f", "csv", "--out", out / "report.csv").exit_code == 0
    )
    assert cli("export", "-d", store, "--all", "-f", "json", "--out", out).exit_code == 0
    assert cli("export", "-d", store, "--all", "-f", "parquet", "--out", out).exit_code == 0
    assert [p.name for p in left if p.exists()] == []
