"""Reconciling the local records with a provider's own billing export.

A bill is read into :class:`Billed` lines (UTC day, model, billed cost and/or billed token
counts). Formats, recognised from their content:

- OpenAI Costs API (``/v1/organization/costs``): ``data[].results[].amount.value`` in
  dollars, the model taken from ``line_item`` (``"gpt-4o-2024-08-06, input"``).
- OpenAI Usage API, completions (``/v1/organization/usage/completions``, grouped by model):
  ``input_tokens`` (cached ones included), ``input_cached_tokens``, ``output_tokens``,
  ``num_model_requests``.
- Anthropic Cost API (``/v1/organizations/cost_report``, grouped by description):
  ``amount`` in cents as a decimal string, ``model``.
- Anthropic Usage API (``/v1/organizations/usage_report/messages``, grouped by model):
  ``uncached_input_tokens``, ``cache_read_input_tokens``, ``cache_creation.*``,
  ``output_tokens``.
- CSV with a header: a date column (``date``, ``day``, ``usage_date_utc``, ``starting_at``),
  ``model`` (or ``model_version``), and a cost in dollars (``cost_usd``, ``cost``,
  ``amount_usd``) and/or token columns named as in the Usage APIs.

Pages of an API response may be concatenated as a JSON array or as JSON lines. Each (day,
model) row compares local and billed cost (and tokens where the bill has them) and names the
likely cause of a difference. Models are matched through the pricing table, so
``gpt-4o-2024-08-06`` on the bill and ``gpt-4o`` in the records are the same row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson

from aiusage.engine.rollup import Acc, Filters, Query
from aiusage.engine.timerange import TimeRange, resolve_tz
from aiusage.errors import UsageError
from aiusage.pricing.cost import TokenCounts
from aiusage.pricing.table import PricingTable
from aiusage.views.document import Source, envelope, fold, money, run_query

ALL_MODELS = "(all models)"  # a bill not broken down by model: compared per day
NO_MODEL = "(no model)"  # a cost that is not tokens of a model (web search, code execution)
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
# Below both, a difference is rounding, not a cause to look for.
TOLERANCE_ABS = 0.01
TOLERANCE_REL = 0.005


@dataclass
class Billed:
    """What a bill says of one (UTC day, model): its cost in USD and/or its token counts."""

    day: dt.date
    model: str
    cost: Decimal | None = None
    tokens: dict[str, int] | None = None
    requests: int | None = None

    def add(self, other: Billed) -> None:
        """Merge another line of the same day and model."""
        if other.cost is not None:
            self.cost = (self.cost or Decimal(0)) + other.cost
        if other.tokens is not None:
            mine = self.tokens or dict.fromkeys(TOKENS, 0)
            self.tokens = {k: mine[k] + other.tokens.get(k, 0) for k in TOKENS}
        if other.requests is not None:
            self.requests = (self.requests or 0) + other.requests


@dataclass(frozen=True)
class Bill:
    """A parsed billing export: its format and its lines."""

    format: str
    lines: tuple[Billed, ...]


# --- reading bills -----------------------------------------------------------------------------


def read_bill(path: Path) -> Bill:
    """Parse a billing export (see the module docstring); :class:`UsageError` when the file
    cannot be read or is in no known format."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    text = raw.lstrip()
    if text[:1] in (b"{", b"["):
        return _read_json(path, raw)
    return _read_csv(path, raw)


def _json_pages(path: Path, raw: bytes) -> list[Mapping[str, Any]]:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            doc = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"{path}: not JSON ({exc})") from None
    pages = doc if isinstance(doc, list) else [doc]
    if not all(isinstance(p, Mapping) and isinstance(p.get("data"), list) for p in pages):
        raise UsageError(
            f"{path}: not a usage or cost API response (expected an object with a 'data' list "
            "of buckets, or a list of such pages)"
        )
    return pages


def _read_json(path: Path, raw: bytes) -> Bill:
    buckets = [b for page in _json_pages(path, raw) for b in page["data"] if isinstance(b, Mapping)]
    results = [
        (bucket, r)
        for bucket in buckets
        for r in bucket.get("results") or []
        if isinstance(r, Mapping)
    ]
    if not results:
        return Bill("empty", ())
    sample = results[0][1]
    if isinstance(sample.get("amount"), Mapping):
        kind, reader = "openai-costs", _openai_cost
    elif "input_cached_tokens" in sample or "num_model_requests" in sample:
        kind, reader = "openai-usage", _openai_usage
    elif isinstance(sample.get("amount"), str | int | float):
        kind, reader = "anthropic-costs", _anthropic_cost
    elif "uncached_input_tokens" in sample:
        kind, reader = "anthropic-usage", _anthropic_usage
    else:
        raise UsageError(f"{path}: buckets hold results in no known format: {sorted(sample)}")
    lines = []
    for bucket, result in results:
        day = _bucket_day(bucket)
        if day is None:
            raise UsageError(f"{path}: a bucket without start_time/starting_at: {dict(bucket)}")
        line = reader(day, result)
        if line is not None:
            lines.append(line)
    return Bill(kind, tuple(lines))


