"""``aiusage export --format parquet``: the records themselves, Hive-partitioned by UTC day
(``date=YYYY-MM-DD/part-0.parquet``), the layout DuckDB, Spark, Trino and ClickHouse read
directly. Needs the optional extra: ``pip install 'aiusage[parquet]'`` (pyarrow).

Each day's part is written to a temporary file and renamed into place, so a re-run replaces
days whole and a killed export leaves no partial file. Directories are created 0700 and
parts 0600; ``--out`` is checked like every export's path, and a partition dir that is a
symbolic link is refused (:mod:`aiusage.store.safepath`). Records are read with the same
tolerant reader as every report (bad lines skipped and counted); costs stay as recorded.

The typed rows of that reader are read (no record is built as a dict) and turned into columns
a batch at a time; the days are shared among one process per core, each writing its own.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson

from aiusage.bounds import MAX_STATUS, MIN_STATUS
from aiusage.engine.scan import file_size, workers_for
from aiusage.engine.timerange import TimeRange
from aiusage.errors import UsageError
from aiusage.records.reader import DayReader, in_64_bits
from aiusage.records.schema import serialize
from aiusage.records.skipped import Skipped
from aiusage.store.dayfiles import DayFile
from aiusage.store.processes import map_in_processes
from aiusage.store.safepath import OutDir, open_out_dir

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


# The row fields read: the columns (which hold every field a filter reads) and the tags.
FIELDS = frozenset(name for name, _ in COLUMNS) | {"tags"}
# The fields a foreign file may hold anything in (the text columns but ``currency``, and the
# tags): the ones whose values a row may hold otherwise than the whole record does.
_ANY_FIELDS = (
    *(name for name, kind in COLUMNS if kind == "string" and name != "currency"),
    "tags",
    "status_code",
)
_TEXT_TYPES = frozenset({str, type(None)})
BATCH_ROWS = 1 << 16  # rows turned into columns at a time


def _as_read(value: Any) -> Any:
    """A value as :func:`~aiusage.records.reader.whole_record` holds it (integers beyond 64
    bits as floats; nested nearly as deep as the reader reads: kept as read)."""
    try:
        return in_64_bits(value)
    except RecursionError:
        return value


def _whole(row: Any) -> Any:
    """``row`` with its untyped values as the whole record holds them, for a filter (which
    reads them as text). Rows are changed in place: their columns are the same then."""
    for name in _ANY_FIELDS:
        value = getattr(row, name)
        if value is not None and type(value) is not str:
            setattr(row, name, _as_read(value))
    return row


def _day_batches(
    pa: Any,
    schema: Any,
    day_files: list[DayFile],
    time_range: TimeRange,
    skipped: Skipped,
    keep: Callable[[Any], bool] | None,
) -> list[Any]:
    """One day's call records in the range that ``keep`` keeps, as record batches of at most
    :data:`BATCH_ROWS` rows (read as recorded: a call without ``success`` has none); when the
    day's files come from several data dirs, a record whose ``id`` was already written is
    written once. Only a batch's typed rows are held at a time."""
    seen: set[Any] | None = set() if len({f.path.parent for f in day_files}) > 1 else None
    since = -math.inf if time_range.since is None else time_range.since
    until = math.inf if time_range.until is None else time_range.until
    batches = []
    for day_file in day_files:
        rows = iter(DayReader(day_file, skipped, fields=FIELDS, as_recorded=True))
        while read := list(itertools.islice(rows, BATCH_ROWS)):
            kept = _kept(read, since, until, keep, seen)
            if kept:
                batches.append(_batch(pa, schema, kept))
    return batches


def _kept(
    rows: list[Any],
    since: float,
    until: float,
    keep: Callable[[Any], bool] | None,
    seen: set[Any] | None,
) -> list[Any]:
    """The calls of ``rows`` from ``since`` until ``until`` that ``keep`` keeps and whose
    string ``id`` is not in ``seen`` (which gets the ids kept)."""
    if keep is None and seen is None:
        # The common case, checked a column at a time: a file holds calls of its day only.
        stamps = list(map(operator.attrgetter("timestamp"), rows))
        if (rows and (min(stamps) < since or max(stamps) >= until)) or "counter" in map(
            operator.attrgetter("kind"), rows
        ):
            rows = [row for row in rows if row.kind == "call" and since <= row.timestamp < until]
        return rows
    kept = []
    for row in rows:
        if row.kind != "call" or not since <= row.timestamp < until:
            continue
        if keep is not None and not keep(_whole(row)):
            continue
        if seen is not None and isinstance(row.id, str):
            if row.id in seen:
                continue
            seen.add(row.id)
        kept.append(row)
    return kept


STATUS_CODES = range(MIN_STATUS, MAX_STATUS + 1)


