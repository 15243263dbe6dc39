"""``record --batch`` on a really full file system (a small tmpfs, mounted as root): the
batch lands whole or not at all, and the retry after space was freed writes it once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from aiusage.errors import DataError
from aiusage.pricing.table import load_table
from aiusage.records.batch import Written, read_batch_file, write_batch
from aiusage.store import dayfiles
from aiusage.store.dayfiles import iter_lines, list_files

NOW = 1_795_000_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs; grown with :func:`_grow`."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk]
    if subprocess.run(mount, capture_output=True, check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", disk], check=True)


def _grow(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", disk], check=True)


def _batch(tmp_path: Path, n: int, *, first: int = 0) -> Path:
    path = tmp_path / f"batch-{first}-{n}.jsonl"
    with open(path, "wb") as fh:
        for i in range(first, first + n):
            # Four days; half the lines without an id.
            rec: dict[str, object] = {"model": "gpt-4o", "input_tokens": i}
            rec.update(timestamp=NOW + i * 20, tags={"pad": "x" * 200})
            if i % 2:
                rec["id"] = f"r{i}"
            fh.write(orjson.dumps(rec) + b"\n")
    return path


def _tokens(data_dir: Path) -> list[int]:
    return sorted(
        orjson.loads(line)["input_tokens"]
        for f in list_files(data_dir)
        for line in iter_lines(f.path)
    )


def _snapshot(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in data_dir.iterdir()}


def _record(data_dir: Path, batch: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiusage", "record", "-d", data_dir, "--batch", batch],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_batch_too_big_for_the_disk_writes_nothing(small_disk: Path, tmp_path: Path) -> None:
    data_dir = small_disk / "data"
    data_dir.mkdir()
    small = _batch(tmp_path, 1000)  # ~300 kB over four days: fits
    assert _record(data_dir, small).returncode == 0
    before = _snapshot(data_dir)
    big = _batch(tmp_path, 20_000, first=1000)  # ~6 MB: does not
    done = _record(data_dir, big)
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert "disk full; nothing written" in done.stderr
    assert _snapshot(data_dir) == before
    _grow(small_disk)  # space freed: the retry writes the batch, once
    assert _record(data_dir, big).returncode == 0
    again = _record(data_dir, big)
    assert again.returncode == 0
    assert "(20,000 already recorded)" in again.stderr
    assert _tokens(data_dir) == list(range(21_000))


def test_without_a_reservation_a_failed_write_is_undone(
    small_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = small_disk / "data"
    data_dir.mkdir()
    table = load_table()
    write_batch(data_dir, read_batch_file(_batch(tmp_path, 1000), data_dir, table=table))
    before = _snapshot(data_dir)
    monkeypatch.setattr(dayfiles, "_fallocate", lambda: None)  # as on a file system without it
    big = read_batch_file(_batch(tmp_path, 20_000, first=1000), data_dir, table=table)
    with pytest.raises(DataError, match="nothing written"):
        write_batch(data_dir, big)
    assert _snapshot(data_dir) == before
    _grow(small_disk)
    assert write_batch(data_dir, big) == Written(20_000, 0)
    assert _tokens(data_dir) == list(range(21_000))
