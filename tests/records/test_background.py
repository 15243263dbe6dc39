"""The background writer: records handed to one thread, written in batches, none lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

import aiusage
from aiusage.store.dayfiles import iter_lines, list_files


def _records(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for f in list_files(directory) for line in iter_lines(f.path)]


def test_background_writing(data_dir: Path) -> None:
    aiusage.configure(background=True)
    try:
        for i in range(200):
            aiusage.record(data_dir=data_dir, model="gpt-4o", input_tokens=i)
        assert aiusage.flush(10)
    finally:
        aiusage.configure(background=False)
    assert sorted(r["input_tokens"] for r in _records(data_dir)) == list(range(200))


def test_turning_background_off_writes_everything_and_ends_the_thread(data_dir: Path) -> None:
    import threading

    def writer_threads() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name == "aiusage-writer"]

    def burst(start: int) -> None:
        for i in range(start, start + 300):
            aiusage.record(data_dir=data_dir, model="gpt-4o", input_tokens=i)

    aiusage.configure(background=True)
    try:
        threads = [threading.Thread(target=burst, args=(k * 300,)) for k in range(4)]
        for t in threads:
            t.start()
        aiusage.configure(background=False)  # while they are still recording
        for t in threads:
            t.join()
        aiusage.configure(background=True)  # a new thread when asked again
        burst(1200)
        assert writer_threads() == ["aiusage-writer"]
    finally:
        aiusage.configure(background=False)
    assert writer_threads() == []
    assert sorted(r["input_tokens"] for r in _records(data_dir)) == list(range(1500))
