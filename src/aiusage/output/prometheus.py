"""Prometheus text exposition of a report (for node_exporter's textfile collector).

Metrics, labelled ``user``, ``model`` and ``function`` (and ``type`` / ``currency``):
``aiusage_requests_total``, ``aiusage_failures_total``, ``aiusage_tokens_total{type=...}``,
``aiusage_cost_total{currency=...}`` and the latency summary
``aiusage_request_duration_seconds{quantile=...}`` with its ``_count``. Label sets beyond the
``max_series`` most expensive are summed into ``user="other", model="other",
function="other"``, so a busy service cannot explode the series count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiusage.views.document import ReportRow

TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")
LABELS = ("user_id", "model", "function")
QUANTILES = ("0.5", "0.95", "0.99")


@dataclass(frozen=True)
class _Series:
    """One label set's values, as the exposition shows them."""

    labels: dict[str, Any]  # user, model, function
    requests: int
    failures: int
    tokens: dict[str, int]  # by TOKEN_TYPES name
    cost: float
    duration_ms: dict[str, float | None]  # by QUANTILES


def _series(row: ReportRow) -> _Series:
    from aiusage.views.document import group_value  # loaded already: it built the document

    return _Series(
        labels={k.removesuffix("_id"): group_value(row, k) for k in LABELS},
        requests=row["requests"],
        failures=row["failures"],
        tokens={
            "input": row["input_tokens"],
            "output": row["output_tokens"],
            "cache_read": row["cache_read_tokens"],
            "cache_write": row["cache_write_tokens"],
            "reasoning": row["reasoning_tokens"],
        },
        cost=row["cost"],
        duration_ms=dict(
            zip(
                QUANTILES,
                (row["p50_duration_ms"], row["p95_duration_ms"], row["p99_duration_ms"]),
                strict=True,
            )
        ),
    )


def _escape(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**pairs: Any) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items()) + "}"


def _other(rest: list[_Series]) -> _Series:
    """The label sets past the cap, summed into one ``other`` series (no percentiles)."""
    return _Series(
        labels={k.removesuffix("_id"): "other" for k in LABELS},
        requests=sum(s.requests for s in rest),
        failures=sum(s.failures for s in rest),
        tokens={name: sum(s.tokens[name] for s in rest) for name in TOKEN_TYPES},
        cost=sum(s.cost for s in rest),
        duration_ms=dict.fromkeys(QUANTILES),
    )


def to_prometheus(doc: Mapping[str, Any], *, max_series: int = 200) -> str:
    """A report grouped by user, model and function (period ``total``) as exposition text."""
    rows: list[ReportRow] = sorted(doc["rows"], key=lambda r: -r["cost"])
    series = [_series(row) for row in rows]
    kept, rest = series[:max_series], series[max_series:]
    if rest:
        kept.append(_other(rest))
    currency = doc["currency"]
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])

    family("aiusage_requests_total", "counter", "AI API calls recorded by aiusage.")
    out += [f"aiusage_requests_total{_labels(**s.labels)} {s.requests}" for s in kept]
    family("aiusage_failures_total", "counter", "Failed AI API calls.")
    out += [f"aiusage_failures_total{_labels(**s.labels)} {s.failures}" for s in kept]
    family("aiusage_tokens_total", "counter", "Tokens by type (input excludes cache reads/writes).")
    for s in kept:
        for name in TOKEN_TYPES:
            out.append(f"aiusage_tokens_total{_labels(**s.labels, type=name)} {s.tokens[name]}")
    family("aiusage_cost_total", "counter", "Cost of AI API calls.")
    for s in kept:
        out.append(f"aiusage_cost_total{_labels(**s.labels, currency=currency)} {float(s.cost)!r}")
    family("aiusage_request_duration_seconds", "summary", "Call latency.")
    for s in kept:
        for q, value in s.duration_ms.items():
            if value is not None:
                labels = _labels(**s.labels, quantile=q)
                out.append(f"aiusage_request_duration_seconds{labels} {value / 1000!r}")
        out.append(f"aiusage_request_duration_seconds_count{_labels(**s.labels)} {s.requests}")
    return "\n".join(out) + "\n"
