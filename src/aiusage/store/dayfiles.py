"""The store: a data dir of daily JSONL files (README: Where data lives), appended safely and read
line by line.

Layout: ``<data dir>/usage_YYYY-MM-DD.jsonl`` (one file per UTC day), older days possibly
``usage_YYYY-MM-DD.jsonl.gz``. Appends are one ``write()`` of whole lines on an ``O_APPEND``
descriptor under an exclusive ``flock``, so concurrent writers never interleave; a torn last
line left by a crash is closed with a newline before the next append. New files are 0600 and
new directories 0700: logs name users and keys.

A day may hold a ``.gz`` and a plain file (README: Where data lives). The gzip's header
names the prefix of the plain file it already holds: an extra field (RFC 1952 FEXTRA,
subfield ``AU``) of its length and SHA-256, which ``zcat`` and every gzip reader skip.
Readers read the gzip whole and the plain file from :attr:`DayFile.begin`: the end of that
prefix when the plain file starts with exactly those bytes (a compaction killed before it
removed the plain file, maybe back-filled since), else its start (records back-filled after
the compaction). A gzip without the field (written by hand or by an older aiusage) holds
the prefix equal to its whole content, if the plain file starts with it. Compaction and
re-pricing of such a day fold both into one new gzip (:mod:`aiusage.store.retention`), so
every state a crash leaves counts each record once.
"""

from __future__ import annotations

import bisect
import datetime as dt
import errno
import functools
import gzip
import hashlib
import itertools
import os
import re
import struct
import sys
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from aiusage.errors import DataError
from aiusage.store.safepath import private_mkdir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: O_APPEND alone, no advisory lock
    fcntl = None  # type: ignore[assignment]

ENV_HOME = "AIUSAGE_HOME"
FILE_RE = re.compile(r"^usage_(\d{4}-\d{2}-\d{2})\.jsonl(\.gz)?$")
DAY_SECONDS = 86400
# Batches are written in chunks of whole lines: one write() each, under one lock.
WRITE_CHUNK = 1 << 20


def default_data_dir() -> Path:
    """The platform's user data dir for aiusage (``~/.local/share/aiusage`` on Linux)."""
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "aiusage"
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "aiusage"
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else home / ".local" / "share") / "aiusage"


