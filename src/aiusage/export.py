"""Serialising report documents: JSON (SPEC.md §5) and CSV (RFC 4180, UTF-8)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import orjson


def to_json(doc: Mapping[str, Any]) -> str:
    """A document as indented JSON, keys in their documented order."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return value


def to_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as CSV: one header row, then one row per mapping (lists joined with ``;``,
    ``None`` as an empty cell)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()
