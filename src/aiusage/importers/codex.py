"""OpenAI Codex CLI session logs (``~/.codex/sessions/**/*.jsonl``) as records: one call
per ``token_count`` event, with the model of the latest ``turn_context``."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from aiusage.errors import AiusageError
from aiusage.importers.engine import (
    ImportResult,
    Sink,
    derived_id,
    epoch,
    given_dirs,
    source_files,
)

if TYPE_CHECKING:
    from aiusage.workspace import Workspace

CODEX_FUNCTION = "codex"


def codex_dirs(given: Sequence[Path] = ()) -> list[Path]:
    """Where Codex CLI keeps sessions: the given dirs, else ``$CODEX_HOME/sessions``, else
    ``~/.codex/sessions``."""
    if given:
        return given_dirs(given)
    home = os.environ.get("CODEX_HOME", "").strip()
    return [(Path(home).expanduser() if home else Path.home() / ".codex") / "sessions"]


def _codex_usage(
    info: Mapping[str, Any], previous: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """This turn's usage: ``last_token_usage``, else the growth of ``total_token_usage``."""
    last = info.get("last_token_usage")
    if isinstance(last, Mapping):
        return last
    total = info.get("total_token_usage")
    if not isinstance(total, Mapping):
        return None
    if previous is None:
        return total
    return {k: (total.get(k) or 0) - (previous.get(k) or 0) for k in total}


def codex_records(path: Path, result: ImportResult) -> Iterator[dict[str, Any]]:
    """The calls of one Codex session file: a ``token_count`` event per turn, with the
    model of the latest ``turn_context``. Input tokens include the cached ones (OpenAI
    style); reasoning tokens are counted apart from output, as Codex reports them."""
    model: str | None = None
    session = path.stem
    project = "unknown"
    previous: Mapping[str, Any] | None = None
    with open(path, "rb") as fh:
        for raw in fh:
            result.lines += 1
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                result.skip("malformed line")
                continue
            payload = line.get("payload") if isinstance(line, dict) else None
            if not isinstance(payload, dict):
                result.skip("malformed line")
                continue
            kind = line.get("type")
            if kind == "session_meta":
                session = str(payload.get("id") or session)
                if isinstance(payload.get("cwd"), str):
                    project = Path(payload["cwd"]).name
                continue
            if kind == "turn_context":
                model = payload.get("model") if isinstance(payload.get("model"), str) else model
                continue
            if kind != "event_msg" or payload.get("type") != "token_count":
                result.skip(f"{kind or 'untyped'} line")
                continue
            info = payload.get("info")
            if not isinstance(info, Mapping):
                result.skip("token_count without usage")
                continue
            usage = _codex_usage(info, previous)
            if isinstance(info.get("total_token_usage"), Mapping):
                previous = info["total_token_usage"]
            ts = epoch(line.get("timestamp"))
            if usage is None or ts is None or model is None:
                result.skip("token_count without usage, time or model")
                continue
            prompt = int(usage.get("input_tokens") or 0)
            cached = min(int(usage.get("cached_input_tokens") or 0), prompt)
            reasoning = int(usage.get("reasoning_output_tokens") or 0)
            output = int(usage.get("output_tokens") or 0) + reasoning
            if not prompt and not output:
                result.skip("zero-usage token_count")
                continue
            totals = orjson.dumps(
                info.get("total_token_usage") or usage, option=orjson.OPT_SORT_KEYS
            ).decode()
            yield {
                "id": derived_id("codex", session, str(line.get("timestamp")), totals),
                "timestamp": ts,
                "model": model,
                "provider": "openai",
                "input_tokens": prompt - cached,
                "cache_read_tokens": cached,
                "output_tokens": output,
                "reasoning_tokens": reasoning,
                "session_id": session,
                "function": CODEX_FUNCTION,
                "tags": {"project": project, "source": "codex"},
            }


def import_codex(
    dirs: Sequence[Path], workspace: Workspace, *, dry_run: bool = False
) -> ImportResult:
    """Import Codex CLI session logs (``sessions/**/*.jsonl``); re-runs add nothing twice."""
    result = ImportResult("codex")
    sink = Sink(result, workspace)
    for directory in codex_dirs(dirs):
        for path in source_files(directory, ".jsonl", result):
            result.files += 1
            for fields in codex_records(path, result):
                if sink.seen_before(fields["id"]):
                    continue
                try:
                    sink.add(fields)
                except AiusageError:
                    result.skip("invalid record")
    if not dry_run:
        sink.write()
    return result