def _column(pa: Any, name: str, kind: str, arrow_type: Any, values: list[Any]) -> Any:
    """One column of a batch of rows (``values``, as read) as the column holds it: text as
    text (a foreign value as the text of its value in the whole record); a token count a
    record lacks as 0; a field no reader checks (``status_code``) outside its bounds (an HTTP
    status 100–599) empty, as it is read; a ``success`` a record lacks empty. Values are
    fixed up only when Arrow refuses them, or holds an empty count."""
    if name == "status_code":
        values = [v if type(v) is int and v in STATUS_CODES else None for v in values]
        return pa.array(values, type=arrow_type)
    try:
        array = pa.array(values, type=arrow_type)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # a foreign value, a success left UNSET
        if kind == "string":
            values = [v if v is None or type(v) is str else str(_as_read(v)) for v in values]
        else:
            unset = msgspec.UNSET
            values = [None if v is unset else v for v in values]
        return pa.array(values, type=arrow_type)
    if kind == "int64" and array.null_count:  # a token count of null: 0, as a record lacks
        array = pa.array([0 if v is None else v for v in values], type=arrow_type)
    return array


def _tags_text(tags: Any) -> str | None:
    """A record's tags as one JSON text (none when it has none)."""
    return serialize(_as_read(tags))[:-1].decode() if tags else None


def _tags(values: list[Any]) -> list[str | None]:
    """The tags column of a batch of rows (as text: Arrow takes bytes 30× slower)."""
    dumps = orjson.dumps
    try:
        return [dumps(t).decode() if t else None for t in values]
    except orjson.JSONEncodeError:  # integers beyond 64 bits, deep nesting: the slow way
        return [_tags_text(t) for t in values]


def _batch(pa: Any, schema: Any, rows: list[Any]) -> Any:
    """A record batch of ``rows``."""
    arrays = [
        _column(pa, name, kind, column.type, list(map(operator.attrgetter(name), rows)))
        for (name, kind), column in zip(COLUMNS, schema, strict=False)
    ]
    tags = _tags(list(map(operator.attrgetter("tags"), rows)))
    arrays.append(pa.array(tags, type=pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# A run of days one process writes: (day, its files), in order.
Run = list[tuple[str, list[DayFile]]]


def _write_days(
    job: tuple[OutDir, Run, TimeRange, Callable[[Any], bool] | None],
) -> tuple[list[Path], Skipped]:
    """Write the parts of a run of days; the parts written and the lines skipped."""
    root, run, time_range, keep = job
    pa = _arrow()
    schema = _schema(pa)
    skipped = Skipped()
    written = []
    for day, day_files in run:
        batches = _day_batches(pa, schema, day_files, time_range, skipped, keep)
        if not batches:
            continue
        table = pa.Table.from_batches(batches, schema=schema)
        with root.subdir(f"date={day}") as part:
            fill = functools.partial(pa.parquet.write_table, table)
            written.append(part.write("part-0.parquet", fill))
    return written, skipped


def _schema(pa: Any) -> Any:
    return pa.schema(
        [(name, getattr(pa, kind)()) for name, kind in COLUMNS] + [("tags", pa.string())]
    )


def _runs(days: Run) -> list[Run]:
    """The days in contiguous runs of about equal size, one per process
    (:func:`~aiusage.engine.scan.workers_for`); one run where processes are not forked (a
    filter need not travel to a spawned one)."""
    try:
        sizes = [sum(map(file_size, files)) for _, files in days]
    except OSError:
        return [days]  # a file gone since it was listed: the reader says so
    workers = min(workers_for(sum(sizes)), len(days)) if sys.platform == "linux" else 1
    if workers < 2:
        return [days]
    target = sum(sizes) / workers
    runs: list[Run] = [[]]
    done = 0
    for item, size in zip(days, sizes, strict=True):
        if runs[-1] and done >= target * len(runs) and len(runs) < workers:
            runs.append([])
        runs[-1].append(item)
        done += size
    return runs


def write_parquet(
    files: list[DayFile],
    out: Path,
    time_range: TimeRange,
    *,
    keep: Callable[[Any], bool] | None = None,
) -> tuple[list[Path], Skipped]:
    """Write one part per UTC day under ``out`` (the records ``keep`` keeps, or all); the
    parts written and the lines skipped."""
    _arrow()
    days: dict[str, list[DayFile]] = {}
    for day_file in files:
        days.setdefault(day_file.day.isoformat(), []).append(day_file)
    skipped = Skipped()
    written: list[Path] = []
    with open_out_dir(out, create=True) as root:
        jobs = [(root, run, time_range, keep) for run in _runs(sorted(days.items()))]
        for paths, part_skipped in map_in_processes(_write_days, jobs):
            written += paths
            skipped.merge(part_skipped)
    return written, skipped
