"""Following today's file as records arrive (``aiusage watch``): the state of the day, kept up
to date by reading only the lines appended since the last look.

:class:`Follower` starts from the day's rollup (one pass, through the cache) and then reads
new complete lines from each day file's byte offset; at UTC midnight it moves on to the new
day's files.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiusage.engine.rollup import COST_SCALE, Filters, Query, filter_function
from aiusage.engine.timerange import TimeRange
from aiusage.pricing.cost import TokenCounts, cost_of_record
from aiusage.records.reader import ALL_FIELDS, DayReader, Row, line_reader
from aiusage.records.skipped import Skipped
from aiusage.store.dayfiles import DAY_SECONDS, DayFile, day_of, day_path
from aiusage.views.document import Source, fold, money

WINDOW_MINUTES = 60
HOUR = WINDOW_MINUTES * 60
READER = line_reader(ALL_FIELDS)


@dataclass
class LiveState:
    """Today's totals (report currency), calls per minute for the last hour, newest calls."""

    day: str
    requests: int = 0
    failures: int = 0
    tokens: int = 0
    cost: float = 0.0
    per_minute: dict[int, int] = field(default_factory=dict)
    latest: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10))

    def calls_per_minute(self, now: float) -> list[int]:
        """Calls in each of the last 60 minutes, oldest first."""
        current = int(now // 60)
        return [self.per_minute.get(current - i, 0) for i in range(WINDOW_MINUTES - 1, -1, -1)]

    @property
    def error_rate(self) -> float | None:
        """Failures / calls today."""
        return self.failures / self.requests if self.requests else None


class Follower:
    """Keeps a :class:`LiveState` of today up to date from the new lines of today's file in
    each data dir (over several, a record whose ``id`` was counted from another counts once),
    counting the calls that pass ``filters``."""

    def __init__(self, source: Source, tz: Any, *, filters: Filters | None = None) -> None:
        self.source = source
        self.tz = tz
        self.filters = filters or Filters()
        self.keep = filter_function(self.filters, source.pricing.lookup, rows=True)
        self.state = LiveState(day="")
        # Today's file in each data dir → the byte it has been read up to.
        self.offsets: dict[Path, int] = {}
        # The ids of today's records counted, when following several data dirs.
        self.seen: set[str] | None = None

    @property
    def offset(self) -> int:
        """How many bytes of today's files have been read."""
        return sum(self.offsets.values())

    def _start_day(self, now: float) -> None:
        day = day_of(now)
        start = (day.toordinal() - day_of(0).toordinal()) * DAY_SECONDS
        query = Query((), "total", self.tz, TimeRange(start, start + DAY_SECONDS), self.filters)
        from aiusage.views.document import run_query

        rollup = run_query(self.source, query)
        acc = fold(self.source, rollup, ()).get(())
        self.state = LiveState(day=day.isoformat())
        if acc is not None:
            self.state.requests = acc.requests
            self.state.failures = acc.requests - acc.successes
            self.state.tokens = acc.input + acc.output + acc.cache_read + acc.cache_write
            self.state.cost = money(acc.cost)
        paths = [day_path(d, day) for d in (self.source.data_dir, *self.source.extra_dirs)]
        self.offsets = {path: path.stat().st_size if path.exists() else 0 for path in paths}
        self.seen = set() if self.source.extra_dirs else None
        for path, offset in self.offsets.items():
            self._backfill_minutes(path, offset, now)

    def _backfill_minutes(self, path: Path, offset: int, now: float) -> None:
        """Calls per minute of the last hour, from the end of the file (over several data
        dirs, from all of it: the ids of the day are needed to count each record once)."""
        if not path.exists():
            return
        start = 0 if self.seen is not None else max(offset - 2_000_000, 0)
        with open(path, "rb") as fh:
            fh.seek(start)
            lines = fh.read(offset - start).splitlines()
        # Reading from the middle of the file, the first line is only a part of one.
        for line in lines[1:] if start else lines:
            row = READER.row(line)
            if row is not None and self._counts(row) and now - row.timestamp < HOUR:
                minute = int(row.timestamp // 60)
                self.state.per_minute[minute] = self.state.per_minute.get(minute, 0) + 1

    def _counts(self, row: Row) -> bool:
        """Whether ``row`` counts: a call that passes the filters and, over several data
        dirs, whose ``id`` was not counted before."""
        if row.kind != "call" or (self.keep is not None and not self.keep(row)):
            return False
        if self.seen is not None and isinstance(row.id, str):
            if row.id in self.seen:
                return False
            self.seen.add(row.id)
        return True

    def poll(self, now: float | None = None) -> LiveState:
        """Take in the lines appended since the last poll; the state after them."""
        now = time.time() if now is None else now
        if self.state.day != day_of(now).isoformat():
            self._start_day(now)
            return self.state
        for path, offset in self.offsets.items():
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if size < offset:  # rewritten or truncated: start the day over
                self._start_day(now)
                return self.state
            day_file = DayFile(day_of(now), path)
            with DayReader(
                day_file, Skipped(), fields=ALL_FIELDS, start=offset, complete_lines_only=True
            ) as reader:
                for row in reader:
                    if self._counts(row):
                        self._add(row)
            self.offsets[path] = reader.offset
        cutoff = int(now // 60) - WINDOW_MINUTES
        for minute in [m for m in self.state.per_minute if m <= cutoff]:
            del self.state.per_minute[minute]
        return self.state

    def _add(self, row: Row) -> None:
        state = self.state
        state.requests += 1
        if not row.success:
            state.failures += 1
        tokens = sum(
            t or 0
            for t in (
                row.input_tokens,
                row.output_tokens,
                row.cache_read_tokens,
                row.cache_write_tokens,
            )
        )
        state.tokens += tokens
        charge = cost_of_record(
            self.source.pricing.lookup(row.model),
            TokenCounts.of(row),
            cost=row.cost,
            currency=row.currency,
            success=row.success,
            batch=row.service_tier == "batch",
            default_currency=self.source.default_currency,
        )
        if charge.picos is not None:
            rate = self.source.pricing.rate(charge.currency, self.source.currency)
            state.cost += float(charge.picos * rate) / COST_SCALE
        minute = int(row.timestamp // 60)
        state.per_minute[minute] = state.per_minute.get(minute, 0) + 1
        state.latest.appendleft(
            {
                "timestamp": row.timestamp,
                "user_id": row.user_id,
                "model": row.model,
                "function": row.function,
                "tokens": tokens,
                "cost": row.cost if charge.price is None else charge.amount,
                "currency": charge.currency,
                "success": row.success,
                "duration_ms": row.duration_ms,
            }
        )
