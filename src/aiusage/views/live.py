"""Following today's file as records arrive (``aiusage watch``): the state of the day, kept up
to date by reading only the lines appended since the last look.

:class:`Follower` starts from the day's rollup (one pass, through the cache) and then reads
new complete lines from its byte offset; at UTC midnight it moves on to the new day's file.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiusage.engine.rollup import COST_SCALE, Query
from aiusage.engine.timerange import TimeRange
from aiusage.pricing.cost import cost_of_record
from aiusage.pricing.price import TokenCounts
from aiusage.records.reader import ROW_DECODER, Row, decode_tolerant
from aiusage.store.dayfiles import DAY_SECONDS, day_of, day_path
from aiusage.views.document import Source, fold, money

WINDOW_MINUTES = 60


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
    """Keeps a :class:`LiveState` of today up to date from the day file's new lines."""

    def __init__(self, source: Source, tz: Any) -> None:
        self.source = source
        self.tz = tz
        self.state = LiveState(day="")
        self.path: Path | None = None
        self.offset = 0

    def _start_day(self, now: float) -> None:
        day = day_of(now)
        start = (day.toordinal() - day_of(0).toordinal()) * DAY_SECONDS
        query = Query((), "total", self.tz, TimeRange(start, start + DAY_SECONDS))
        from aiusage.views.document import run_query

        rollup = run_query(self.source, query)
        acc = fold(self.source, rollup, ()).get(())
        self.state = LiveState(day=day.isoformat())
        if acc is not None:
            self.state.requests = acc.requests
            self.state.failures = acc.requests - acc.successes
            self.state.tokens = acc.input + acc.output + acc.cache_read + acc.cache_write
            self.state.cost = money(acc.cost)
        self.path = day_path(self.source.data_dir, day)
        self.offset = self.path.stat().st_size if self.path.exists() else 0
        self._backfill_minutes(now)

    def _backfill_minutes(self, now: float) -> None:
        """Calls per minute of the last hour, from the end of the file."""
        if self.path is None or not self.path.exists():
            return
        start = max(self.offset - 2_000_000, 0)
        with open(self.path, "rb") as fh:
            fh.seek(start)
            lines = fh.read(self.offset - start).splitlines()
            # Reading from the middle of the file, the first line is only a part of one.
            for line in lines[1:] if start else lines:
                row = _decode(line)
                if row is not None and now - row.timestamp < WINDOW_MINUTES * 60:
                    minute = int(row.timestamp // 60)
                    self.state.per_minute[minute] = self.state.per_minute.get(minute, 0) + 1

    def poll(self, now: float | None = None) -> LiveState:
        """Take in the lines appended since the last poll; the state after them."""
        now = time.time() if now is None else now
        if self.state.day != day_of(now).isoformat():
            self._start_day(now)
            return self.state
        assert self.path is not None
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return self.state
        if size < self.offset:  # rewritten or truncated: start the day over
            self._start_day(now)
            return self.state
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(size - self.offset)
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            row = _decode(line)
            if row is not None and row.kind == "call":
                self._add(row)
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


def _decode(line: bytes) -> Row | None:
    try:
        return ROW_DECODER.decode(line)
    except ValueError:  # msgspec's decode and validation errors, bad UTF-8
        row: Row | None = decode_tolerant(ROW_DECODER.decode, line)
        return row
