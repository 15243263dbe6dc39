"""Keeping a data dir tidy: ``prune`` deletes old day files, ``compact`` gzips closed ones.

Neither ever touches today's file (UTC), or a later one. Compaction is crash-safe: the
gzip is written to a temporary file, synced and renamed into place while the writers' lock
on the plain file is held, and only then is the plain file removed. A crash between the two
leaves both; readers then skip the plain file's twin (its uncompressed size, from the gzip
trailer, equals the plain file's size), and the next ``compact`` finishes the job.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from aiusage.errors import DataError
from aiusage.store.dayfiles import DayFile, day_of, list_files, lock


@dataclass(frozen=True)
class Change:
    """One file that was (or, in a dry run, would be) removed or compressed."""

    path: Path
    action: str
    bytes_before: int
    bytes_after: int = 0


def _closed_before(data_dir: Path, older_than_days: int, now: float) -> list[DayFile]:
    if older_than_days < 1:
        raise DataError("--older-than must be at least 1 day: today's file is never touched")
    today = day_of(now)
    cutoff = today - dt.timedelta(days=older_than_days)
    return [f for f in list_files(data_dir) if f.day < cutoff and f.day < today]


def prune(
    data_dir: Path, *, older_than_days: int, now: float, dry_run: bool = False
) -> list[Change]:
    """Delete the day files older than ``older_than_days`` days."""
    changes = []
    for day_file in _closed_before(data_dir, older_than_days, now):
        size = day_file.path.stat().st_size
        if not dry_run:
            try:
                day_file.path.unlink()
            except OSError as exc:
                raise DataError(f"cannot delete {day_file.path}: {exc.strerror or exc}") from exc
        changes.append(Change(day_file.path, "delete", size))
    return changes


def compact(
    data_dir: Path, *, older_than_days: int, now: float, dry_run: bool = False
) -> list[Change]:
    """Gzip the plain day files older than ``older_than_days`` days (atomically)."""
    changes = []
    for day_file in _closed_before(data_dir, older_than_days, now):
        if day_file.compressed:
            continue
        size = day_file.path.stat().st_size
        if dry_run:
            changes.append(Change(day_file.path, "compress", size))
            continue
        changes.append(Change(day_file.path, "compress", size, _compress(day_file.path)))
    return changes


def _compress(path: Path) -> int:
    target = path.with_name(path.name + ".gz")
    tmp = path.with_name(f".{path.name}.gz.tmp-{os.getpid()}")
    try:
        with lock(path):
            with open(path, "rb") as src, open(tmp, "wb") as raw:
                os.chmod(tmp, 0o600)
                with gzip.GzipFile(path.name, "wb", fileobj=raw, mtime=0) as gz:
                    shutil.copyfileobj(src, gz, 1 << 20)
                raw.flush()
                os.fsync(raw.fileno())
            if target.exists():
                raise DataError(f"{target} already exists: not overwriting it")
            os.replace(tmp, target)
            # From here on readers see the gzip and skip the plain file (its twin).
            path.unlink()
    except OSError as exc:
        raise DataError(f"cannot compress {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return target.stat().st_size
