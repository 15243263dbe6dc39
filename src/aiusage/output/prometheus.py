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
from typing import Any

TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")
LABELS = ("user_id", "model", "function")


def _escape(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**pairs: Any) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items()) + "}"


def _other(rest: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The label sets past the cap, summed into one ``other`` series."""
    other: dict[str, Any] = dict.fromkeys(LABELS, "other")
    summed = ("requests", "failures", "cost", *(f"{n}_tokens" for n in TOKEN_TYPES))
    for key in summed:
        other[key] = sum(row[key] for row in rest)
    return other


def to_prometheus(doc: Mapping[str, Any], *, max_series: int = 200) -> str:
    """A report grouped by user, model and function (period ``total``) as exposition text."""
    rows: list[Mapping[str, Any]] = sorted(doc["rows"], key=lambda r: -r["cost"])
    kept, rest = rows[:max_series], rows[max_series:]
    if rest:
        kept.append(_other(rest))
    currency = doc["currency"]
    series = [({k.removesuffix("_id"): row.get(k) for k in LABELS}, row) for row in kept]
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])

    family("aiusage_requests_total", "counter", "AI API calls recorded by aiusage.")
    out += [f"aiusage_requests_total{_labels(**base)} {row['requests']}" for base, row in series]
    family("aiusage_failures_total", "counter", "Failed AI API calls.")
    out += [f"aiusage_failures_total{_labels(**base)} {row['failures']}" for base, row in series]
    family("aiusage_tokens_total", "counter", "Tokens by type (input excludes cache reads/writes).")
    for base, row in series:
        for name in TOKEN_TYPES:
            out.append(f"aiusage_tokens_total{_labels(**base, type=name)} {row[f'{name}_tokens']}")
    family("aiusage_cost_total", "counter", "Cost of AI API calls.")
    for base, row in series:
        out.append(f"aiusage_cost_total{_labels(**base, currency=currency)} {float(row['cost'])!r}")
    family("aiusage_request_duration_seconds", "summary", "Call latency.")
    for base, row in series:
        for q in ("0.5", "0.95", "0.99"):
            value = row.get(f"p{round(float(q) * 100)}_duration_ms")
            if value is not None:
                labels = _labels(**base, quantile=q)
                out.append(f"aiusage_request_duration_seconds{labels} {value / 1000!r}")
        out.append(f"aiusage_request_duration_seconds_count{_labels(**base)} {row['requests']}")
    return "\n".join(out) + "\n"
