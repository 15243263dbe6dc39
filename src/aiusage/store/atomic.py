"""Replacing a whole file atomically: readers see the old file or the new one, never half.

A file being replaced is first written to ``.<name>.tmp-<pid>`` next to it (the one temporary
name of every rewrite: exports, compaction, re-pricing, caches). A process killed midway
leaves that file behind; :func:`stale_temps` finds the ones whose process is gone, which the
next run of the same command removes (:func:`remove_stale_temps`) and ``doctor`` reports.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from aiusage.errors import DataError

TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?:tmp|reprice)-(?P<pid>\d+)$")  # reprice-: older runs


def temp_path(path: Path) -> Path:
    """The temporary file a rewrite of ``path`` by this process writes first."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def create_temp(tmp: Path) -> int:
    """Create the temporary file ``tmp`` (0600) for writing: always a new file, never a link
    followed somewhere else (a leftover of this pid, from a killed earlier run, is removed)."""
    tmp.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.open(tmp, flags | getattr(os, "O_CLOEXEC", 0), 0o600)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (a reused pid keeps a leftover for later: harmless)."""
    if sys.platform == "win32" or pid == os.getpid():
        return True  # Windows: os.kill would terminate it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def stale_temp_names(names: Iterable[str], *patterns: str) -> list[str]:
    """Of the file ``names`` of one directory, the temporary files of rewrites whose process
    is gone, of the files named by the glob ``patterns``, in order."""
    found = []
    for name in sorted(names):
        m = TEMP_RE.match(name)
        if (
            m
            and any(fnmatch.fnmatchcase(m.group("name"), pattern) for pattern in patterns)
            and not _running(int(m.group("pid")))
        ):
            found.append(name)
    return found


def stale_temps(directory: Path, *names: str) -> list[Path]:
    """The temporary files in ``directory`` of rewrites whose process is gone, of the files
    named by the glob patterns ``names``, oldest name first."""
    try:
        entries = [entry.name for entry in os.scandir(directory) if entry.is_file()]
    except OSError:
        return []
    return [directory / name for name in stale_temp_names(entries, *names)]


def remove_stale_temps(directory: Path, *names: str) -> list[Path]:
    """Delete :func:`stale_temps` (those that vanish meanwhile are skipped); the deleted."""
    removed = []
    for path in stale_temps(directory, *names):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DataError(f"cannot delete {path}: {exc.strerror or exc}") from exc
        removed.append(path)
    return removed


def sync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be synced)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(
    path: Path,
    data: bytes,
    *,
    durable: bool = True,
) -> None:
    """Write ``data`` to ``path`` all at once: a temporary file next to it, synced (unless
    not ``durable``: derived data that is rebuilt when found broken), then renamed over it,
    so a reader never sees half a file."""
    tmp = temp_path(path)
    try:
        fd = create_temp(tmp)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
