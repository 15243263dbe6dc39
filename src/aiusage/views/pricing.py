"""What ``aiusage pricing`` shows: the table's entries, how a name resolves, and the
arithmetic of a call's cost (documents ``aiusage.pricing-list/1``, ``aiusage.pricing-show/1``,
``aiusage.pricing-cost/1``)."""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import Any

from aiusage.errors import UsageError
from aiusage.pricing.cost import TokenCounts, cost_of_record
from aiusage.pricing.price import RATE_FIELDS, Price, Rates
from aiusage.pricing.table import PricingTable


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _rates(rates: Rates) -> dict[str, float | None]:
    return {name: _num(getattr(rates, name)) for name in RATE_FIELDS}


def entry(price: Price) -> dict[str, Any]:
    """One entry as JSON: rates per 1M tokens in its currency, tiers, fees, aliases."""
    return {
        "model": price.name,
        "provider": price.provider,
        "currency": price.currency,
        "unit": "per 1M tokens",
        **_rates(price.base),
        "tiers": [{"above": t.above, **_rates(t.rates)} for t in price.tiers],
        "per_request": _num(price.per_request),
        "batch_multiplier": _num(price.batch),
        "aliases": list(price.aliases),
        "source": price.source,
    }


def list_models(
    table: PricingTable, *, provider: str | None = None, search: str | None = None
) -> dict[str, Any]:
    """The ``aiusage.pricing-list/1`` document: entries, optionally by provider or name part."""
    needle = search.lower() if search else None
    rows = [
        entry(p)
        for name, p in sorted(table.prices.items())
        if (provider is None or (p.provider or "").lower() == provider.lower())
        and (
            needle is None or needle in name.lower() or any(needle in a.lower() for a in p.aliases)
        )
    ]
    return {
        "schema": "aiusage.pricing-list/1",
        "version": table.version,
        "sources": list(table.sources),
        "models": rows,
    }


RULES = {
    "exact": "the name is an entry",
    "alias": "the name is an alias of the entry",
    "case": "the name matches an entry or alias ignoring case",
    "provider prefix": "the name matches once its provider/ prefix is removed",
    "date suffix": "the name matches once its provider prefix and date suffix are removed",
    "unknown": "no entry matches: calls are recorded with cost null and reported as unpriced",
}


def show(table: PricingTable, model: str) -> dict[str, Any]:
    """The ``aiusage.pricing-show/1`` document: which entry ``model`` resolves to and why."""
    resolution = table.resolve(model)
    doc: dict[str, Any] = {
        "schema": "aiusage.pricing-show/1",
        "model": model,
        "rule": resolution.rule,
        "explanation": RULES[resolution.rule],
        "entry": None if resolution.price is None else entry(resolution.price),
        "price_ref": None if resolution.price is None else table.price_ref(resolution.price),
        "version": table.version,
    }
    if resolution.price is None:
        names = list(table.prices) + [a for p in table.prices.values() for a in p.aliases]
        doc["similar"] = difflib.get_close_matches(model.lower(), names, n=5, cutoff=0.6)
    return doc


# The option of each token count, for error messages.
COUNT_FLAGS = {
    "input": "--input",
    "output": "--output",
    "cache_read": "--cache-read",
    "cache_write": "--cache-write",
    "cache_write_1h": "--cache-write-1h",
    "reasoning": "--reasoning",
}


def cost(
    table: PricingTable, model: str, counts: TokenCounts, *, batch: bool = False
) -> dict[str, Any]:
    """The ``aiusage.pricing-cost/1`` document: a successful call's cost, line by line."""
    price = table.lookup(model)
    if price is None:
        raise UsageError(f"no price for {model!r}: see `aiusage pricing show {model}`")
    for name, flag in COUNT_FLAGS.items():
        value = getattr(counts, name)
        if value < 0:
            raise UsageError(f"{flag} must be ≥ 0, got {value}")
    charge = cost_of_record(price, counts, cost=None, currency=None, batch=batch)
    lines = price.breakdown(counts, batch=batch)
    total = sum((line.amount for line in lines), Decimal(0))
    return {
        "schema": "aiusage.pricing-cost/1",
        "model": model,
        "entry": price.name,
        "currency": charge.currency,
        "lines": [
            {
                "item": line.label,
                "tokens": line.tokens,
                "rate_per_1m": float(line.rate),
                "amount": str(line.amount.normalize()),
            }
            for line in lines
        ],
        "cost": charge.amount,
        "exact": str(total.normalize()),
        "price_ref": table.price_ref(price),
    }
