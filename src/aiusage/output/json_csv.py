"""Serialising report documents — JSON (README: Machine output) and CSV (RFC 4180, UTF-8)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from aiusage.views.document import ReportRow


def json_bytes(doc: Mapping[str, Any], *, newline: bool = True) -> bytes:
    """A document as indented UTF-8 JSON and a newline (unless not ``newline``), keys in
    their documented order; integers beyond 64 bits (a sum of many large counts) written
    exactly."""
    option = orjson.OPT_INDENT_2 | (orjson.OPT_APPEND_NEWLINE if newline else 0)
    try:
        return orjson.dumps(doc, option=option)
    except orjson.JSONEncodeError:  # orjson writes integers of 64 bits at most
        return orjson.dumps(_wide_ints(doc), option=option)


# Rows serialised at a time by json_chunks: a few MB of JSON, a few MB of rows.
CHUNK_ROWS = 2000
_OPEN = b'{\n  "r": [\n'  # how orjson opens {"r": [...]}, indented; items follow at 4 spaces
_CLOSE = b"\n  ]\n}"


def json_chunks(doc: Mapping[str, Any], *, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """:func:`json_bytes` of ``doc`` in pieces, the same bytes: a top-level value that is a
    sequence but not a list (a view's rows built as they are read, such as
    :class:`~aiusage.views.report.ReportRows`) is serialised ``chunk_rows`` items at a time,
    so neither it nor its JSON is ever whole in memory."""
    lazy = [
        k
        for k, v in doc.items()
        if isinstance(v, Sequence) and not isinstance(v, list | tuple | str | bytes)
    ]
    if not lazy:
        yield json_bytes(doc)
        return
    # A raw NUL byte cannot occur in orjson's output (it escapes control characters), so
    # each placeholder marks exactly where its value goes.
    marks = {key: b"\x00%d" % i for i, key in enumerate(lazy)}
    rest = json_bytes({k: orjson.Fragment(marks[k]) if k in marks else v for k, v in doc.items()})
    for key in lazy:
        head, rest = rest.split(marks[key], 1)
        yield head
        yield from _array_chunks(doc[key], chunk_rows)
    yield rest


def _array_chunks(items: Sequence[Any], chunk_rows: int) -> Iterator[bytes]:
    """A top-level array value as orjson indents it (``[]`` when empty), in pieces."""
    if not items:
        yield b"[]"
        return
    yield b"[\n"
    for start in range(0, len(items), chunk_rows):
        part = json_bytes({"r": list(items[start : start + chunk_rows])}, newline=False)
        yield (b",\n" if start else b"") + part[len(_OPEN) : -len(_CLOSE)]
    yield b"\n  ]"


def to_json(doc: Mapping[str, Any]) -> str:
    """:func:`json_bytes` as text."""
    return json_bytes(doc).decode()


def _wide_ints(value: Any) -> Any:
    """``value`` with each integer beyond 64 bits as the JSON text of its digits."""
    if isinstance(value, Mapping):
        return {k: _wide_ints(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wide_ints(v) for v in value]
    if type(value) is int and not -(2**63) <= value < 2**64:
        return orjson.Fragment(str(value))
    return value


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP: CSV
# injection); tab and CR are in the list because some programs strip them first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any, *, neutralise: bool) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    if neutralise and isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # numbers are never strings here: -1.5 stays a number
    return value


def to_csv(
    columns: Sequence[str], rows: Sequence[Mapping[str, Any]], *, neutralise: bool = True
) -> str:
    """Rows as CSV: one header row, then one row per mapping (lists joined with ``;``,
    ``None`` as an empty cell). Text cells a spreadsheet would take for a formula get a
    leading ``'`` unless not ``neutralise``; numbers are written as they are."""
    return "".join(csv_chunks(columns, rows, neutralise=neutralise))


def csv_chunks(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    neutralise: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[str]:
    """:func:`to_csv`'s text in pieces of ``chunk_rows`` rows: rows built as they are read
    (a report's) are never all held, nor their CSV."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([_cell(c, neutralise=neutralise) for c in columns])
    for n, row in enumerate(rows, 1):
        writer.writerow([_cell(row.get(c), neutralise=neutralise) for c in columns])
        if n % chunk_rows == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


FOCUS_COLUMNS = (
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingCurrency",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ChargeCategory",
    "ChargeDescription",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ServiceName",
    "ProviderName",
    "SubAccountId",
    "Tags",
)


def focus_rows(doc: Mapping[str, Any], tz: Any) -> list[dict[str, Any]]:
    """A report's rows named after the FinOps FOCUS columns: ``BilledCost`` and
    ``EffectiveCost`` are what was paid (after account multipliers), ``ListCost`` the list
    price; tokens are the consumed quantity."""
    from aiusage.engine.timerange import period_bounds
    from aiusage.views.document import group_value

    report_rows: list[ReportRow] = doc["rows"]
    rows = []
    for row in report_rows:
        bounds = period_bounds(row["period"], doc["period"], tz)
        start = bounds[0].isoformat() if bounds else doc["range"]["since"]
        end = bounds[1].isoformat() if bounds else doc["range"]["until"]
        tags = {
            f: group_value(row, f)
            for f in doc["group_by"]
            if f not in ("model", "provider", "user_id")
        }
        model = group_value(row, "model")
        rows.append(
            {
                "ChargePeriodStart": start,
                "ChargePeriodEnd": end,
                "BillingCurrency": doc["currency"],
                "BilledCost": row["actual_cost"],
                "EffectiveCost": row["actual_cost"],
                "ListCost": row["cost"],
                "ChargeCategory": "Usage",
                "ChargeDescription": f"{row['requests']} AI API calls",
                "ConsumedQuantity": row["total_tokens"],
                "ConsumedUnit": "Tokens",
                "ServiceName": model or ";".join(row.get("models") or []) or "AI API",
                "ProviderName": group_value(row, "provider"),
                "SubAccountId": group_value(row, "user_id"),
                "Tags": orjson.dumps(tags).decode() if tags else "",
            }
        )
    return rows


def report_file_name(suffix: str, *, now: float) -> str:
    """The name of an export written into a directory: ``usage_report_YYYYMMDD_HHMMSS``."""
    import datetime as dt

    return dt.datetime.fromtimestamp(now).strftime(f"usage_report_%Y%m%d_%H%M%S.{suffix}")
