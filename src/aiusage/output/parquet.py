"""``aiusage export --format parquet``: the records themselves, Hive-partitioned by UTC day
(``date=YYYY-MM-DD/part-0.parquet``), the layout DuckDB, Spark, Trino and ClickHouse read
directly. Needs the optional extra: ``pip install 'aiusage[parquet]'`` (pyarrow).

Each day's part is written to a temporary file and renamed into place, so a re-run replaces
days whole and a killed export leaves no partial file. Directories are created 0700 and
parts 0600; ``--out`` is checked like every export's path, and a partition dir that is a
symbolic link is refused (:mod:`aiusage.store.safepath`). Records are read with the same
tolerant reader as every report (bad lines skipped and counted); costs stay as recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiusage.bounds import MAX_STATUS, MIN_STATUS
from aiusage.engine.timerange import TimeRange
from aiusage.errors import UsageError
from aiusage.records.reader import DayReader
from aiusage.records.schema import serialize
from aiusage.records.skipped import Skipped
from aiusage.store.dayfiles import DayFile
from aiusage.store.safepath import open_out_dir

COLUMNS = (
    ("id", "string"),
    ("timestamp", "float64"),
    ("model", "string"),
    ("provider", "string"),
    ("user_id", "string"),
    ("session_id", "string"),
    ("anchor_id", "string"),
    ("function", "string"),
    ("input_tokens", "int64"),
    ("cache_read_tokens", "int64"),
    ("cache_write_tokens", "int64"),
    ("output_tokens", "int64"),
    ("reasoning_tokens", "int64"),
    ("cost", "float64"),
    ("currency", "string"),
    ("duration_ms", "float64"),
    ("ttfb_ms", "float64"),
    ("success", "bool_"),
    ("status_code", "int64"),
    ("api_key", "string"),
    ("host", "string"),
)


def _arrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise UsageError("--format parquet needs pyarrow: pip install 'aiusage[parquet]'") from None
    return pyarrow


def _rows(
    day_files: list[DayFile],
    time_range: TimeRange,
    skipped: Skipped,
    keep: Callable[[Any], bool] | None,
) -> Iterator[dict[str, Any]]:
    """One day's call records in the range that ``keep`` keeps; when the day's files come
    from several data dirs, a record whose ``id`` was already written is written once."""
    seen: set[Any] | None = set() if len({f.path.parent for f in day_files}) > 1 else None
    for day_file in day_files:
        for rec in DayReader(day_file, skipped).records():
            if rec.get("kind", "call") != "call" or not time_range.contains(rec["timestamp"]):
                continue
            if keep is not None and not keep(rec):
                continue
            record_id = rec.get("id")
            if seen is not None and isinstance(record_id, str):
                if record_id in seen:
                    continue
                seen.add(record_id)
            yield rec


INT64 = range(-(2**63), 2**63)
STATUS_CODES = range(MIN_STATUS, MAX_STATUS + 1)


def _cell(name: str, value: Any, kind: str) -> Any:
    """A record's value as its column holds it: strings as text; a field no reader checks
    (``status_code``) outside its bounds (an HTTP status 100–599) is left empty, as it is
    read."""
    if value is None:
        return None
    if kind == "string":
        return str(value)
    if kind == "int64" and (type(value) is not int or value not in INT64):
        return None
    if name == "status_code" and value not in STATUS_CODES:
        return None
    return value


def _columns(records: Iterator[dict[str, Any]]) -> dict[str, list[Any]]:
    """Records as the columns of a part."""
    columns: dict[str, list[Any]] = {name: [] for name, _ in COLUMNS}
    columns["tags"] = []
    for rec in records:
        for name, kind in COLUMNS:
            value = rec.get(name)
            if kind == "int64" and value is None and name.endswith("_tokens"):
                value = 0
            columns[name].append(_cell(name, value, kind))
        tags = rec.get("tags")
        columns["tags"].append(serialize(tags)[:-1].decode() if tags else None)
    return columns


def write_parquet(
    files: list[DayFile],
    out: Path,
    time_range: TimeRange,
    *,
    keep: Callable[[Any], bool] | None = None,
) -> tuple[list[Path], Skipped]:
    """Write one part per UTC day under ``out`` (the records ``keep`` keeps, or all); the
    parts written and the lines skipped."""
    pa = _arrow()
    schema = pa.schema(
        [(name, getattr(pa, kind)()) for name, kind in COLUMNS] + [("tags", pa.string())]
    )
    skipped = Skipped()
    written = []
    days: dict[str, list[DayFile]] = {}
    for day_file in files:
        days.setdefault(day_file.day.isoformat(), []).append(day_file)
    with open_out_dir(out, create=True) as root:
        for day, day_files in sorted(days.items()):
            columns = _columns(_rows(day_files, time_range, skipped, keep))
            if not columns["timestamp"]:
                continue
            table = pa.table(columns, schema=schema)
            with root.subdir(f"date={day}") as part:
                fill = functools.partial(pa.parquet.write_table, table)
                written.append(part.write("part-0.parquet", fill))
    return written, skipped
