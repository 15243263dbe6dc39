"""The cost of a call record, from its token counts (:class:`TokenCounts`): the one rule the
write path (``record``, ``record --batch``, imports), the pass (every report), ``reprice``
and ``aiusage pricing cost`` apply (README "Pricing", its cost modes:
:mod:`aiusage.pricing.modes`).

A record's recorded ``cost`` stands — prices change, history must not — unless the cost mode
is ``current``, which prices again every record whose model the table knows. A record
without a cost is priced with the table; one whose model the table does not know either is
unpriced: no cost, never 0. A priced cost is in its entry's currency; a recorded one in the
recorded currency, else (none recorded) the entry's, else the default currency.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from aiusage.pricing.modes import CostMode
from aiusage.pricing.price import PICOS, Price


class Fields(Protocol):
    """A record read by name: a dict, or a decoded row with a ``get`` like one."""

    def get(self, name: str, default: Any = None, /) -> Any:
        """The field's value, or ``default``."""


# A msgspec struct rather than a frozen dataclass: the pass builds one per record it prices,
# and a frozen dataclass takes ten times as long to build.
class TokenCounts(msgspec.Struct, frozen=True, gc=False):
    """The token counts of one call that its cost depends on: ``output`` includes
    ``reasoning`` and ``cache_write`` includes ``cache_write_1h`` (README "The record")."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0
    reasoning: int = 0

    @classmethod
    def of(cls, rec: Fields) -> TokenCounts:
        """The counts of a record's ``*_tokens`` fields (missing or null counts are 0)."""
        return cls(
            input=rec.get("input_tokens") or 0,
            output=rec.get("output_tokens") or 0,
            cache_read=rec.get("cache_read_tokens") or 0,
            cache_write=rec.get("cache_write_tokens") or 0,
            cache_write_1h=rec.get("cache_write_1h_tokens") or 0,
            reasoning=rec.get("reasoning_tokens") or 0,
        )

    @property
    def prompt(self) -> int:
        """The prompt's size, which picks a long-context tier: input + cache read + write."""
        return self.input + self.cache_read + self.cache_write


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
