from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

import aiusage
from aiusage.errors import DataError, ValidationError
from aiusage.store.dayfiles import iter_lines, list_files


def _records(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for f in list_files(directory) for line in iter_lines(f.path)]


def test_record_writes_a_priced_record(data_dir: Path) -> None:
    rec = aiusage.record(
        data_dir=data_dir, model="gpt-4o", input_tokens=1000, output_tokens=100, user_id="ann"
    )
    assert rec is not None
    assert rec["cost"] == pytest.approx(0.0035)
    assert rec["provider"] == "openai"
    assert rec["price_ref"].startswith("gpt-4o@")
    assert _records(data_dir) == [rec]


def test_record_uses_aiusage_home(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.setenv("AIUSAGE_HOME", str(data_dir))
    aiusage.record(model="gpt-4o")
    assert len(_records(data_dir)) == 1


def test_record_never_raises_by_default(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="aiusage"):
        assert aiusage.record(data_dir=tmp_path / "no" / "such", model="gpt-4o") is None
        assert aiusage.record(data_dir=tmp_path, model="gpt-4o", input_tokens=-1) is None
    assert "not recorded" in caplog.text
    with pytest.raises(DataError):
        aiusage.record(data_dir=tmp_path / "no" / "such", model="gpt-4o", raise_errors=True)
    with pytest.raises(ValidationError):
        aiusage.record(data_dir=tmp_path, model="gpt-4o", input_tokens=-1, raise_errors=True)


def test_unknown_model_is_recorded_unpriced_and_warned_once(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aiusage"):
        aiusage.record(data_dir=data_dir, model="never-heard-of-it")
        aiusage.record(data_dir=data_dir, model="never-heard-of-it")
    assert caplog.text.count("never-heard-of-it") == 1
    assert [r["cost"] for r in _records(data_dir)] == [None, None]


def _openai_response() -> Any:
    usage = SimpleNamespace(
        prompt_tokens=1200,
        completion_tokens=300,
        total_tokens=1500,
        prompt_tokens_details=SimpleNamespace(cached_tokens=200),
        completion_tokens_details=SimpleNamespace(reasoning_tokens=50),
    )
    return SimpleNamespace(id="chatcmpl-1", model="gpt-4o-2024-08-06", usage=usage)


def test_track_sync_reads_usage(data_dir: Path) -> None:
    @aiusage.track(function="summarise", user_id="ann", data_dir=data_dir)
    def call() -> Any:
        return _openai_response()

    assert call().id == "chatcmpl-1"
    (rec,) = _records(data_dir)
    assert rec["function"] == "summarise"
    assert rec["model"] == "gpt-4o-2024-08-06"
    assert (
        rec["input_tokens"],
        rec["cache_read_tokens"],
        rec["output_tokens"],
        rec["reasoning_tokens"],
    ) == (1000, 200, 300, 50)
    assert rec["request_id"] == "chatcmpl-1"
    assert rec["duration_ms"] >= 0
    # 1000×2.5 + 200×1.25 + 300×10 per 1M
    assert rec["cost"] == pytest.approx(0.00575)


def test_track_async_and_failures(data_dir: Path) -> None:
    class RateLimited(Exception):
        status_code = 429

    @aiusage.track(model="claude-haiku-4-5", data_dir=data_dir)
    async def ok() -> dict[str, Any]:
        return {
            "id": "msg_1",
            "model": "claude-haiku-4-5",
            "usage": {
                "input_tokens": 10,
                "output_tokens": 5,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 20,
            },
        }

    @aiusage.track(model="claude-haiku-4-5", data_dir=data_dir)
    async def fails() -> None:
        raise RateLimited("slow down")

    asyncio.run(ok())
    with pytest.raises(RateLimited):
        asyncio.run(fails())
    good, bad = _records(data_dir)
    assert (good["input_tokens"], good["cache_read_tokens"], good["cache_write_tokens"]) == (
        10,
        100,
        20,
    )
    assert good["function"].endswith("ok")
    assert bad["success"] is False
    assert bad["error_msg"] == "RateLimited: slow down"
    assert bad["status_code"] == 429


def test_track_never_breaks_the_caller(tmp_path: Path) -> None:
    @aiusage.track(model="gpt-4o", data_dir=tmp_path / "missing" / "dir")
    def call() -> int:
        return 42

    assert call() == 42


def test_context_adds_fields(data_dir: Path) -> None:
    with aiusage.context(user_id="ctx-user", session_id="s1"):
        aiusage.record(data_dir=data_dir, model="gpt-4o")
    aiusage.record(data_dir=data_dir, model="gpt-4o")
    first, second = _records(data_dir)
    assert (first["user_id"], first["session_id"]) == ("ctx-user", "s1")
    assert "user_id" not in second


def test_record_writes_what_prepare_would_and_threads_get_distinct_ids(tmp_path: Path) -> None:
    import threading

    import aiusage
    from aiusage.pricing.table import load_table
    from aiusage.records.prepare import prepare
    from aiusage.records.schema import serialize

    fields = {"id": "fixed", "timestamp": 1_795_000_000.25, "model": "gpt-4o", "input_tokens": 7,
              "user_id": 42, "tags": {"team": "a"}, "api_key": "sk-abcdefghijklmnop"}  # fmt: skip
    rec = aiusage.record(data_dir=tmp_path, raise_errors=True, **fields)
    expected = prepare(fields, table=load_table(data_dir=tmp_path))
    assert rec == expected
    day_file = next(tmp_path.glob("usage_*.jsonl"))
    assert day_file.read_bytes() == serialize(expected)

    def burst() -> None:
        for _ in range(300):
            aiusage.record(data_dir=tmp_path, raise_errors=True, model="gpt-4o")

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [
        orjson.loads(line)["id"]
        for f in tmp_path.glob("usage_*.jsonl")
        for line in f.read_bytes().splitlines()
    ]
    assert len(ids) == len(set(ids)) == 1201


@pytest.mark.parametrize("stream", [False, True])
def test_a_key_across_the_message_cut_is_masked_whole(data_dir: Path, stream: bool) -> None:
    # The message is cut to 500 characters: a key across the cut must not leave its start.
    message = "x" * 475 + " AKIAIOSFODNN7EXAMPLE rejected"

    def chunks() -> Any:
        raise PermissionError(message)
        yield

    @aiusage.track(model="gpt-4o", data_dir=data_dir)
    def call() -> Any:
        raise PermissionError(message)

    with pytest.raises(PermissionError):
        list(
            aiusage.track_stream(chunks(), model="gpt-4o", data_dir=data_dir)
        ) if stream else call()
    (rec,) = _records(data_dir)
    assert rec["error_msg"].startswith("PermissionError: xxx")
    assert "AKIAIOS" not in rec["error_msg"]
    assert len(rec["error_msg"]) <= 500


def test_a_key_across_twice_the_cut_is_not_kept_in_part(data_dir: Path) -> None:
    # Masks shorten the text: the keys before it bring a key cut in two where twice the
    # limit is read (character 1000 of the message) within the first 500 characters.
    long_key = "sk-proj-" + "Ab1" * 30
    before = " ".join([long_key] * 9) + " "
    message = before + "x" * (1000 - len("PermissionError: ") - len(before) - 10)
    message += " AKIAIOSFODNN7EXAMPLE rejected"

    @aiusage.track(model="gpt-4o", data_dir=data_dir)
    def call() -> Any:
        raise PermissionError(message)

    with pytest.raises(PermissionError):
        call()
    (rec,) = _records(data_dir)
    assert "AKIAIOS" not in rec["error_msg"]
    assert "Ab1Ab1Ab1" not in rec["error_msg"]
