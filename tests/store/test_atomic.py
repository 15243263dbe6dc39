"""Atomic whole-file writes."""

import os
from pathlib import Path

import pytest

from aiusage.store import atomic


def test_write_atomic_syncs_unless_told_the_data_is_derived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(atomic.os, "fsync", synced.append)
    atomic.write_atomic(tmp_path / "kept.json", b"{}")
    assert len(synced) == 1
    atomic.write_atomic(tmp_path / "derived.json", b"{}", durable=False)
    assert len(synced) == 1
    assert (tmp_path / "derived.json").read_bytes() == b"{}"
    assert sorted(os.listdir(tmp_path)) == ["derived.json", "kept.json"]
