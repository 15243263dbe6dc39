"""Claude Code's session logs (``projects/**/*.jsonl``) as records.

An assistant line with ``message.usage`` is one call. Claude Code writes one line per content
block, all with the same ``message.id`` + ``requestId`` and usage, and a resumed session
replays earlier lines: those count once. Lines are decoded into typed structs that hold only
the fields used (the message content is skipped, not built).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import orjson

from aiusage.errors import AiusageError
from aiusage.importers.engine import (
    ImportResult,
    Offsets,
    Progress,
    Sink,
    derived_id,
    epoch,
    given_dirs,
    source_files,
)

if TYPE_CHECKING:
    from aiusage.workspace import Workspace

FUNCTION = "claude-code"


class _CacheCreation(msgspec.Struct):
    ephemeral_5m_input_tokens: int | None = None
    ephemeral_1h_input_tokens: int | None = None


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_creation: _CacheCreation | None = None


class _Message(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    usage: _Usage | None = None


_NAMES = {
    "session_id": "sessionId",
    "request_id": "requestId",
    "api_error": "isApiErrorMessage",
    "cost_usd": "costUSD",
}


class Line(msgspec.Struct, rename=_NAMES):
    """The fields of a Claude Code log line that make a record."""

    type: str | None = None
    timestamp: str | float | None = None
    session_id: str | None = None
    request_id: str | None = None
    cwd: str | None = None
    api_error: bool = False
    cost_usd: float | None = None
    message: _Message | str | None = None


_decoder = msgspec.json.Decoder(Line)


def claude_dirs(given: Sequence[Path] = ()) -> list[Path]:
    """Where Claude Code keeps its logs: the given dirs, else ``$CLAUDE_CONFIG_DIR``
    (comma-separated), else ``~/.config/claude`` and ``~/.claude``."""
    if given:
        return given_dirs(given)
    env = os.environ.get("CLAUDE_CONFIG_DIR", "")
    if env.strip():
        return [Path(p.strip()).expanduser() for p in env.split(",") if p.strip()]
    home = Path.home()
    return [home / ".config" / "claude", home / ".claude"]


def claude_files(dirs: Iterable[Path], result: ImportResult) -> list[Path]:
    """Every ``projects/**/*.jsonl`` below the dirs (links as
    :func:`~aiusage.importers.engine.source_files` follows them)."""
    files: list[Path] = []
    for directory in dirs:
        files += source_files(directory, ".jsonl", result, below="projects")
    return files


def claude_record(line: Line, project: str) -> tuple[dict[str, object] | None, str]:
    """One Claude Code log line as record fields, or ``None`` and why it is not a call."""
    if line.type != "assistant":
        return None, f"{line.type or 'untyped'} line"
    message = line.message
    if not isinstance(message, _Message):
        return None, "no message"
    usage = message.usage
    model = message.model
    if usage is None or model is None:
        return None, "no usage"
    input_tokens = usage.input_tokens or 0
    output_tokens = usage.output_tokens or 0
    cache_read = usage.cache_read_input_tokens or 0
    creation = usage.cache_creation or _CacheCreation()
    one_hour = creation.ephemeral_1h_input_tokens or 0
    written = max(
        usage.cache_creation_input_tokens or 0,
        (creation.ephemeral_5m_input_tokens or 0) + one_hour,
    )
    if model == "<synthetic>" or not (input_tokens or output_tokens or cache_read or written):
        return None, "zero-usage or <synthetic> line"
    ts = epoch(line.timestamp)
    if ts is None:
        return None, "no timestamp"
    message_id = message.id or ""
    request_id = line.request_id or ""
    identity = (
        f"{message_id}:{request_id}"
        if message_id or request_id
        else orjson.dumps(msgspec.to_builtins(line)).decode()
    )
    fields: dict[str, object] = {
        "id": derived_id("claude-code", identity),
        "timestamp": ts,
        "model": model,
        "provider": "anthropic",
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": written,
        "cache_write_1h_tokens": min(one_hour, written) or None,
        "session_id": line.session_id,
        "request_id": request_id or None,
        "function": FUNCTION,
        "tags": {"project": project, "source": "claude-code"},
        "success": not line.api_error,
    }
    if line.cost_usd is not None and line.cost_usd >= 0:
        fields.update(cost=line.cost_usd, currency="USD")
    return fields, ""


def project_of(path: Path, cwd: str | None) -> str:
    """The project of a session file: its folder below ``projects/``, else the ``cwd``."""
    parts = path.parts
    if "projects" in parts:
        index = len(parts) - 1 - parts[::-1].index("projects")
        if index + 1 < len(parts) - 1:
            return parts[index + 1]
    return Path(cwd).name if cwd else "unknown"


def import_claude_code(
    dirs: Sequence[Path],
    workspace: Workspace,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import Claude Code session logs (see :mod:`aiusage.importers.engine`)."""
    result = ImportResult("claude-code")
    files = claude_files(claude_dirs(dirs), result)
    offsets = Offsets(workspace.data_dir, "claude-code")
    sink = Sink(result, workspace)
    starts = [offsets.start(path) for path in files]
    total = sum(path.stat().st_size - start for path, start in zip(files, starts, strict=True))
    done = 0
    calls: set[tuple[str, str]] = set()
    for path, start in zip(files, starts, strict=True):
        result.files += 1
        project: str | None = None
        for raw in offsets.lines(path, start):
            result.lines += 1
            try:
                line = _decoder.decode(raw)
            except ValueError:  # msgspec's decode and validation errors, bad UTF-8
                result.skip("malformed line")
                continue
            if project is None:
                project = project_of(path, line.cwd)
            # A repeated line (one per content block, or a resumed session's replay) is
            # recognised by its message and request ids before any work is done on it.
            message = line.message
            key = (
                (message.id, line.request_id)
                if isinstance(message, _Message) and message.id and line.request_id
                else None
            )
            if key is not None and key in calls:
                result.duplicates += 1
                continue
            fields, reason = claude_record(line, project)
            if fields is None:
                result.skip(reason)
                continue
            if key is not None:
                calls.add(key)
            if sink.seen_before(str(fields["id"])):
                continue
            try:
                sink.add(fields)
            except AiusageError:
                result.skip("invalid record")
        done += path.stat().st_size - start
        if progress is not None:
            progress(min(done, total), total)
    if not dry_run:
        sink.write()
        offsets.save()
    return result
