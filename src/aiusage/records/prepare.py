"""One record made ready to write: validated, then priced (README "Recording calls").

:func:`prepare` is the one definition of a valid, priced record; the bulk path
(:mod:`aiusage.records.batch`) hands it whatever it does not accept outright.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiusage.pricing.cost import RecordCost, TokenCounts, cost_of_record
from aiusage.pricing.modes import CostMode
from aiusage.pricing.table import PricingTable
from aiusage.records.schema import Record, build_record, ordered, priced_cost, scrub_fields


def prepare(
    fields: Mapping[str, Any],
    *,
    table: PricingTable,
    default_currency: str = "USD",
    now: float | None = None,
) -> Record:
    """Validate ``fields`` into a complete, priced record (raises on invalid fields)."""
    t = time.time() if now is None else now
    rec = build_record(fields, now=t, default_currency=default_currency)
    if rec["kind"] == "call":
        given = rec["currency"] if fields.get("currency") is not None else None
        _price(rec, table, currency=given, default_currency=default_currency)
    return ordered(rec)


def reprice(rec: Record, table: PricingTable) -> bool:
    """Price a call record read from a day file again with ``table`` (cost mode
    ``current``; a model the table does not know keeps its cost), and scrub it as it is about
    to be written again (one written before scrubbing may hold a key). Whether its cost or
    currency changed."""
    if rec.get("kind", "call") != "call":
        return False
    scrub_fields(rec)
    before = (rec.get("cost"), rec.get("currency"))
    if _price(rec, table, currency=rec.get("currency"), mode="current").price is None:
        return False
    return (rec["cost"], rec["currency"]) != before


def _price(
    rec: Record,
    table: PricingTable,
    *,
    currency: str | None,
    mode: CostMode = "recorded",
    default_currency: str = "USD",
) -> RecordCost:
    """Fill what pricing writes into a call record: its currency, the cost and its
    provenance when the table priced it, and the provider of the model's entry when the
    record names none. A model the table does not know leaves the record as it was."""
    entry = table.lookup(rec["model"])
    charge = cost_of_record(
        entry,
        TokenCounts.of(rec),
        cost=rec.get("cost"),
        currency=currency,
        success=rec.get("success", True) is not False,
        batch=rec.get("service_tier") == "batch",
        mode=mode,
        default_currency=default_currency,
    )
    if entry is None:
        return charge
    if rec.get("provider") is None:
        rec["provider"] = entry.provider
    rec["currency"] = charge.currency
    if charge.price is not None:
        rec["cost"] = priced_cost(charge.amount)  # type: ignore[arg-type]
        rec["price_ref"] = table.price_ref(charge.price)
    return charge
