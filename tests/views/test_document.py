"""The metrics of a group (views/document.py) against their definitions, worked out
independently: the column-at-a-time code takes shortcuts (ratios of equals, means of one
call) that must give exactly what the plain formulas give."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from aiusage.engine.histogram import bucket_of, bucket_value
from aiusage.engine.rollup import Acc
from aiusage.views.document import metric_values, metrics


@st.composite
def accumulators(draw: st.DrawFn) -> Acc:
    requests = draw(st.integers(0, 10**6))
    acc = Acc(requests=requests)
    acc.successes = draw(st.integers(0, requests))
    acc.unpriced = draw(st.integers(0, requests))
    if requests:
        durations = draw(st.lists(st.floats(0, 1e10), min_size=1, max_size=5))
        acc.dur_hist = [bucket_of(d) for d in durations]
        # Any whole number of µs, up to a sum of calls at the bound (1e10 ms each).
        acc.dur_sum = draw(st.integers(0, 10**16))
        acc.first_ts = draw(st.floats(0, 4e9))
        acc.last_ts = draw(st.one_of(st.just(acc.first_ts), st.floats(acc.first_ts, 4e9)))
    return acc


@given(st.lists(accumulators(), max_size=6))
def test_metrics_follow_their_definitions(accs: list[Acc]) -> None:
    rows = [metrics(acc) for acc in accs]
    assert [tuple(row.values()) for row in rows] == metric_values(accs)
    for acc, row in zip(accs, rows, strict=True):
        r = acc.requests
        assert row["success_rate"] == (round(acc.successes / r, 6) if r else None)
        assert row["priced_coverage"] == (round((r - acc.unpriced) / r, 6) if r else None)
        n = len(acc.dur_hist)
        assert row["avg_duration_ms"] == (round(acc.dur_sum / 1000 / n, 3) if n else None)
        if n:
            ranked = sorted(acc.dur_hist)
            assert row["p50_duration_ms"] == round(bucket_value(ranked[(n + 1) // 2 - 1]), 3)
        for name, ts in (("first_seen", acc.first_ts), ("last_seen", acc.last_ts)):
            assert row[name] == (_iso(ts) if r else None)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")