def resolve_data_dir(option: str | os.PathLike[str] | None = None) -> Path:
    """The data dir: ``option`` (``--data-dir``), else ``$AIUSAGE_HOME``, else the default."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    return default_data_dir()


def require_data_dir(path: Path) -> Path:
    """``path`` if it is a readable directory; :class:`DataError` saying why otherwise."""
    if not path.exists():
        raise DataError(f"data dir {path} does not exist (nothing recorded there yet?)")
    if not path.is_dir():
        raise DataError(f"data dir {path} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise DataError(f"data dir {path} is not readable (permission denied)")
    return path


def ensure_data_dir(path: Path) -> Path:
    """Create the data dir (mode 0700) for writing.

    Like ``mkdir`` rather than ``mkdir -p``: a missing parent is most likely a typo, so only
    the default data dir is created with its parents.
    """
    if path.is_dir():
        return path
    try:
        if path == default_data_dir():
            private_mkdir(path)
        elif not path.parent.is_dir():
            raise DataError(f"cannot create data dir {path}: {path.parent} does not exist")
        else:
            path.mkdir(mode=0o700, exist_ok=True)
    except FileExistsError as exc:
        raise DataError(f"data dir {path} exists and is not a directory") from exc
    except OSError as exc:
        raise DataError(f"cannot create data dir {path}: {exc.strerror or exc}") from exc
    return path


def day_of(timestamp: float) -> dt.date:
    """The UTC day a timestamp belongs to (its file)."""
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(timestamp // DAY_SECONDS))


def day_path(data_dir: Path, day: dt.date) -> Path:
    """The plain (appendable) file of one UTC day."""
    return data_dir / f"usage_{day.isoformat()}.jsonl"


@dataclass(frozen=True)
class DayFile:
    """One data file: its UTC day, path (plain or gzip), and the byte its records begin at
    (of a plain file whose first bytes the day's gzip already holds; else 0)."""

    day: dt.date
    path: Path
    begin: int = 0

    @property
    def start(self) -> int:
        """Epoch seconds at which the file's UTC day starts."""
        return (self.day - dt.date(1970, 1, 1)).days * DAY_SECONDS

    @property
    def compressed(self) -> bool:
        """Whether the file is gzip-compressed."""
        return self.path.suffix == ".gz"


def is_open(day_file: DayFile, today: dt.date) -> bool:
    """Whether a file may still be appended to (today's or a later day's, not gzip): its
    last line, without a newline yet, may be the start of a write still to come."""
    return day_file.day >= today and not day_file.compressed


def list_files(data_dir: Path) -> list[DayFile]:
    """Every data file of the data dir, oldest day first (a day's .gz before its .jsonl),
    a plain file of a compacted day beginning after what the gzip holds of it."""
    found = []
    try:
        entries = list(os.scandir(data_dir))
    except OSError as exc:
        raise DataError(f"cannot list data dir {data_dir}: {exc.strerror or exc}") from exc
    for entry in entries:
        m = FILE_RE.match(entry.name)
        if m and entry.is_file():
            try:
                day = dt.date.fromisoformat(m.group(1))
            except ValueError:
                continue
            found.append(DayFile(day, Path(entry.path)))
    found.sort(key=lambda f: (f.day, not f.compressed))
    gzipped = {f.day: f.path for f in found if f.compressed}
    return [
        DayFile(f.day, f.path, held_bytes(f.path, gzipped[f.day]))
        if not f.compressed and f.day in gzipped
        else f
        for f in found
    ]


# The header field of a day's gzip that names the plain-file prefix it holds.
GZ_MAGIC = b"\x1f\x8b\x08"
GZ_FEXTRA = 4
GZ_SUBFIELD = b"AU"
Held = tuple[int, str]  # a prefix: its length in bytes and the SHA-256 (hex) of those bytes
NOTHING_HELD: Held = (0, hashlib.sha256(b"").hexdigest())


def gzip_header(held: Held) -> bytes:
    """A gzip member header (no name, time 0) whose extra field says it holds ``held``."""
    payload = f"{held[0]} {held[1]}".encode()
    extra = GZ_SUBFIELD + struct.pack("<H", len(payload)) + payload
    return (
        GZ_MAGIC
        + bytes([GZ_FEXTRA])
        + b"\0\0\0\0"
        + b"\0\xff"
        + struct.pack("<H", len(extra))
        + extra
    )


def held_prefix(gz_path: Path) -> Held | None:
    """The plain-file prefix a day's gzip says it holds; ``None`` when it does not say."""
    try:
        with open(gz_path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:3] != GZ_MAGIC or not head[3] & GZ_FEXTRA:
                return None
            extra = fh.read(struct.unpack("<H", head[10:12])[0])
    except OSError:
        return None
    while len(extra) >= 4:
        size = struct.unpack("<H", extra[2:4])[0]
        if extra[:2] == GZ_SUBFIELD:
            length, _, digest = extra[4 : 4 + size].decode("ascii", "replace").partition(" ")
            return (int(length), digest) if length.isdigit() else None
        extra = extra[4 + size :]
    return None


def _digest_of_prefix(path: Path, length: int) -> str | None:
    """The SHA-256 of the first ``length`` bytes of ``path``; ``None`` when it is shorter."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while length > 0:
            block = fh.read(min(length, 1 << 20))
            if not block:
                return None
            digest.update(block)
            length -= len(block)
    return digest.hexdigest()


def _content_prefix(plain: Path, gz_path: Path) -> int:
    """The length of the gzip's content when the plain file starts with it, else 0."""
    length = 0
    with gzip.open(gz_path, "rb") as gz, open(plain, "rb") as fh:
        while block := gz.read(1 << 20):
            if fh.read(len(block)) != block:
                return 0
            length += len(block)
    return length


def held_bytes(plain: Path, gz_path: Path) -> int:
    """How many leading bytes of a day's plain file its gzip already holds (see the module
    docstring): readers begin the plain file there. 0 when either cannot be read: both are
    read whole, and the reader says what is wrong."""
    try:
        held = held_prefix(gz_path)
        if held is None:
            return _content_prefix(plain, gz_path)
        if held[0] and _digest_of_prefix(plain, held[0]) == held[1]:
            return held[0]
    except (OSError, EOFError, zlib.error):
        pass
    return 0


def files_between(data_dir: Path, first: dt.date | None, last: dt.date | None) -> list[DayFile]:
    """The data files whose UTC day lies in ``[first, last]`` (``None`` = unbounded)."""
    return [
        f
        for f in list_files(data_dir)
        if (first is None or f.day >= first) and (last is None or f.day <= last)
    ]


def iter_lines(path: Path) -> Iterator[bytes]:
    """The lines of a data file (gzip or plain), newline kept, streamed; never the whole file
    in memory."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as gz:
                yield from gz
        else:
            with open(path, "rb", buffering=1 << 20) as fh:
                yield from fh
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc


@contextmanager
def open_data(path: Path, start: int = 0) -> Iterator[IO[bytes]]:
    """A data file opened for reading line by line (gzip transparently), from byte
    ``start`` of a plain file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as gz:
                yield gz  # type: ignore[misc]
        else:
            with open(path, "rb", buffering=1 << 20) as fh:
                if start:
                    fh.seek(start)
                yield fh
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)


