"""``aiusage export --format parquet``: the records themselves, Hive-partitioned by UTC day
(``date=YYYY-MM-DD/part-0.parquet``), the layout DuckDB, Spark, Trino and ClickHouse read
directly. Needs the optional extra: ``pip install 'aiusage[parquet]'`` (pyarrow).

Each day's part is written to a temporary file and renamed into place, so a re-run replaces
days whole and a killed export leaves no partial file. Records are read with the same
tolerant reader as every report (bad lines skipped and counted); costs stay as recorded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from aiusage.engine.timerange import TimeRange
from aiusage.errors import DataError, UsageError
from aiusage.records.reader import DayReader, Skipped
from aiusage.store.atomic import remove_stale_temps, temp_path
from aiusage.store.dayfiles import DayFile

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


def _cell(value: Any, kind: str) -> Any:
    """A record's value as its column holds it: strings as text; a field no reader checks
    (``status_code``) that is not an integer of the column's range is left empty."""
    if value is None:
        return None
    if kind == "string":
        return str(value)
    if kind == "int64" and (type(value) is not int or value not in INT64):
        return None
    return value


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
    if ".." in out.parts or out.is_symlink():
        raise UsageError(f"--out {out}: give a plain directory path (no '..', no symbolic link)")
    out.mkdir(parents=True, exist_ok=True)
    skipped = Skipped()
    written = []
    days: dict[str, list[DayFile]] = {}
    for day_file in files:
        days.setdefault(day_file.day.isoformat(), []).append(day_file)
    for day, day_files in sorted(days.items()):
        columns: dict[str, list[Any]] = {name: [] for name, _ in COLUMNS}
        columns["tags"] = []
        for rec in _rows(day_files, time_range, skipped, keep):
            for name, kind in COLUMNS:
                value = rec.get(name)
                if kind == "int64" and value is None and name.endswith("_tokens"):
                    value = 0
                columns[name].append(_cell(value, kind))
            tags = rec.get("tags")
            columns["tags"].append(orjson.dumps(tags).decode() if tags else None)
        if not columns["timestamp"]:
            continue
        part_dir = out / f"date={day}"
        part_dir.mkdir(exist_ok=True)
        target = part_dir / "part-0.parquet"
        tmp = temp_path(target)
        try:
            remove_stale_temps(part_dir, target.name)  # of a killed export
            table = pa.table(columns, schema=schema)
            pa.parquet.write_table(table, tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise DataError(f"cannot write {target}: {exc.strerror or exc}") from exc
        finally:
            if tmp.exists():
                tmp.unlink()
        written.append(target)
    return written, skipped