def _bucket_day(bucket: Mapping[str, Any]) -> dt.date | None:
    start = bucket.get("start_time", bucket.get("starting_at"))
    if isinstance(start, int | float) and not isinstance(start, bool):
        return dt.datetime.fromtimestamp(start, dt.UTC).date()
    if isinstance(start, str):
        return _day(start)
    return None


def _day(text: str) -> dt.date | None:
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.date()


def _decimal(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value).strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        raise UsageError(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise UsageError(f"not an amount: {value!r}")
    return amount


def _int(value: Any) -> int:
    if value in (None, ""):
        return 0
    try:
        return int(Decimal(str(value)))
    except InvalidOperation:
        raise UsageError(f"not a token count: {value!r}") from None


def _openai_cost(day: dt.date, result: Mapping[str, Any]) -> Billed | None:
    amount = result["amount"]
    currency = str(amount.get("currency") or "usd").upper()
    if currency != "USD":
        raise UsageError(f"bill in {currency}: only USD bills are compared")
    item = result.get("line_item")
    model = str(item).split(",")[0].strip() if item else ALL_MODELS
    return Billed(day, model, cost=_decimal(amount.get("value") or 0))


def _openai_usage(day: dt.date, result: Mapping[str, Any]) -> Billed | None:
    cached = _int(result.get("input_cached_tokens"))
    tokens = {
        "input_tokens": _int(result.get("input_tokens")) - cached,
        "output_tokens": _int(result.get("output_tokens")),
        "cache_read_tokens": cached,
        "cache_write_tokens": 0,
    }
    model = result.get("model") or ALL_MODELS
    return Billed(day, str(model), tokens=tokens, requests=_int(result.get("num_model_requests")))


def _anthropic_cost(day: dt.date, result: Mapping[str, Any]) -> Billed | None:
    currency = str(result.get("currency") or "USD").upper()
    if currency != "USD":
        raise UsageError(f"bill in {currency}: only USD bills are compared")
    model = result.get("model") or NO_MODEL
    return Billed(day, str(model), cost=_decimal(result["amount"]) / 100)  # cents


def _anthropic_usage(day: dt.date, result: Mapping[str, Any]) -> Billed | None:
    creation = result.get("cache_creation")
    written = (
        sum(_int(v) for v in creation.values())
        if isinstance(creation, Mapping)
        else _int(result.get("cache_creation_input_tokens"))
    )
    tokens = {
        "input_tokens": _int(result.get("uncached_input_tokens")),
        "output_tokens": _int(result.get("output_tokens")),
        "cache_read_tokens": _int(result.get("cache_read_input_tokens")),
        "cache_write_tokens": written,
    }
    return Billed(day, str(result.get("model") or ALL_MODELS), tokens=tokens)


CSV_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "day": ("date", "day", "usage_date_utc", "usage_date", "starting_at", "start_time"),
    "model": ("model", "model_version", "model_name"),
    "cost": ("cost_usd", "cost", "amount_usd", "amount"),
    "input_tokens": ("uncached_input_tokens", "input_tokens_no_cache", "input_tokens"),
    "output_tokens": ("output_tokens",),
    "cache_read_tokens": ("cache_read_input_tokens", "input_cached_tokens", "cache_read_tokens"),
    "cache_write_tokens": ("cache_creation_input_tokens", "cache_write_tokens"),
}