def _needs_newline(fd: int) -> bool:
    """Whether the file's last byte is not a newline (a torn last line from a crash)."""
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


# Descriptors this process holds (or may take) a lock through. A forked child closes its
# copies: a lock belongs to the open file, so a copy kept open in a child would hold the
# parent's lock for as long as the child lives (and block the child's own appends to that
# file). Opening-and-registering and unregistering-and-closing are each done under
# _fds_lock, which a fork waits for, so no descriptor is ever copied unregistered.
_locked_fds: set[int] = set()
_fds_lock = threading.Lock()


def _forget_locks() -> None:
    global _kept_lock
    for fd in list(_locked_fds):
        with suppress(OSError):
            os.close(fd)  # closing a copy releases nothing the parent holds
    _locked_fds.clear()
    _kept.clear()  # their descriptors were among those just closed
    _kept_lock = threading.Lock()  # a parent thread may have held it mid-append
    _fds_lock.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_fds_lock.acquire,
        after_in_parent=_fds_lock.release,
        after_in_child=_forget_locks,
    )


def _open_fd(path: str | Path, flags: int, mode: int = 0o600) -> int:
    """``os.open``, the descriptor registered for a fork to close in the child."""
    with _fds_lock:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), mode)
        _locked_fds.add(fd)
        return fd


def _close(fd: int) -> None:
    with _fds_lock:
        _locked_fds.discard(fd)
        os.close(fd)  # closing releases the lock


@contextmanager
def lock(path: Path) -> Iterator[None]:
    """Hold the writers' exclusive lock on an existing data file (rewrites, compaction), on
    the file that is at ``path`` once locked (another rewrite may have replaced it while this
    one waited); :class:`FileNotFoundError` when there is none any more."""
    while True:
        fd = _open_fd(path, os.O_RDONLY)
        try:
            _lock(fd)
            mine, current = os.fstat(fd), os.stat(path)
        except BaseException:
            _close(fd)
            raise
        if (mine.st_dev, mine.st_ino) == (current.st_dev, current.st_ino):
            break
        _close(fd)
    try:
        yield
    finally:
        _close(fd)


def settled_size(path: Path) -> int:
    """The file's size once no write is under way: writers hold the lock while they write
    whole lines, so a reader that waits for it reads up to a line boundary (or up to a torn
    fragment a crashed writer left)."""
    try:
        fd = _open_fd(path, os.O_RDONLY)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_SH)
        return os.fstat(fd).st_size
    finally:
        _close(fd)


