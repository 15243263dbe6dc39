"""Private directories, and writing where the user said and nowhere else (README: Guarantees).

Every directory aiusage creates is 0700 and every file 0600, parents included
(:func:`private_mkdir`). Output the user points at (``export --out``, ``pricing import
--out``) goes through :func:`open_out_dir` and :func:`open_export`, under one policy:

- In the path the user typed, a symbolic link is followed only when it is trustworthy: owned
  by root or the current user, in a directory owned by root or the current user that nobody
  else can write to or that is sticky (there only a link's owner may replace it). So macOS's
  ``/tmp`` and a user's own link pass, and a link another user planted in ``/tmp`` does not.
  The file the user named is never itself a link.
- What aiusage names itself (the file in an output dir, Parquet partition dirs, temporary
  files) is never followed. Directories are walked with descriptors opened ``O_NOFOLLOW``,
  each link checked on the descriptor of its directory; files are written to a temporary
  file created ``O_EXCL | O_NOFOLLOW`` and renamed over the target, and a rename replaces a
  link rather than writing through it. Nothing can be swapped in between a check and a write.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aiusage.errors import DataError, UsageError
from aiusage.store.atomic import stale_temp_names, temp_path

# As the kernel allows (Linux: 40): more links in one path is a loop.
MAX_LINKS = 40
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC


def private_mkdir(path: Path) -> None:
    """Create ``path`` and any missing parent, each 0700 (``mkdir -p`` gives parents the
    umask's mode, 0755 with the usual umask)."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            directory.mkdir(mode=0o700)


def trusted_link(link: os.stat_result, directory: os.stat_result) -> bool:
    """Whether a symbolic link (its ``lstat``) in a directory (its ``stat``) may be followed:
    both owned by root or the current user, and the directory writable by nobody else
    unless it is sticky."""
    owners = {0, os.geteuid()}
    if link.st_uid not in owners or directory.st_uid not in owners:
        return False
    return not directory.st_mode & 0o022 or bool(directory.st_mode & stat.S_ISVTX)


@dataclass(frozen=True)
class OutDir:
    """An open output directory: its descriptor, and its path as the user wrote it (what
    aiusage prints). Close it, or use it as a context manager."""

    fd: int
    path: Path

    def __enter__(self) -> OutDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the directory's descriptor."""
        os.close(self.fd)

    def subdir(self, name: str) -> OutDir:
        """The directory ``name`` in this one, created 0700 when missing; never a link."""
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=self.fd)
        try:
            return OutDir(os.open(name, _DIR_FLAGS, dir_fd=self.fd), self.path / name)
        except OSError as exc:
            why = "a symbolic link" if _is_link(name, self.fd) else exc.strerror or str(exc)
            raise DataError(f"cannot write into {self.path / name}: {why}") from None

    def write(
        self,
        name: str,
        fill: Callable[[IO[bytes]], Any],
        *,
        durable: bool = True,
        tidy: tuple[str, ...] = (),
    ) -> Path:
        """Write the file ``name`` (0600) whole: ``fill`` writes a temporary file, which is
        synced (unless not ``durable``) and renamed over ``name``; its path is returned.
        The temporary files killed runs left of ``name`` (and of the glob patterns ``tidy``)
        are deleted first."""
        tmp = temp_path(Path(name)).name
        target = self.path / name
        for leftover in stale_temp_names(os.listdir(self.fd), name, *tidy):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover, dir_fd=self.fd)
        with contextlib.suppress(FileNotFoundError):  # a leftover of a killed run (same pid)
            os.unlink(tmp, dir_fd=self.fd)
        done = False
        try:
            with os.fdopen(os.open(tmp, _NEW_FILE, 0o600, dir_fd=self.fd), "wb") as fh:
                fill(fh)
                fh.flush()
                if durable:
                    os.fsync(fh.fileno())
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            done = True
        except OSError as exc:
            raise DataError(f"cannot write {target}: {exc.strerror or exc}") from exc
        finally:
            if not done:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=self.fd)
        return target


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _refuse_dots(path: Path, flag: str) -> None:
    if ".." in path.parts:
        raise UsageError(f"{flag} {path}: '..' is not allowed; give the path itself")


