from __future__ import annotations

import random
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiusage.engine.rollup import Acc, Filters, Query, Rollup
from aiusage.engine.scan import scan
from aiusage.engine.timerange import TimeRange
from aiusage.pricing.table import load_table
from aiusage.store.dayfiles import list_files
from conftest import call, write_jsonl

TABLE = load_table()
T0 = 1_792_000_000.0

record_strategy = st.builds(
    lambda dt, user, model, inp, out, ok, dur, cost: call(
        T0 + dt,
        user_id=user,
        model=model,
        input_tokens=inp,
        output_tokens=out,
        success=ok,
        duration_ms=dur,
        **({"cost": cost, "currency": "CNY"} if cost is not None else {}),
    ),
    st.floats(min_value=0, max_value=5 * 86400),
    st.sampled_from(["a", "b", None]),
    st.sampled_from(["gpt-4o", "qwen-plus", "nope-model"]),
    st.integers(0, 10**6),
    st.integers(0, 10**5),
    st.booleans(),
    st.none() | st.floats(min_value=0, max_value=10**5),
    st.none() | st.floats(min_value=0, max_value=10, allow_nan=False),
)


def _store(directory: Path, records: list[dict]) -> None:  # type: ignore[type-arg]
    for rec in records:
        day = int(rec["timestamp"] // 86400)
        import datetime as dt

        write_jsonl(
            directory / f"usage_{dt.date(1970, 1, 1) + dt.timedelta(days=day)}.jsonl", [rec]
        )


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(record_strategy, max_size=60),
    split=st.integers(0, 60),
    tz=st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"]),
    period=st.sampled_from(["hour", "day", "week", "total"]),
)
def test_merged_partial_rollups_equal_one_pass(
    tmp_path_factory, records, split, tz, period
) -> None:  # type: ignore[no-untyped-def]
    query = Query(("user", "model"), period, ZoneInfo(tz), TimeRange(None, None))
    whole_dir = tmp_path_factory.mktemp("whole")
    part_a = tmp_path_factory.mktemp("a")
    part_b = tmp_path_factory.mktemp("b")
    _store(whole_dir, records)
    _store(part_a, records[:split])
    _store(part_b, records[split:])
    one = scan(list_files(whole_dir), query, TABLE, default_currency="USD")
    merged = Rollup(query.dims, query.period)
    merged.merge(scan(list_files(part_a), query, TABLE, default_currency="USD"))
    merged.merge(scan(list_files(part_b), query, TABLE, default_currency="USD"))
    assert one.records == merged.records == len(records)
    assert {k: v.state() for k, v in one.groups.items()} == {
        k: v.state() for k, v in merged.groups.items()
    }
    assert one.unpriced_models == merged.unpriced_models


def test_filters_and_range(tmp_path: Path) -> None:
    rng = random.Random(1)
    recs = [
        call(T0 + i * 60, user_id=rng.choice("xy"), tags={"env": rng.choice(["p", "s"])})
        for i in range(100)
    ]
    _store(tmp_path, recs)
    query = Query(
        (),
        "total",
        ZoneInfo("UTC"),
        TimeRange(T0 + 600, T0 + 1200),
        Filters({"user": frozenset({"x"})}, {"env": "p"}),
    )
    rollup = scan(list_files(tmp_path), query, TABLE, default_currency="USD")
    want = sum(
        1
        for r in recs
        if T0 + 600 <= r["timestamp"] < T0 + 1200
        and r["user_id"] == "x"
        and r["tags"]["env"] == "p"
    )
    assert rollup.records == want


def test_fold_converts_currencies_exactly(tmp_path: Path) -> None:
    _store(tmp_path, [call(T0, cost=7.1, currency="CNY"), call(T0 + 1, cost=1.0, currency="USD")])
    query = Query(("model",), "day", ZoneInfo("UTC"), TimeRange(None, None))
    rollup = scan(list_files(tmp_path), query, TABLE, default_currency="USD")
    assert rollup.currencies() == {"CNY", "USD"}
    (acc,) = rollup.fold((), currency="USD", pricing=TABLE, period=False).values()
    assert acc.cost == 2 * 10**12


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(record_strategy, max_size=30))
def test_rollup_state_round_trips_through_json(tmp_path_factory, records) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp("r")
    _store(directory, records)
    query = Query(("user", "model"), "day", ZoneInfo("UTC"), TimeRange(None, None))
    rollup = scan(list_files(directory), query, TABLE, default_currency="USD")
    back = Rollup.from_state(orjson.loads(orjson.dumps(rollup.state())), query)
    assert {k: v.state() for k, v in back.groups.items()} == {
        k: v.state() for k, v in rollup.groups.items()
    }
    assert (back.records, back.unpriced_models) == (rollup.records, rollup.unpriced_models)
    for acc in rollup.groups.values():
        assert Acc.load(acc.dump()).state() == acc.state()


def test_group_by_takes_repeats_and_comma_lists() -> None:
    from aiusage.engine.rollup import group_by
    from aiusage.errors import UsageError

    assert group_by(["user,model", "model", " tag:team ,function"]) == (
        "user",
        "model",
        "tag:team",
        "function",
    )
    assert group_by([]) == ()
    with pytest.raises(UsageError, match="unknown --by field 'colour'"):
        group_by(["user,colour"])


