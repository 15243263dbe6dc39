"""Any JSONL or CSV export (a gateway's spend log, a provider's usage CSV) mapped field by
field onto the record schema with ``--map field=column``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from aiusage.errors import AiusageError, UsageError
from aiusage.importers.engine import ImportResult, Sink, derived_id, epoch
from aiusage.records.reader import whole_record
from aiusage.records.schema import FIELDS

if TYPE_CHECKING:
    from aiusage.workspace import Workspace


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """``--map field=column`` options as {record field: source column}."""
    mapping = {}
    for item in items:
        target, sep, column = item.partition("=")
        if not sep or not column:
            raise UsageError(f"--map expects FIELD=COLUMN, got {item!r}")
        if target not in FIELDS and not target.startswith("tag:"):
            raise UsageError(f"--map {item}: {target!r} is not a record field (or tag:NAME)")
        mapping[target] = column
    if "model" not in mapping and "timestamp" not in mapping:
        raise UsageError("--map needs at least model=COLUMN and timestamp=COLUMN")
    return mapping


INTEGER_FIELDS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "reasoning_tokens",
        "total_tokens",
        "status_code",
        "request_bytes",
        "response_bytes",
    }
)
FLOAT_FIELDS = frozenset({"cost", "duration_ms", "ttfb_ms"})


def _lookup(row: Mapping[str, Any], column: str) -> Any:
    """A column, or a dotted path into nested JSON (``usage.prompt_tokens``)."""
    value: Any = row
    for part in column.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _convert(target: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if target == "timestamp":
        ts = (
            epoch(value)
            if not isinstance(value, str) or not value.replace(".", "", 1).isdigit()
            else epoch(float(value))
        )
        if ts is None:
            raise UsageError(f"timestamp {value!r} is not epoch seconds or an ISO datetime")
        return ts
    if target in INTEGER_FIELDS:
        return int(float(value))
    if target in FLOAT_FIELDS:
        return float(value)
    if target == "success":
        return (
            value
            if isinstance(value, bool)
            else str(value).strip().lower() in ("1", "true", "yes", "ok", "success")
        )
    return str(value)


def mapped_rows(raw: bytes, kind: str) -> Iterator[Mapping[str, Any]]:
    """The rows of a JSONL or CSV file, read like a day file: bytes that are not UTF-8 as
    U+FFFD (a line that is not a JSON object is an empty row)."""
    if kind == "csv":
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig", errors="replace")))
        try:
            yield from reader
        except csv.Error as exc:  # a field beyond the csv module's limit
            raise UsageError(f"line {reader.line_num + 1}: {exc}") from None
        return
    for line in raw.splitlines():
        if line.strip():
            try:
                obj = whole_record(line)
            except (ValueError, AttributeError):  # not JSON; a non-object only msgspec reads
                yield {}
                continue
            yield obj if isinstance(obj, dict) else {}


def _mapped_fields(
    row: Mapping[str, Any], mapping: Mapping[str, str], source: str
) -> dict[str, Any]:
    """The record fields of one row, each from its mapped column (``tag:NAME`` targets
    become tags); raises on a value that does not convert."""
    fields: dict[str, Any] = {"tags": {"source": source}}
    for target, column in mapping.items():
        tag = target.removeprefix("tag:") if target.startswith("tag:") else None
        value = _convert(tag or target, _lookup(row, column))
        if value is None:
            continue
        if tag is not None:
            fields["tags"][tag] = str(value)
        else:
            fields[target] = value
    return fields


def import_mapped(
    path: Path,
    kind: str,
    mapping: Mapping[str, str],
    workspace: Workspace,
    *,
    source: str,
    dry_run: bool = False,
) -> ImportResult:
    """Import a JSONL or CSV export, each record's fields taken from ``mapping``'s columns;
    ids derive from the file name and row content, so a re-import adds nothing."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    result = ImportResult(source)
    result.files = 1
    sink = Sink(result, workspace)
    errors: list[str] = []
    try:
        rows = list(mapped_rows(raw, kind))
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}; nothing imported") from None
    for number, row in enumerate(rows, 1):
        result.lines += 1
        if not row:
            result.skip("malformed line")
            continue
        try:
            fields = _mapped_fields(row, mapping, source)
        except (UsageError, ValueError) as exc:
            errors.append(f"row {number}: {exc}")
            continue
        fields.setdefault("provider", None)
        fields["id"] = fields.get("id") or derived_id(
            source, path.name, orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode()
        )
        if sink.seen_before(fields["id"]):
            continue
        try:
            sink.add(fields)
        except AiusageError as exc:
            errors.append(f"row {number}: {exc}")
    if errors:
        raise UsageError(
            f"{path}: {errors[0]}"
            + (f" (+{len(errors) - 1} more rows)" if len(errors) > 1 else "")
            + "; nothing imported"
        )
    if not dry_run:
        sink.write()
    return result
