"""The cost of a call record: the one rule the write path (``record``, ``record --batch``,
imports), the pass (every report), ``reprice`` and ``aiusage pricing cost`` apply (README
"Pricing", its cost modes).

A record's recorded ``cost`` stands — prices change, history must not — unless the cost mode
is ``current``, which prices again every record whose model the table knows. A record
without a cost is priced with the table; one whose model the table does not know either is
unpriced: no cost, never 0. A priced cost is in its entry's currency; a recorded one in the
recorded currency, else (none recorded) the entry's, else the default currency.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from aiusage.errors import UsageError
from aiusage.pricing.price import PICOS, Price, TokenCounts

CostMode = Literal["recorded", "auto", "current"]
COST_MODES: tuple[CostMode, ...] = ("recorded", "auto", "current")


def parse_cost_mode(name: str) -> CostMode:
    """``name`` as a cost mode (``--cost``), or a :class:`UsageError` listing the modes."""
    for mode in COST_MODES:
        if name == mode:
            return mode
    raise UsageError(f"unknown --cost {name!r} (choose from {', '.join(COST_MODES)})")


# A msgspec struct: the pass builds one per record it prices (see TokenCounts).
class RecordCost(msgspec.Struct, frozen=True, gc=False):
    """What a call record costs: whole ``picos`` of ``currency`` (``None``: unpriced), and
    the entry that priced it (``None`` when its recorded cost stands, or it is unpriced)."""

    picos: int | None
    currency: str
    price: Price | None = None

    @property
    def amount(self) -> float | None:
        """The cost as a record stores it: the float nearest the exact cost rounded to 12
        decimal places (``int / int`` is correctly rounded)."""
        return None if self.picos is None else self.picos / PICOS


def cost_of_record(
    price: Price | None,
    counts: TokenCounts,
    *,
    cost: float | None,
    currency: str | None,
    success: bool = True,
    batch: bool = False,
    mode: CostMode = "recorded",
    default_currency: str = "USD",
) -> RecordCost:
    """The cost of a call of ``price``'s model (``None``: the table does not know it) with
    these ``counts``, whose record holds ``cost`` in ``currency`` (``None``: not recorded).
    ``success``: whether the call succeeded (only those pay a per-request fee); ``batch``:
    a batch-API call (``service_tier: batch``)."""
    if price is not None and (cost is None or mode == "current"):
        return RecordCost(price.picos(counts, success=success, batch=batch), price.currency, price)
    if currency is None:
        currency = price.currency if price is not None else default_currency
    return RecordCost(None if cost is None else round(cost * PICOS), currency)
