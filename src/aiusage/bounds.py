"""The bounds of every value aiusage stores (README "The record", its bounds table): the one
table every write path checks and the reader checks again, so that a record valid when it was
written is read, summed and shown the same by every command.

The bounds keep sums exact and finite: a cost, a duration or a token count within them can
be summed as integer picos (or microseconds) millions of times without leaving a float, and
every timestamp within them has a calendar date in every time zone (a record dated
9999-12-31 is in the year 10000 east of UTC).
"""

from __future__ import annotations

import math
from typing import Any

MIN_TIMESTAMP = 0.0  # 1970-01-01T00:00:00Z, the epoch
MAX_TIMESTAMP = 4102444800.0  # 2100-01-01T00:00:00Z: timestamps lie before it
MAX_TOKENS = 2**53  # a token or byte count: exact as a float, as every JSON reader reads it
MAX_COST = 1e9  # the cost of one call, in any currency
MAX_DURATION_MS = 1e10  # duration_ms and ttfb_ms: about 116 days
MIN_STATUS, MAX_STATUS = 100, 599  # an HTTP status
MAX_COUNTER_STEP = 2**53  # |n| of one counter record
# Any number in a pricing file: a price per 1M tokens or per request, a multiplier, an
# exchange rate (units of a currency per USD, at least MIN_FX_RATE).
MAX_PRICE = 1e9
MIN_FX_RATE = 1e-6

# Range flags (--since, --until, --days) may reach a little beyond the records' bounds (an
# --until day in a zone west of UTC, "everything since 1960"), within dates every zone has.
MIN_RANGE = -2208988800.0  # 1900-01-01T00:00:00Z
MAX_RANGE = 7258118400.0  # 2200-01-01T00:00:00Z

TIMESTAMP_RULE = "epoch seconds from 1970-01-01 up to 2100-01-01"


def is_number(value: Any) -> bool:
    """Whether ``value`` is an int or a float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def timestamp_ok(value: Any) -> bool:
    """Whether ``value`` is a timestamp a record may hold."""
    return is_number(value) and MIN_TIMESTAMP <= value < MAX_TIMESTAMP


def amount_ok(value: Any, maximum: float) -> bool:
    """Whether ``value`` is a finite number from 0 to ``maximum``."""
    return is_number(value) and math.isfinite(value) and 0 <= value <= maximum


def count_ok(value: Any) -> bool:
    """Whether ``value`` is a token or byte count a record may hold (an int, not a bool)."""
    return type(value) is int and 0 <= value <= MAX_TOKENS


def shown(bound: float) -> str:
    """A bound as messages show it: ``1e9``."""
    return f"{bound:.0e}".replace("+", "").replace("e0", "e").replace("e-0", "e-")
