"""``aiusage logs``: the individual calls behind the numbers (seed 004's call details),
newest first.

Day files are read newest day first, keeping only the ``limit`` newest matching records
(a bounded heap): memory is bounded by ``limit``, never by the size of a day. Reading stops
at the first older day once ``limit`` records newer than that day are held. Records are read
by the reader every command reads through (:class:`~aiusage.records.reader.DayReader`).
"""

from __future__ import annotations

import datetime as dt
import heapq
from typing import Any

from aiusage.engine.rollup import Filters, filter_function
from aiusage.engine.timerange import TimeRange
from aiusage.errors import UsageError
from aiusage.records.reader import DayReader
from aiusage.records.skipped import Skipped
from aiusage.store.dayfiles import DAY_SECONDS
from aiusage.views.document import Source, source_files


def newest_calls(
    source: Source,
    *,
    time_range: TimeRange,
    limit: int,
    filters: Filters | None = None,
    failed_only: bool = False,
) -> tuple[list[dict[str, Any]], Skipped]:
    """The ``limit`` newest call records in the range that pass the filters, newest first.
    Over several data dirs, a record whose ``id`` was seen that day in another is shown once."""
    if limit < 1:
        raise UsageError(f"--limit must be at least 1, got {limit}")
    keep = filter_function(filters or Filters(), source.pricing.lookup)
    files = source_files(source, time_range.first_day(), time_range.last_day())
    skipped = Skipped()
    heap: list[tuple[float, int, dict[str, Any]]] = []
    seq = 0
    seen: set[Any] = set()
    day: dt.date | None = None
    for day_file in reversed(files):
        if len(heap) >= limit and heap[0][0] >= day_file.start + DAY_SECONDS:
            break
        if day_file.day != day:
            seen, day = set(), day_file.day
        for rec in DayReader(day_file, skipped).records():
            if rec.get("kind", "call") != "call" or not time_range.contains(rec["timestamp"]):
                continue
            if source.extra_dirs and _seen_before(rec.get("id"), seen):
                continue
            if failed_only and rec.get("success", True) is not False:
                continue
            if keep is not None and not keep(rec):
                continue
            seq += 1
            item = (rec["timestamp"], seq, rec)
            if len(heap) < limit:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
    calls = [rec for _, _, rec in sorted(heap, reverse=True)]
    return calls, skipped


def _seen_before(record_id: Any, seen: set[Any]) -> bool:
    """Whether ``record_id`` is in ``seen`` (adding it if not); records without one never are."""
    if not isinstance(record_id, str):
        return False
    if record_id in seen:
        return True
    seen.add(record_id)
    return False
