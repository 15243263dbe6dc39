"""``aiusage doctor``: checks a data dir — its files and record counts, the date range,
malformed lines (file:line and why), records in the wrong day file, unpriced models,
files or directories that others can read, temporary files left by killed commands, and
(as information) days held in a gzip and a plain file.

Each file gets its own pass of the one aggregator with the audit switched on, so the
numbers are those every report sees. Malformed lines are data errors; the rest are
warnings.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from typing import Any
from zoneinfo import ZoneInfo

from aiusage.engine.rollup import Query, Rollup
from aiusage.engine.scan import scan_file
from aiusage.engine.timerange import TimeRange, iso_utc
from aiusage.store.atomic import stale_temps
from aiusage.store.dayfiles import DayFile
from aiusage.views.document import Source, envelope, fold, source_files

UTC = ZoneInfo("UTC")


def _locate(part: Rollup, name: str, path: str) -> None:
    """Name the file of ``part``'s problem lines by its ``path`` (several dirs have files of
    the same name)."""
    for problems in (part.skipped, part.misplaced):
        problems.locations = [
            (path if where == name else where, n, why) for where, n, why in problems.locations
        ]


def _loose(mode: int, private: int) -> bool:
    """Whether a file or directory mode grants more than ``private`` (0600/0700)."""
    return bool(stat.S_IMODE(mode) & ~private & 0o077)


def _split_days(files: list[DayFile], name: Any) -> list[dict[str, Any]]:
    """The days held in a gzip and a plain file (back-filled after a compaction, or a
    compaction killed before its last step): each counted once, folded by ``compact``."""
    gzipped = {(f.path.parent, f.day): f for f in files if f.compressed}
    return [
        {
            "day": f.day.isoformat(),
            "gzip": name(gzipped[f.path.parent, f.day].path),
            "plain": name(f.path),
            "held_bytes": f.begin,
        }
        for f in files
        if not f.compressed and (f.path.parent, f.day) in gzipped
    ]


def _leftovers(source: Source, name: Any) -> list[dict[str, Any]]:
    """The temporary files of day files whose process is gone (killed midway)."""
    found = []
    for directory in (source.data_dir, *source.extra_dirs):
        for path in stale_temps(directory, "usage_*"):
            try:
                found.append({"file": name(path), "bytes": path.stat().st_size})
            except OSError:  # deleted meanwhile
                continue
    return found


def build_doctor(source: Source, *, now: float) -> dict[str, Any]:
    """The ``aiusage.doctor/1`` document; ``errors`` > 0 means data errors (exit 3). Over
    several data dirs, files are named by their path and a record whose ``id`` is in another
    dir's file of the same day is counted once (as every report counts it)."""
    query = Query(("model",), "total", UTC, TimeRange(None, None), counters=True, audit=True)
    total = Rollup.of(query)
    files = []
    warnings: list[str] = []
    several = bool(source.extra_dirs)
    for directory in (source.data_dir, *source.extra_dirs):
        dir_mode = os.stat(directory).st_mode
        if _loose(dir_mode, 0o700):
            warnings.append(
                f"data dir {directory} is mode {stat.S_IMODE(dir_mode):o}: "
                "others can list it (chmod 700)"
            )
    seen: dict[dt.date, set[Any]] = {}
    day_files = source_files(source, None, None)
    for day_file in day_files:
        part = Rollup.of(query)
        scan_file(
            day_file,
            query,
            source.pricing,
            part,
            default_currency=source.default_currency,
            seen=seen.setdefault(day_file.day, set()) if several else None,
        )
        name = str(day_file.path) if several else day_file.path.name
        if several:
            _locate(part, day_file.path.name, name)
        st = day_file.path.stat()
        files.append(
            {
                "file": name,
                "day": day_file.day.isoformat(),
                "bytes": st.st_size,
                "mode": f"{stat.S_IMODE(st.st_mode):o}",
                "records": part.records,
                "counter_keys": len(part.counters),
                "malformed_lines": part.skipped.count,
                "misplaced_records": part.misplaced.count,
            }
        )
        if _loose(st.st_mode, 0o600):
            warnings.append(
                f"{name} is mode {stat.S_IMODE(st.st_mode):o}: others can read it (chmod 600)"
            )
        total.merge(part)

    def named(path: Any) -> str:
        return str(path) if several else path.name

    leftovers = _leftovers(source, named)
    if leftovers:
        warnings.append(
            f"{len(leftovers)} temporary files left by killed commands: "
            f"{', '.join(f['file'] for f in leftovers)} (the next compact or reprice deletes them)"
        )
    groups = fold(source, total, ())
    acc = groups.get(())
    if total.misplaced.count:
        warnings.append(f"{total.misplaced.count} records are in the file of another day")
    if total.unpriced_models:
        warnings.append(
            f"{sum(total.unpriced_models.values())} records have no price "
            f"({', '.join(sorted(total.unpriced_models))}): add them to pricing.yaml"
        )
    doc = envelope("doctor", TimeRange(None, None), UTC, source.currency, now=now)
    doc.update(
        {
            "data_dir": str(source.data_dir),
            "data_dirs": [str(d) for d in (source.data_dir, *source.extra_dirs)],
            "files": files,
            "records": total.records,
            "first_record": iso_utc(acc.first_ts) if acc and acc.requests else None,
            "last_record": iso_utc(acc.last_ts) if acc and acc.requests else None,
            "malformed_lines": total.skipped.count,
            "malformed": [
                {"file": f, "line": n, "reason": r} for f, n, r in total.skipped.locations
            ],
            "misplaced_records": total.misplaced.count,
            "misplaced": [
                {"file": f, "line": n, "reason": r} for f, n, r in total.misplaced.locations
            ],
            "unpriced_models": [
                {"model": m, "requests": n} for m, n in total.unpriced_models.most_common()
            ],
            "warnings": warnings,
            "leftovers": leftovers,
            "split_days": _split_days(day_files, named),
            "errors": total.skipped.count,
            **({"duplicate_records": total.duplicates} if total.duplicates else {}),
        }
    )
    return doc
