from __future__ import annotations

import ctypes
import datetime as dt
import errno
import gzip
import multiprocessing
import os
import stat
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiusage.errors import DataError
from aiusage.store import dayfiles
from aiusage.store.dayfiles import (
    append_all,
    append_lines,
    day_of,
    default_data_dir,
    ensure_data_dir,
    files_between,
    iter_lines,
    list_files,
    lock,
    require_data_dir,
    resolve_data_dir,
)


def test_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIUSAGE_HOME", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "opt") == tmp_path / "opt"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("AIUSAGE_HOME")
    assert resolve_data_dir(None) == default_data_dir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "aiusage"


def test_new_dirs_and_files_are_private(tmp_path: Path) -> None:
    directory = ensure_data_dir(tmp_path / "d")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    path = directory / "usage_2026-11-24.jsonl"
    append_lines(path, [b'{"a":1}\n'])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_parent_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        ensure_data_dir(tmp_path / "no" / "such" / "dir")


def test_require_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        require_data_dir(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a directory"):
        require_data_dir(tmp_path / "file")


def test_append_after_torn_line_starts_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "usage_2026-11-24.jsonl"
    path.write_bytes(b'{"ok":1}\n{"torn":')
    append_lines(path, [b'{"next":2}\n'])
    assert path.read_bytes() == b'{"ok":1}\n{"torn":\n{"next":2}\n'


def test_gzip_and_plain_are_both_read(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "usage_2026-11-01.jsonl.gz", "wb") as fh:
        fh.write(b"a\nb\n")
    (tmp_path / "usage_2026-11-02.jsonl").write_bytes(b"c\n")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "usage_2026-13-40.jsonl").write_text("bad day, ignored")
    files = list_files(tmp_path)
    assert [f.day.isoformat() for f in files] == ["2026-11-01", "2026-11-02"]
    assert files[0].compressed
    assert [line for f in files for line in iter_lines(f.path)] == [b"a\n", b"b\n", b"c\n"]
    only = files_between(tmp_path, dt.date(2026, 11, 2), None)
    assert [f.day.day for f in only] == [2]


def test_day_of_is_utc() -> None:
    assert day_of(0) == dt.date(1970, 1, 1)
    assert day_of(86399.999) == dt.date(1970, 1, 1)
    assert day_of(86400) == dt.date(1970, 1, 2)


def _record_many(data_dir: str, worker: int, n: int) -> None:
    import aiusage

    for i in range(n):
        aiusage.record(
            data_dir=data_dir,
            raise_errors=True,
            model="gpt-4o-mini",
            input_tokens=i,
            output_tokens=worker,
            user_id=f"w{worker}",
        )


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    """4 processes × 5,000 aiusage.record() calls leave exactly 20,000 valid lines."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(str(tmp_path), w, 5000)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    lines = [line for f in list_files(tmp_path) for line in iter_lines(f.path)]
    assert len(lines) == 20_000
    seen = {(w, i) for w in range(4) for i in range(5000)}
    for line in lines:
        assert line.endswith(b"\n")
        rec = orjson.loads(line)
        seen.discard((rec["output_tokens"], rec["input_tokens"]))
    assert not seen
    assert len({orjson.loads(line)["id"] for line in lines}) == 20_000


def test_unopenable_day_file_is_a_data_error(tmp_path: Path) -> None:
    blocked = tmp_path / "usage_2026-11-24.jsonl"
    blocked.mkdir()  # a directory where the day file should be
    with pytest.raises(DataError, match="cannot open"):
        append_lines(blocked, [b"{}\n"])


def _day_files(tmp_path: Path) -> dict[Path, bytes | None]:
    """Three day files before a batch: one with a torn last line, one whole, one missing."""
    return {
        tmp_path / "usage_2026-01-01.jsonl": b'{"a":1}\n{"torn',
        tmp_path / "usage_2026-01-02.jsonl": b'{"b":1}\n',
        tmp_path / "usage_2026-01-03.jsonl": None,
    }


def _lay_out(files: dict[Path, bytes | None]) -> None:
    for path, data in files.items():
        path.unlink(missing_ok=True)
        if data is not None:
            path.write_bytes(data)


def _as_found(files: dict[Path, bytes | None]) -> dict[Path, bytes | None]:
    return {p: p.read_bytes() if p.exists() else None for p in files}


BATCH = [f'{{"n":{i}}}\n'.encode() for i in range(40)]


def test_append_all_is_undone_whichever_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _day_files(tmp_path)
    lines = dict.fromkeys(before, BATCH)
    monkeypatch.setattr(dayfiles, "WRITE_CHUNK", 64)  # several writes per file
    monkeypatch.setattr(dayfiles, "_fallocate", lambda: None)  # no reservation: the writes fail
    real_write = os.write
    calls = 0
    fail_at = 0

    def write(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            real_write(fd, data[: len(data) // 2])  # half of it lands, as on a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    _lay_out(before)
    append_all(lines)  # no failure: counts the writes
    after, writes = _as_found(before), calls
    assert writes > 6
    for path, data in before.items():
        torn = b"\n" if data and not data.endswith(b"\n") else b""
        assert after[path] == (data or b"") + torn + b"".join(BATCH)
    for fail_at in range(1, writes + 1):
        _lay_out(before)
        calls = 0
        with pytest.raises(DataError, match=r"disk full; nothing written$"):
            append_all(lines)
        assert _as_found(before) == before, f"write {fail_at} failed"


def test_append_all_refuses_a_batch_the_disk_cannot_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _day_files(tmp_path)
    _lay_out(before)
    reserved = []

    def fallocate(fd: int, mode: int, offset: int, length: int) -> int:
        reserved.append(length)
        if len(reserved) < 3:
            return 0
        ctypes.set_errno(errno.ENOSPC)
        return -1

    monkeypatch.setattr(dayfiles, "_fallocate", lambda: fallocate)
    with pytest.raises(DataError, match="disk full; nothing written"):
        append_all(dict.fromkeys(before, BATCH))
    assert _as_found(before) == before
    assert len(reserved) == 3


def _append_in_child(path: Path) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            append_lines(path, [b'{"child":1}\n'])
        finally:
            os._exit(0)
    return pid


def test_a_child_forked_while_a_lock_is_held_does_not_keep_it(tmp_path: Path) -> None:
    path = tmp_path / "usage_2026-01-01.jsonl"
    path.write_bytes(b"")
    with lock(path):
        pid = _append_in_child(path)
    # Once the parent lets go, the child's append goes through (a copy of the parent's
    # descriptor kept open in the child would hold the lock, and the child would wait for
    # itself for ever).
    for _ in range(600):
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the child never got the lock")
    assert path.read_bytes() == b'{"child":1}\n'


@given(
    prefix=st.sampled_from([b"", b"\n"]),
    sizes=st.lists(st.integers(0, 40), max_size=40),
    chunk=st.integers(1, 100),
)
def test_chunks_end_with_the_line_that_takes_them_to_the_size(
    prefix: bytes, sizes: list[int], chunk: int
) -> None:
    lines = [b"x" * size for size in sizes]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dayfiles, "WRITE_CHUNK", chunk)
        chunks = list(dayfiles._chunks(prefix, lines))
    assert b"".join(chunks) == prefix + b"".join(lines)
    expected, current, size = [], [prefix] if prefix else [], len(prefix)
    for line in lines:  # one line at a time, as append_lines wrote them before
        current.append(line)
        size += len(line)
        if size >= chunk:
            expected.append(b"".join(current))
            current, size = [], 0
    if current:
        expected.append(b"".join(current))
    assert chunks == expected
