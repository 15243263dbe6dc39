"""Plain-text formatting of numbers, money and records (no terminal library needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "JP¥", "INR": "₹"}


def money(amount: float | None, currency: str, *, digits: int | None = None) -> str:
    """``amount`` with its currency: ``$1,234.56``, ``¥0.0123``, ``12.50 CHF``; ``digits``
    decimals (default: 2 from 1 up, else 4)."""
    if amount is None:
        return "-"
    if digits is None:
        digits = 2 if abs(amount) >= 1 or amount == 0 else 4
    number = f"{amount:,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def count(value: int | None) -> str:
    """An integer with thousands separators."""
    return "-" if value is None else f"{value:,}"


def percent(rate: float | None) -> str:
    """A 0–1 rate as a percentage."""
    return "-" if rate is None else f"{rate * 100:.1f}%"


def cost_digits(total: float) -> int:
    """Decimals for a cost column whose largest value is ``total``: cents once totals reach
    $10, else enough to tell small calls apart."""
    return 2 if total >= 10 else 4


def record_line(rec: Mapping[str, Any]) -> str:
    """One human line describing a record just written."""
    parts = [rec["model"]]
    parts.append(f"{rec['input_tokens']:,} in / {rec['output_tokens']:,} out")
    cached = rec["cache_read_tokens"] + rec["cache_write_tokens"]
    if cached:
        parts.append(
            f"{rec['cache_read_tokens']:,} cache read / {rec['cache_write_tokens']:,} cache write"
        )
    parts.append("unpriced" if rec.get("cost") is None else money(rec["cost"], rec["currency"]))
    if rec.get("user_id"):
        parts.append(f"user {rec['user_id']}")
    if not rec.get("success", True):
        parts.append(f"FAILED: {rec.get('error_msg') or 'error'}")
    return "recorded " + " · ".join(parts)