def _open_locked(path: str | Path) -> int:
    """Open ``path`` for appending (0600) and lock it, making sure the descriptor still
    names the file at ``path``: a rewrite or compaction may have swapped it meanwhile."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    while True:
        try:
            fd = _open_fd(path, flags)
        except OSError as exc:
            raise DataError(f"cannot open {path} for appending: {exc.strerror or exc}") from exc
        _lock(fd)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            _close(fd)
            continue
        mine = os.fstat(fd)
        if (mine.st_dev, mine.st_ino) == (current.st_dev, current.st_ino):
            return fd
        _close(fd)


def append_lines(path: Path, lines: Iterable[bytes]) -> None:
    """Append whole lines (each ending in ``\\n``) to ``path`` atomically per chunk.

    The file is created 0600. Under an exclusive advisory lock, a torn last line is first
    closed with a newline, then the lines go out in ``write()`` calls of whole lines.
    """
    fd = _open_locked(path)
    try:
        for chunk in _chunks(b"\n" if _needs_newline(fd) else b"", lines):
            _write_all(fd, chunk, path)
    finally:
        _close(fd)


class _Kept(NamedTuple):
    """A day file's descriptor kept open by :func:`append_line`, and the file it named when
    opened (device and inode)."""

    fd: int
    dev: int
    ino: int


# Day files (days × data dirs) whose appending descriptor this process keeps open, by path;
# the oldest opened is closed past that many. _kept_lock serialises the appends through
# them: two threads locking one descriptor would both get the lock (it belongs to the open
# file, shared by the threads), so it never excludes them.
KEPT_FILES = 8
_kept: dict[str, _Kept] = {}
_kept_lock = threading.Lock()


def append_line(path: str, line: bytes) -> None:
    """Append one whole line (ending in ``\\n``) to ``path``, as :func:`append_lines` does,
    through a descriptor kept open from one call to the next (``aiusage.record()``).

    Each append locks the kept descriptor and checks under the lock that it still names the
    file at ``path`` (one ``stat``): a day file removed, renamed or replaced by another
    process (compaction, re-pricing, pruning, a user) since the last append is opened
    afresh, so no line goes to a file nobody reads. A forked child closes the descriptors
    it inherited (:func:`_forget_locks`) and opens its own.
    """
    with _kept_lock:
        fd, size = _locked_kept(path)
        try:
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a torn last line, left by a crash, closed first
            _write_all(fd, line, path)
            _unlock(fd)
        except BaseException:
            _drop_kept(path)  # closing releases the lock; the next append opens afresh
            raise


def _locked_kept(path: str) -> tuple[int, int]:
    """The kept descriptor of ``path`` (opened if need be), locked and naming the file now
    at ``path``, and that file's size."""
    kept = _kept.get(path)
    if kept is not None:
        try:
            _lock(kept.fd)
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        except BaseException:
            _drop_kept(path)
            raise
        if current is not None and (current.st_dev, current.st_ino) == (kept.dev, kept.ino):
            return kept.fd, current.st_size
        _drop_kept(path)  # replaced, renamed or removed since the last append
    fd = _open_locked(path)
    try:
        mine = os.fstat(fd)
    except BaseException:
        _close(fd)
        raise
    _kept[path] = _Kept(fd, mine.st_dev, mine.st_ino)
    while len(_kept) > KEPT_FILES:
        _drop_kept(next(iter(_kept)))
    return fd, mine.st_size


def _drop_kept(path: str) -> None:
    kept = _kept.pop(path, None)
    if kept is not None:
        with suppress(OSError):
            _close(kept.fd)


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def append_all(lines: Mapping[Path, Sequence[bytes]]) -> None:
    """Append whole lines to several data files, all of them or none (``record --batch``).

    The writers' locks of every file are taken first, in path order (other writers hold one
    lock at a time, so no two wait on each other), and the space is reserved where the file
    system can (``fallocate``). If a write still fails (disk full, short write, an
    exception), every file is cut back to its size before the call — the locks are still
    held, so no other writer's line is lost and no reader saw a line of ours — and
    :class:`DataError` says nothing was written.
    """
    held: list[tuple[Path, int, int]] = []  # path, descriptor, size before
    try:
        for path in sorted(lines):
            fd = _open_locked(path)
            held.append((path, fd, os.fstat(fd).st_size))
        _append_held(held, lines)
    finally:
        for _, fd, _ in held:
            _close(fd)


