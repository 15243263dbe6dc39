"""The cost modes (README "Pricing"): which cost a report counts for a record, its recorded
one or today's price (:func:`aiusage.pricing.cost.cost_of_record` applies them). Apart from
the cost itself so that checking ``--cost`` needs neither the records' structs nor msgspec."""

from __future__ import annotations

from typing import Literal

from aiusage.errors import UsageError

CostMode = Literal["recorded", "auto", "current"]
COST_MODES: tuple[CostMode, ...] = ("recorded", "auto", "current")


def parse_cost_mode(name: str) -> CostMode:
    """``name`` as a cost mode (``--cost``), or a :class:`UsageError` listing the modes."""
    for mode in COST_MODES:
        if name == mode:
            return mode
    raise UsageError(f"unknown --cost {name!r} (choose from {', '.join(COST_MODES)})")
