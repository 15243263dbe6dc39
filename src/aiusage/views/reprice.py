"""``aiusage reprice``: what today's pricing table would change, per day and model, and —
when asked — rewriting closed day files with today's prices.

Re-pricing never edits lines in place: a plain day file is rewritten to a temporary file
next to it, synced, and swapped in with one ``rename`` while the writers' lock is held, so a
crash leaves either the old file or the new one. A compressed day — its ``.gz``, and a plain
file of records back-filled since, if any — is folded into one new gzip as ``compact``
does (:func:`aiusage.store.retention.fold_day`): the old day or the new one, never a mix.
Temporary files of killed runs are deleted first. Today's file (still being appended to) is never
rewritten; reports can use ``--cost current`` instead. Lines that are not valid call
records are copied unchanged.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aiusage.engine.rollup import Acc, Filters, Query, filter_function
from aiusage.engine.timerange import TimeRange
from aiusage.errors import DataError, ValidationError
from aiusage.pricing.table import PricingTable
from aiusage.records.prepare import reprice
from aiusage.records.reader import line_reader
from aiusage.records.schema import serialize
from aiusage.store.atomic import create_temp, remove_stale_temps, sync_dir, temp_path
from aiusage.store.dayfiles import DayFile, day_path, lock
from aiusage.store.retention import DAY_FILES, fold_day
from aiusage.views.document import (
    Source,
    envelope,
    fold,
    money,
    not_counted,
    run_query,
    source_files,
)

UTC = dt.UTC


def plan(
    source: Source, *, tz: Any, time_range: TimeRange, now: float, filters: Filters | None = None
) -> dict[str, Any]:
    """The ``aiusage.reprice/1`` document: per UTC day and model, the recorded cost and the
    cost at today's prices (two passes of the aggregator), largest change first."""
    from zoneinfo import ZoneInfo

    utc = ZoneInfo("UTC")
    query = Query(("model",), "day", utc, time_range, filters or Filters(), latency=False)
    recorded_rollup = run_query(replace(source, cost_mode="recorded"), query)
    recorded = fold(source, recorded_rollup, ("model",), period=True)
    current_rollup = run_query(replace(source, cost_mode="current"), query)
    current = fold(source, current_rollup, ("model",), period=True)
    rows = []
    total_before, total_after = Acc(), Acc()
    for key, before in recorded.items():
        after = current.get(key, Acc())
        total_before.merge(before)
        total_after.merge(after)
        # Below a billionth it is float noise of currency conversion, not a price change.
        delta = round(money(after.cost) - money(before.cost), 9)
        rows.append(
            {
                "day": key[0],
                "model": key[1],
                "requests": before.requests,
                "recorded_cost": money(before.cost),
                "current_cost": money(after.cost),
                "change": delta,
                "unpriced_now": after.unpriced,
            }
        )
    rows.sort(key=lambda r: (-abs(r["change"]), r["day"], r["model"]))
    today = dt.datetime.fromtimestamp(now, UTC).date().isoformat()
    doc = envelope("reprice", time_range, tz, source.currency, now=now)
    doc.update(
        {
            "rows": rows,
            "totals": {
                "requests": total_before.requests,
                "recorded_cost": money(total_before.cost),
                "current_cost": money(total_after.cost),
                "change": round(money(total_after.cost) - money(total_before.cost), 9),
            },
            "changed_days": sorted({r["day"] for r in rows if r["change"] and r["day"] < today}),
            "pricing_version": source.pricing.version,
            **not_counted(current_rollup),
        }
    )
    return doc


Keep = Callable[[dict[str, Any]], bool] | None


def rewrite_file(
    day_file: DayFile, table: PricingTable, time_range: TimeRange, keep: Keep = None
) -> int:
    """Re-price one closed day in place (atomically): a plain file alone, or a compressed
    day (both its files) folded into one gzip; how many records changed."""
    path = day_file.path

    def rewrite(line: bytes) -> bytes | None:
        return _repriced_line(line, table, time_range, keep)

    plain = day_path(path.parent, day_file.day)
    if day_file.compressed or plain.with_suffix(".jsonl.gz").exists():
        folded = fold_day(plain, rewrite=rewrite)
        return 0 if folded is None else folded[1]
    tmp = temp_path(path)
    changed = 0
    try:
        with lock(path), open(path, "rb") as src:
            fd = create_temp(tmp)
            with open(fd, "wb") as dst:
                for line in src:
                    new = rewrite(line)
                    changed += new is not None
                    dst.write(line if new is None else new)
                dst.flush()
                os.fsync(dst.fileno())
            if changed:
                os.replace(tmp, path)
                sync_dir(path.parent)
    except FileNotFoundError:
        return 0  # compacted or pruned meanwhile: the next run re-prices what is there
    except OSError as exc:
        raise DataError(f"cannot rewrite {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return changed


def _repriced_line(
    line: bytes, table: PricingTable, time_range: TimeRange, keep: Keep
) -> bytes | None:
    """The line re-priced, or ``None`` when it stays as it is."""
    rec = line_reader().record(line)
    if rec is None or not time_range.contains(rec["timestamp"]):
        return None
    if keep is not None and not keep(rec):
        return None
    try:
        if not reprice(rec, table):
            return None
    except ValidationError:
        # Today's price puts it beyond the cost bound (README "The record": bounds): a
        # record is never stored out of bounds, so this one keeps its recorded cost.
        return None
    return serialize(rec)


def apply(
    source: Source, *, time_range: TimeRange, now: float, filters: Filters | None = None
) -> dict[str, int]:
    """Rewrite every closed day file of the range, in every data dir, with today's prices
    (records passing ``filters``); records changed per file (its name, or its path when
    there are several data dirs)."""
    keep = filter_function(filters or Filters(), source.pricing.lookup)
    today = dt.datetime.fromtimestamp(now, UTC).date()
    results: dict[str, int] = {}
    for directory in (source.data_dir, *source.extra_dirs):
        remove_stale_temps(directory, DAY_FILES)
    done: set[tuple[str, dt.date]] = set()
    for day_file in source_files(source, time_range.first_day(), time_range.last_day()):
        day = (str(day_file.path.parent), day_file.day)
        if day_file.day >= today or day in done:
            continue
        done.add(day)  # a compressed day's two files are re-priced together
        n = rewrite_file(day_file, source.pricing, time_range, keep)
        if n:
            gz = day_path(day_file.path.parent, day_file.day).with_suffix(".jsonl.gz")
            path = gz if gz.exists() else day_file.path  # the file the day is in now
            results[str(path) if source.extra_dirs else path.name] = n
    return results