def _append_held(held: list[tuple[Path, int, int]], lines: Mapping[Path, Sequence[bytes]]) -> None:
    try:
        chunks = {}
        for path, fd, size in held:
            prefix = b"\n" if _needs_newline(fd) else b""
            chunks[path] = list(_chunks(prefix, lines[path]))
            _reserve(fd, size, sum(map(len, chunks[path])), path)
        for path, fd, _ in held:
            for chunk in chunks[path]:
                _write_all(fd, chunk, path)
    except BaseException as exc:
        _roll_back(held)
        if isinstance(exc, DataError):
            raise DataError(f"{exc}; nothing written") from exc
        raise


def _roll_back(held: list[tuple[Path, int, int]]) -> None:
    """Cut each file back to its size before the batch (freeing what was reserved past it);
    a file the batch created is removed."""
    failed = []
    for path, fd, size in held:
        try:
            os.ftruncate(fd, size)
            if size == 0:
                # A writer waiting for this lock finds the path gone and opens it afresh.
                os.unlink(path)
        except OSError as exc:
            failed.append(f"{path} past byte {size} ({exc.strerror or exc})")
    if failed:
        raise DataError(f"cannot undo a failed batch: a part remains in {', '.join(failed)}")


def _chunks(prefix: bytes, lines: Iterable[bytes]) -> Iterator[bytes]:
    """Lines joined into chunks of about :data:`WRITE_CHUNK` bytes, ``prefix`` first: each
    chunk ends with the first line that takes it to that size."""
    pieces = list(lines)
    if prefix:
        pieces[:1] = [prefix + pieces[0]] if pieces else [prefix]
    # The bytes before each piece: chunk ends are found by bisection, not line by line (a
    # Python loop over every line took half the time of writing an import's days).
    before = list(itertools.accumulate(map(len, pieces), initial=0))
    first = 0
    while first < len(pieces):
        end = min(bisect.bisect_left(before, before[first] + WRITE_CHUNK, first + 1), len(pieces))
        yield b"".join(pieces[first:end])
        first = end


FALLOC_FL_KEEP_SIZE = 1


@functools.cache
def _fallocate() -> Any:
    """libc's ``fallocate`` (Linux), or ``None``: the standard library has only
    ``posix_fallocate``, which grows the file (readers would see zeros). Loaded on first use,
    from the symbols the process already has: ``ctypes.util.find_library`` would run
    ``ldconfig`` in a subprocess, and every command imports this module."""
    if sys.platform != "linux":
        return None
    import ctypes

    try:
        func = ctypes.CDLL(None, use_errno=True).fallocate64
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    func.restype = ctypes.c_int
    return func


def _reserve(fd: int, offset: int, length: int, path: Path) -> None:
    """Reserve ``length`` bytes past ``offset`` without changing the file's size, so the
    writes that follow cannot run out of space; a no-op where the file system cannot."""
    fallocate = _fallocate()
    if fallocate is None or length <= 0:
        return
    if fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, length) == 0:
        return
    import ctypes

    code = ctypes.get_errno()
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        reason = "disk full" if code == errno.ENOSPC else os.strerror(code)
        raise DataError(f"cannot write to {path}: {reason}")
    # Any other error (EOPNOTSUPP on a file system without it, ...): write without a
    # reservation; a failing write is still undone.


def _write_all(fd: int, data: bytes, path: str | Path) -> None:
    try:
        written = os.write(fd, data)
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise DataError(f"cannot write to {path}: {reason}") from exc
    if written != len(data):
        # A short write on a regular file means the disk filled up mid-way; the partial
        # line is closed with a newline by the next append and skipped by readers.
        raise DataError(f"cannot write to {path}: short write (disk full?)")