def test_merge_without_latency_leaves_the_percentile_data_alone() -> None:
    source = Acc()
    source.requests, source.cost, source.max_tokens = 3, 7, 40
    source.dur_sum, source.dur_hist = 1500, {10: 2, 11: 1}
    source.ttfb_sum, source.ttfb_hist = 300, {5: 3}
    lean = Acc()
    lean.merge(source, latency=False)
    assert (lean.requests, lean.cost, lean.max_tokens) == (3, 7, 40)
    assert (lean.dur_sum, lean.dur_hist, lean.dur_n, lean.ttfb_sum, lean.ttfb_n) == (0, [], 0, 0, 0)
    full = Acc()
    full.merge(source)
    assert (full.dur_sum, full.dur_hist, full.dur_n, full.ttfb_n) == (1500, {10: 2, 11: 1}, 3, 3)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(record_strategy, max_size=40))
def test_a_pass_without_latency_sums_the_rest_alike(tmp_path_factory, records) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp("l")
    _store(directory, records)
    full = Query(("user",), "day", ZoneInfo("UTC"), TimeRange(None, None))
    lean = Query(("user",), "day", ZoneInfo("UTC"), TimeRange(None, None), latency=False)
    with_latency = scan(list_files(directory), full, TABLE, default_currency="USD")
    without = scan(list_files(directory), lean, TABLE, default_currency="USD")
    assert with_latency.groups.keys() == without.groups.keys()
    for key, acc in without.groups.items():
        assert (acc.dur_sum, acc.dur_hist, acc.ttfb_sum, acc.ttfb_hist) == (0, [], 0, [])
        other = with_latency.groups[key]
        other.dur_sum, other.dur_hist, other.ttfb_sum, other.ttfb_hist = 0, {}, 0, {}
        assert acc.state() == other.state()


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(record_strategy, max_size=40),
    usd=st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), max_size=5),
)
def test_total_and_folds_agree_with_merging_group_by_group(tmp_path_factory, records, usd) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp("t")
    _store(directory, records + [call(T0 + i, cost=c, currency="USD") for i, c in enumerate(usd)])
    query = Query(("user", "model"), "day", ZoneInfo("UTC"), TimeRange(None, None))
    rollup = scan(list_files(directory), query, TABLE, default_currency="USD")
    before = {k: v.state() for k, v in rollup.groups.items()}
    # The oracle: every group converted on its own and merged one at a time.
    expected = Acc()
    for key, acc in rollup.groups.items():
        rate = None if key[-1] == "USD" else TABLE.rate(key[-1], "USD")
        expected.merge(acc, rate=rate)
    assert rollup.total(currency="USD", pricing=TABLE).state() == expected.state()
    for keep in [(), ("user",), ("user", "model"), ("model", "user")]:
        folded = rollup.fold(keep, currency="USD", pricing=TABLE, period=True)
        assert Acc.sum_of(list(folded.values())).state() == expected.state()
        # Group by group too: each folded group is its groups, converted and merged one by one.
        positions = [0, *(query.dims.index(d) + 1 for d in keep)]
        oracle: dict[tuple[object, ...], Acc] = {}
        for key, acc in rollup.groups.items():
            rate = None if key[-1] == "USD" else TABLE.rate(key[-1], "USD")
            oracle.setdefault(tuple(key[i] for i in positions), Acc()).merge(acc, rate=rate)
        assert {k: v.state() for k, v in folded.items()} == {
            k: v.state() for k, v in oracle.items()
        }
    # Folding shares accumulators but never changes the rollup's own.
    assert {k: v.state() for k, v in rollup.groups.items()} == before


def test_an_accumulator_pickles_to_the_same_sums() -> None:
    import pickle

    acc = Acc(requests=3, cost=7, dur_hist={4: 1, 9: 2}, first_ts=1.5, last_ts=2.5)
    back = pickle.loads(pickle.dumps(acc))
    assert back.state() == acc.state()
    assert back.dur_hist is not acc.dur_hist


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(record_strategy, max_size=40), split=st.integers(0, 40))
def test_latency_kept_by_fewer_dims_folds_like_latency_kept_by_group(  # type: ignore[no-untyped-def]
    tmp_path_factory, records, split
) -> None:
    whole, part_a, part_b = (tmp_path_factory.mktemp(n) for n in "wab")
    _store(whole, records)
    _store(part_a, records[:split])
    _store(part_b, records[split:])
    utc, every = ZoneInfo("UTC"), TimeRange(None, None)
    by_group = Query(("user", "model"), "day", utc, every)
    apart = Query(("user", "model"), "day", utc, every, latency_by=("user",))
    one = scan(list_files(whole), by_group, TABLE, default_currency="USD")
    # Kept apart, in two passes merged and through the cache's JSON form.
    two = Rollup.of(apart)
    for directory in (part_a, part_b):
        part = scan(list_files(directory), apart, TABLE, default_currency="USD")
        two.merge(Rollup.from_state(orjson.loads(orjson.dumps(part.state())), apart))
    assert all(not (a.dur_hist or a.ttfb_hist or a.dur_sum) for a in two.groups.values())
    for keep in [(), ("user",)]:
        expected = one.fold(keep, currency="USD", pricing=TABLE)
        got = two.fold(keep, currency="USD", pricing=TABLE)
        assert {k: v.state() for k, v in got.items()} == {k: v.state() for k, v in expected.items()}
    assert two.total(currency="USD", pricing=TABLE).state() == (
        one.total(currency="USD", pricing=TABLE).state()
    )
    # Without latency, the sums (a group folded alone is shared, histograms and all: the
    # views that ask for no latency read none).
    lean = {
        k: v.copy(latency=False).state()
        for k, v in two.fold(
            ("user", "model"), currency="USD", pricing=TABLE, latency=False
        ).items()
    }
    assert lean == {
        k: v.copy(latency=False).state()
        for k, v in one.fold(
            ("user", "model"), currency="USD", pricing=TABLE, latency=False
        ).items()
    }
    with pytest.raises(ValueError, match="latency is kept by"):
        two.fold(("model",), currency="USD", pricing=TABLE)