def open_out_dir(
    path: Path, *, flag: str = "--out", create: bool = False, typed: Path | None = None
) -> OutDir:
    """The directory ``path`` opened for writing, its links checked as described above
    (:class:`UsageError` naming an untrusted one and the real path of ``typed``, the whole
    path the user gave, ``path`` itself by default); missing directories are created 0700
    with ``create``, else refused."""
    _refuse_dots(path, flag)
    typed = path if typed is None else typed
    fd = os.open("/" if path.is_absolute() else ".", _DIR_FLAGS & ~_NOFOLLOW)
    pending = deque(path.parts[1:] if path.is_absolute() else path.parts)
    walked = Path(path.anchor or ".")
    links = 0
    try:
        while pending:
            name = pending.popleft()
            try:
                next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                target = _step_failed(name, fd, walked, typed, flag, create=create)
                if target is not None:
                    links += 1
                    if links > MAX_LINKS:
                        raise UsageError(f"{flag} {typed}: too many symbolic links") from None
                    parts = Path(target).parts
                    if os.path.isabs(target):
                        os.close(fd)
                        fd = os.open("/", _DIR_FLAGS & ~_NOFOLLOW)
                        parts = parts[1:]
                    pending.extendleft(reversed(parts))
                    walked = walked / name
                    continue
                pending.appendleft(name)  # created just now: open it
                continue
            os.close(fd)
            fd = next_fd
            walked = walked / name
    except BaseException:
        os.close(fd)
        raise
    return OutDir(fd, path)


def _step_failed(
    name: str, fd: int, walked: Path, path: Path, flag: str, *, create: bool
) -> str | None:
    """After ``name`` in the directory ``fd`` did not open as a directory: the target of a
    trusted link to follow, or ``None`` once the missing directory was created; raises
    :class:`UsageError` otherwise."""
    here = walked / name
    try:
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        if not create:
            raise UsageError(f"{flag} {path}: directory {here} does not exist") from None
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=fd)
        return None
    if not stat.S_ISLNK(info.st_mode):
        kind = "not a directory" if not stat.S_ISDIR(info.st_mode) else "not readable"
        raise UsageError(f"{flag} {path}: {here} is {kind}")
    if not trusted_link(info, os.fstat(fd)):
        raise UsageError(
            f"{flag} {path}: {here} is a symbolic link that another user could have "
            f"placed or changed; give the real path ({os.path.realpath(path)})"
        )
    return os.readlink(name, dir_fd=fd)


def open_export(out: Path | None, default_name: str, *, flag: str = "--out") -> tuple[OutDir, str]:
    """Where an export goes, as an open directory and a file name: ``out`` itself, or
    ``default_name`` in the directory ``out`` (default: the current one). The file the user
    named is never a symbolic link; see the policy above for the directories."""
    target = Path(".") if out is None else out
    _refuse_dots(target, flag)
    if target.name == "":  # "." or "/"
        return open_out_dir(target, flag=flag), default_name
    parent = open_out_dir(target.parent, flag=flag, typed=target)
    try:
        info = os.stat(target.name, dir_fd=parent.fd, follow_symlinks=False)
    except FileNotFoundError:
        return parent, target.name
    except BaseException:
        parent.close()
        raise
    if stat.S_ISDIR(info.st_mode):
        parent.close()
        return open_out_dir(target, flag=flag), default_name
    if stat.S_ISLNK(info.st_mode) and os.path.isdir(target):
        parent.close()  # a link to a directory: a directory component, checked as one
        return open_out_dir(target, flag=flag), default_name
    if stat.S_ISLNK(info.st_mode):
        parent.close()
        raise UsageError(
            f"{flag} {target}: refusing to write through a symbolic link; "
            f"give the real path ({os.path.realpath(target)})"
        )
    if not stat.S_ISREG(info.st_mode):  # a device or a pipe: renaming over it would replace it
        parent.close()
        raise UsageError(f"{flag} {target}: not a regular file (use {flag} - for stdout)")
    return parent, target.name