def _read_csv(path: Path, raw: bytes) -> Bill:
    try:
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: not a CSV file ({exc})") from None
    if not rows:
        return Bill("empty", ())
    header = {name.strip().lower(): name for name in rows[0] if name}
    columns = {
        target: next((header[c] for c in candidates if c in header), None)
        for target, candidates in CSV_COLUMNS.items()
    }
    # Anthropic exports split cache writes by TTL.
    writes = [header[h] for h in header if h.startswith("cache_creation") and "ephemeral" in h]
    token_columns = [t for t in TOKENS if columns[t] is not None] or ([] if not writes else TOKENS)
    if columns["day"] is None or columns["model"] is None:
        raise UsageError(
            f"{path}: a billing CSV needs a date column ({', '.join(CSV_COLUMNS['day'])}) and a "
            f"model column ({', '.join(CSV_COLUMNS['model'])}); found {', '.join(header)}"
        )
    if columns["cost"] is None and not token_columns:
        raise UsageError(f"{path}: no cost (cost_usd, cost) or token columns found")
    lines = []
    for number, row in enumerate(rows, 2):
        day = _day(row[columns["day"]] or "")
        if day is None:
            raise UsageError(f"{path}: line {number}: date {row[columns['day']]!r} is not a date")
        try:
            cost = _decimal(row[columns["cost"]]) if columns["cost"] else None
            tokens = None
            if token_columns:
                tokens = {t: _int(row[c]) if (c := columns[t]) else 0 for t in TOKENS}
                if writes and columns["cache_write_tokens"] is None:
                    tokens["cache_write_tokens"] = sum(_int(row[w]) for w in writes)
        except UsageError as exc:
            raise UsageError(f"{path}: line {number}: {exc}") from None
        lines.append(Billed(day, row[columns["model"]].strip(), cost=cost, tokens=tokens))
    return Bill("csv", tuple(lines))


# --- comparing ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One (day, model) of a reconciliation."""

    day: dt.date
    model: str
    local_requests: int
    local_cost: float
    billed_cost: float | None
    local_tokens: dict[str, int]
    billed_tokens: dict[str, int] | None
    unpriced: int
    cause: str
    billed_names: list[str] = field(default_factory=list)

    @property
    def difference(self) -> float | None:
        """Local minus billed cost (``None`` when the bill has no cost)."""
        return None if self.billed_cost is None else round(self.local_cost - self.billed_cost, 6)


def _canonical(model: str, table: PricingTable) -> str:
    entry = table.lookup(model)
    return entry.name if entry is not None else model


def _priced(billed: Billed, table: PricingTable) -> Decimal | None:
    """What the billed tokens cost at the local prices (for a usage-only bill)."""
    entry = table.lookup(billed.model)
    if entry is None or billed.tokens is None:
        return None
    counts = TokenCounts(
        input=billed.tokens["input_tokens"],
        output=billed.tokens["output_tokens"],
        cache_read=billed.tokens["cache_read_tokens"],
        cache_write=billed.tokens["cache_write_tokens"],
    )
    return entry.cost(counts, success=False)  # per-request fees are not in token usage


def _close(a: float, b: float) -> bool:
    return abs(a - b) < TOLERANCE_ABS or abs(a - b) <= TOLERANCE_REL * max(abs(a), abs(b))


def _token_mismatch(local: Acc, row: Row) -> str | None:
    """Why the local and billed token counts differ, or ``None`` when they agree (or the
    bill has none)."""
    if row.billed_tokens is None:
        return None
    ours, theirs = row.local_tokens, row.billed_tokens
    if all(ours[k] == theirs[k] for k in TOKENS):
        return None
    prompt_ours = ours["input_tokens"] + ours["cache_read_tokens"] + ours["cache_write_tokens"]
    prompt_theirs = (
        theirs["input_tokens"] + theirs["cache_read_tokens"] + theirs["cache_write_tokens"]
    )
    if prompt_theirs > prompt_ours or theirs["output_tokens"] > ours["output_tokens"]:
        missing = (prompt_theirs - prompt_ours) + (theirs["output_tokens"] - ours["output_tokens"])
        per_call = (prompt_ours + ours["output_tokens"]) / local.requests
        calls = f" (≈ {missing / per_call:,.0f} calls)" if per_call else ""
        return f"missing records: the bill has {missing:,} more tokens{calls}"
    if prompt_theirs == prompt_ours:
        return (
            "cache accounting: the same prompt tokens, split differently between "
            "input, cache read and cache write"
        )
    return "extra records: the records have more tokens than the bill (duplicates?)"


def _cause(local: Acc | None, billed: Billed | None, row: Row, bill_has_tokens: bool) -> str:
    """The likely reason local and billed disagree (or ``match``)."""
    if billed is None:
        return "not billed: local calls the bill does not show (another account, test data?)"
    if row.model == NO_MODEL:
        return "not token usage: web search, code execution and other costs records do not hold"
    if local is None or not local.requests:
        if not row.billed_cost and not any((row.billed_tokens or {}).values()):
            return "match"
        return "missing records: the bill has this model and day, the records have no calls"
    if row.unpriced:
        return (
            f"unpriced model: {row.unpriced} local calls have no price (add the model to "
            "pricing.yaml)"
        )
    mismatch = _token_mismatch(local, row)
    if mismatch is not None:
        return mismatch
    if row.billed_cost is None or _close(row.local_cost, row.billed_cost):
        return "match"
    if bill_has_tokens:  # and the tokens agree: the mismatch above would have said
        return "prices differ: same tokens, other rates (check pricing.yaml for this model)"
    return (
        "cost differs: check for missing records, cache-write pricing or rates "
        "(a cost-only bill cannot tell which)"
    )


