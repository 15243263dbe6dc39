"""Keeping a data dir tidy: ``prune`` deletes old day files, ``compact`` gzips closed ones.

Neither ever touches today's file (UTC), or a later one. A day may hold a ``.gz`` and a
plain file (records back-filled after a compaction, or a compaction killed before its last
step; :mod:`aiusage.store.dayfiles` says how readers count such a day once). Compaction, and
re-pricing of a compressed day, fold a day into one gzip (:func:`fold_day`), in steps each
of which leaves a state that counts every record once:

1. under the writers' lock on the plain file (and on the gzip), write the old gzip's
   content, then the plain file's lines it does not hold, to ``.<day>.jsonl.gz.tmp-<pid>``:
   a gzip whose header says it holds the whole plain file; sync it;
2. rename it over the ``.gz`` and sync the directory: readers now read the plain file from
   its end (nothing);
3. delete the plain file.

A crash before 2 leaves the old state and a temporary file, which the next ``compact`` or
``reprice`` deletes (its process is gone) and ``doctor`` reports; a crash after 2 leaves
a plain file the gzip holds, folded again (adding nothing) by the next ``compact``. A
back-fill waiting for the lock appends to a new plain file once the old one is deleted.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aiusage.errors import DataError
from aiusage.store.atomic import create_temp, remove_stale_temps, sync_dir, temp_path
from aiusage.store.dayfiles import (
    NOTHING_HELD,
    DayFile,
    Held,
    day_of,
    gzip_header,
    held_bytes,
    list_files,
    lock,
)

# What a rewrite makes of a line: its new bytes, or ``None`` to keep it as it is.
Rewrite = Callable[[bytes], bytes | None]
DAY_FILES = "usage_*"  # the glob of day files, for their temporary files


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
    """Gzip the plain day files older than ``older_than_days`` days (atomically), folding
    each into its day's gzip when there is one already; first deleting what killed runs
    left (their temporary files)."""
    if not dry_run:
        remove_stale_temps(data_dir, DAY_FILES)
    changes = []
    for day_file in _closed_before(data_dir, older_than_days, now):
        if day_file.compressed:
            continue
        size = day_file.path.stat().st_size
        if dry_run:
            changes.append(Change(day_file.path, "compress", size))
            continue
        folded = fold_day(day_file.path)
        if folded is not None:
            changes.append(Change(day_file.path, "compress", size, folded[0]))
    return changes


def fold_day(plain: Path, *, rewrite: Rewrite | None = None) -> tuple[int, int] | None:
    """Fold a day — its gzip (``plain`` + ``.gz``) and its plain file ``plain``, either
    possibly missing — into one gzip, each line passed through ``rewrite``, as the module
    docstring says; the new gzip's size and how many lines ``rewrite`` changed. With a
    ``rewrite`` that changes nothing, nothing is written; ``None`` then, and when neither
    file exists (another run did the job meanwhile)."""
    target = plain.with_name(plain.name + ".gz")
    tmp = temp_path(target)
    try:
        with ExitStack() as stack:
            has_plain = _locked(stack, plain)
            has_gzip = _locked(stack, target)
            if not has_plain and not has_gzip:
                return None
            begin = held_bytes(plain, target) if has_plain and has_gzip else 0
            changed = _write_fold(
                tmp, target if has_gzip else None, plain if has_plain else None, begin, rewrite
            )
            if rewrite is not None and not changed:
                return None
            os.replace(tmp, target)
            # Durable before the plain file goes: else a power cut could keep only the unlink.
            sync_dir(target.parent)
            if has_plain:
                plain.unlink()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"cannot compress {plain}: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return target.stat().st_size, changed


def _locked(stack: ExitStack, path: Path) -> bool:
    """Take the writers' lock on ``path`` for the rest of ``stack``; whether it exists."""
    try:
        stack.enter_context(lock(path))
    except FileNotFoundError:
        return False
    return True


def _write_fold(
    tmp: Path, gz_path: Path | None, plain: Path | None, begin: int, rewrite: Rewrite | None
) -> int:
    """Write the folded gzip to ``tmp`` (synced); how many lines ``rewrite`` changed."""
    held = _whole(plain) if plain is not None else NOTHING_HELD
    changed = 0
    with ExitStack() as stack:
        fd = create_temp(tmp)
        raw = stack.enter_context(open(fd, "wb"))
        out = _GzipOut(raw, held)
        parts: list[Iterator[bytes]] = []
        if gz_path is not None:
            parts.append(iter(stack.enter_context(gzip.open(gz_path, "rb"))))
        if plain is not None:
            plain_fh = stack.enter_context(open(plain, "rb"))
            plain_fh.seek(begin)
            parts.append(_up_to(plain_fh, held[0] - begin))
        for lines in parts:
            out.start_part()
            for line in lines:
                new = rewrite(line) if rewrite is not None else None
                changed += new is not None
                out.write(line if new is None else new)
        out.finish()
        raw.flush()
        os.fsync(raw.fileno())
    return changed


def _whole(plain: Path) -> Held:
    """The whole plain file as a held prefix: its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    with open(plain, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _up_to(fh: IO[bytes], size: int) -> Iterator[bytes]:
    """The lines of ``fh`` within its next ``size`` bytes: what was hashed, nothing a
    writer ignoring the lock appended since."""
    for line in fh:
        if size <= 0:
            return
        yield line[:size]
        size -= len(line)


class _GzipOut:
    """A gzip written by hand (zlib), to put the held prefix in its header."""

    def __init__(self, raw: IO[bytes], held: Held) -> None:
        self.raw = raw
        raw.write(gzip_header(held))
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        self.crc = 0
        self.size = 0
        self.last = b"\n"

    def start_part(self) -> None:
        """Begin the content of another file on a line of its own (a torn last line of
        the one before is not glued to the first line of this one)."""
        if self.last != b"\n":
            self.write(b"\n")

    def write(self, data: bytes) -> None:
        """Compress ``data`` into the stream."""
        if not data:
            return
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self.last = data[-1:]
        self.raw.write(self.compressor.compress(data))

    def finish(self) -> None:
        """Close the stream: the rest of the compressed data and the trailer."""
        self.raw.write(self.compressor.flush())
        self.raw.write(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))
