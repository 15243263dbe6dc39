"""Replacing a whole file atomically: readers see the old file or the new one, never half."""

from __future__ import annotations

import os
from pathlib import Path

from aiusage.errors import DataError


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    """Write ``data`` to ``path`` all at once: a temporary file next to it, synced (unless
    not ``durable``: derived data that is rebuilt when found broken), then renamed over it,
    so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        # A temporary file is always new and never a link followed somewhere else.
        tmp.unlink(missing_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, mode)
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