def reconcile(source: Source, bill: Bill, *, filters: Filters | None = None) -> list[Row]:
    """Compare the records of the bill's days (those passing ``filters``: one API key's,
    say, for the bill of the account it belongs to) with the bill, per UTC day and model."""
    table = source.pricing
    billed: dict[tuple[dt.date, str], Billed] = {}
    names: dict[tuple[dt.date, str], set[str]] = {}
    for line in bill.lines:
        key = (line.day, _canonical(line.model, table))
        names.setdefault(key, set()).add(line.model)
        if key in billed:
            billed[key].add(line)
        else:
            billed[key] = replace(line)  # a copy: merging must not change the bill
    if not billed:
        return []
    per_day = any(model == ALL_MODELS for _, model in billed)
    days = sorted({day for day, _ in billed})
    utc = resolve_tz("UTC")
    since = dt.datetime.combine(days[0], dt.time(), dt.UTC).timestamp()
    until = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()
    query = Query(
        ("model",), "day", utc, TimeRange(since, until), filters or Filters(), latency=False
    )
    groups = fold(source, run_query(source, query), ("model",), period=True)
    local: dict[tuple[dt.date, str], Acc] = {}
    for (period, model), group in groups.items():
        name = ALL_MODELS if per_day else _canonical(str(model), table)
        key = (dt.date.fromisoformat(period), name)
        if key[0] in days:
            if key in local:
                local[key].merge(group, rate=None)
            else:
                local[key] = group
    has_tokens = any(b.tokens is not None for b in billed.values())
    rows = []
    for key in sorted(set(billed) | set(local)):
        acc, bill_line = local.get(key), billed.get(key)
        cost = bill_line.cost if bill_line is not None else None
        if bill_line is not None and cost is None and bill_line.tokens is not None:
            cost = _priced(bill_line, table)
        row = Row(
            day=key[0],
            model=key[1],
            local_requests=acc.requests if acc else 0,
            local_cost=money(acc.cost) if acc else 0.0,
            billed_cost=None if cost is None else float(cost),
            local_tokens=_tokens(acc),
            billed_tokens=bill_line.tokens if bill_line is not None else None,
            unpriced=acc.unpriced if acc else 0,
            cause="",
            billed_names=sorted(names.get(key, ())),
        )
        row.cause = _cause(acc, bill_line, row, has_tokens)
        if bill_line is None and not has_tokens:
            row.billed_cost = 0.0  # a cost bill without this row billed nothing for it
        rows.append(row)
    return rows


def _tokens(acc: Acc | None) -> dict[str, int]:
    if acc is None:
        return dict.fromkeys(TOKENS, 0)
    return {
        "input_tokens": acc.input,
        "output_tokens": acc.output,
        "cache_read_tokens": acc.cache_read,
        "cache_write_tokens": acc.cache_write,
    }


def reconcile_doc(rows: list[Row], bill: Bill, *, now: float | None = None) -> dict[str, Any]:
    """The ``aiusage.reconcile/1`` document: the envelope over the bill's UTC days, the rows,
    totals and the bill's format."""
    since = until = None
    if rows:
        since = dt.datetime.combine(min(r.day for r in rows), dt.time(), dt.UTC).timestamp()
        last = max(r.day for r in rows) + dt.timedelta(days=1)
        until = dt.datetime.combine(last, dt.time(), dt.UTC).timestamp()
    local_total = sum(r.local_cost for r in rows)
    billed_total = sum(r.billed_cost or 0 for r in rows)
    return {
        **envelope("reconcile", TimeRange(since, until), resolve_tz("UTC"), "USD", now=now),
        "bill_format": bill.format,
        "rows": [
            {
                "day": row.day.isoformat(),
                "model": row.model,
                "billed_as": row.billed_names,
                "local_requests": row.local_requests,
                "local_cost": row.local_cost,
                "billed_cost": row.billed_cost,
                "difference": row.difference,
                "local_tokens": row.local_tokens,
                "billed_tokens": row.billed_tokens,
                "unpriced_requests": row.unpriced,
                "cause": row.cause,
            }
            for row in rows
        ],
        "totals": {
            "local_cost": round(local_total, 6),
            "billed_cost": round(billed_total, 6),
            "difference": round(local_total - billed_total, 6),
            "rows_differing": sum(1 for r in rows if r.cause != "match"),
        },
    }
