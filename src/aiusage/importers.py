"""Bringing in usage logs written by other tools: Claude Code's session logs, and any JSONL or
CSV export mapped field by field onto the record schema.

Imports are idempotent and incremental:

- Each imported record's ``id`` is derived from its source identity (Claude Code: the
  message id and request id), so the same call imported twice is recognised.
- Before anything is written, the ids already stored for the days touched are read, and
  records already there are skipped. This covers re-runs, resumed sessions replaying
  history, and the same message in several files.
- Per source file, the byte offset read so far is kept in
  ``<data dir>/imports/<source>.json`` with the file's inode. A file that grew is read from
  there; a rewritten or truncated one is read again from the start (ids keep that safe).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import orjson

from aiusage.errors import AiusageError, UsageError
from aiusage.export import write_atomic
from aiusage.pricing import PricingTable
from aiusage.records import FIELDS
from aiusage.scan import Row
from aiusage.store import day_of, list_files, open_data
from aiusage.tracking import prepare, write

CLAUDE_FUNCTION = "claude-code"


@dataclass
class ImportResult:
    """What an import did: records written, already present, and lines skipped (why)."""

    source: str
    files: int = 0
    lines: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        """Count one line that is not a call."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def derived_id(*parts: str) -> str:
    """A stable record id from a source identity."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000 if value > 1e11 else float(value)
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    return None


# --- Claude Code ---------------------------------------------------------------------------


def claude_dirs(given: Sequence[Path] = ()) -> list[Path]:
    """Where Claude Code keeps its logs: the given dirs, else ``$CLAUDE_CONFIG_DIR``
    (comma-separated), else ``~/.config/claude`` and ``~/.claude``."""
    if given:
        return list(given)
    env = os.environ.get("CLAUDE_CONFIG_DIR", "")
    if env.strip():
        return [Path(p.strip()).expanduser() for p in env.split(",") if p.strip()]
    home = Path.home()
    return [home / ".config" / "claude", home / ".claude"]


def claude_files(dirs: Iterable[Path]) -> list[Path]:
    """Every ``projects/**/*.jsonl`` below the dirs."""
    files: list[Path] = []
    for directory in dirs:
        projects = directory / "projects"
        if projects.is_dir():
            files += sorted(projects.rglob("*.jsonl"))
    return files


def claude_record(line: Mapping[str, Any], project: str) -> tuple[dict[str, Any] | None, str]:
    """One Claude Code log line as record fields, or ``None`` and why it is not a call."""
    if line.get("type") != "assistant":
        return None, f"{line.get('type') or 'untyped'} line"
    message = line.get("message")
    if not isinstance(message, Mapping):
        return None, "no message"
    usage = message.get("usage")
    model = message.get("model")
    if not isinstance(usage, Mapping) or not isinstance(model, str):
        return None, "no usage"
    counts = {
        k: usage.get(k) or 0
        for k in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        )
    }
    if model == "<synthetic>" or not any(counts.values()):
        return None, "zero-usage or <synthetic> line"
    ts = _epoch(line.get("timestamp"))
    if ts is None:
        return None, "no timestamp"
    raw_creation = usage.get("cache_creation")
    creation: Mapping[str, Any] = raw_creation if isinstance(raw_creation, Mapping) else {}
    one_hour = creation.get("ephemeral_1h_input_tokens") or 0
    written = max(
        counts["cache_creation_input_tokens"],
        (creation.get("ephemeral_5m_input_tokens") or 0) + one_hour,
    )
    message_id = str(message.get("id") or "")
    request_id = str(line.get("requestId") or "")
    identity = (
        f"{message_id}:{request_id}" if message_id or request_id else orjson.dumps(line).decode()
    )
    fields: dict[str, Any] = {
        "id": derived_id("claude-code", identity),
        "timestamp": ts,
        "model": model,
        "provider": "anthropic",
        "input_tokens": counts["input_tokens"],
        "output_tokens": counts["output_tokens"],
        "cache_read_tokens": counts["cache_read_input_tokens"],
        "cache_write_tokens": written,
        "cache_write_1h_tokens": min(one_hour, written) or None,
        "session_id": line.get("sessionId"),
        "request_id": request_id or None,
        "function": CLAUDE_FUNCTION,
        "tags": {"project": project, "source": "claude-code"},
        "success": not line.get("isApiErrorMessage", False),
    }
    cost = line.get("costUSD")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        fields.update(cost=float(cost), currency="USD")
    return fields, ""


def _project_of(path: Path, first: Mapping[str, Any] | None) -> str:
    parts = path.parts
    if "projects" in parts:
        index = len(parts) - 1 - parts[::-1].index("projects")
        if index + 1 < len(parts) - 1:
            return parts[index + 1]
    cwd = first.get("cwd") if first else None
    return Path(cwd).name if isinstance(cwd, str) else "unknown"


# --- the import engine ---------------------------------------------------------------------


def _state_path(data_dir: Path, source: str) -> Path:
    return data_dir / "imports" / f"{source}.json"


def _load_state(path: Path) -> dict[str, Any]:
    try:
        state = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return state if isinstance(state, dict) else {}


def _new_lines(path: Path, state: dict[str, Any]) -> tuple[int, Iterator[tuple[int, bytes]]]:
    """Where to read ``path`` from (its saved offset if it only grew) and its new lines."""
    stat = path.stat()
    saved = state.get(str(path)) or {}
    start = (
        saved.get("offset", 0)
        if saved.get("ino") == stat.st_ino and stat.st_size >= saved.get("offset", 0)
        else 0
    )

    def lines() -> Iterator[tuple[int, bytes]]:
        offset = start
        with open_data(path, start) as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # a line still being written: next time
                offset += len(line)
                yield offset, line

    return start, lines()


def _stored_ids(data_dir: Path, days: Iterable[dt.date]) -> set[Any]:
    """The record ids already stored for these UTC days."""
    wanted = set(days)
    ids: set[Any] = set()
    decoder = msgspec.json.Decoder(Row)
    for day_file in list_files(data_dir):
        if day_file.day not in wanted:
            continue
        with open_data(day_file.path) as fh:
            for line in fh:
                try:
                    row = decoder.decode(line)
                except ValueError:  # msgspec's decode and validation errors, bad UTF-8
                    continue
                if row.id is not None:
                    ids.add(row.id)
    return ids


def import_claude_code(
    dirs: Sequence[Path],
    data_dir: Path,
    *,
    table: PricingTable,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import Claude Code session logs (see the module docstring)."""
    result = ImportResult("claude-code")
    files = claude_files(claude_dirs(dirs))
    state_file = _state_path(data_dir, "claude-code")
    state = _load_state(state_file)
    candidates: dict[str, dict[str, Any]] = {}
    offsets: dict[str, dict[str, int]] = {}
    for index, path in enumerate(files, 1):
        result.files += 1
        _, lines = _new_lines(path, state)
        project: str | None = None
        end = None
        for offset, raw in lines:
            end = offset
            result.lines += 1
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                result.skip("malformed line")
                continue
            if not isinstance(line, dict):
                result.skip("malformed line")
                continue
            if project is None:
                project = _project_of(path, line)
            fields, reason = claude_record(line, project)
            if fields is None:
                result.skip(reason)
                continue
            if fields["id"] in candidates:
                result.duplicates += 1
                continue
            candidates[fields["id"]] = fields
        stat = path.stat()
        saved = state.get(str(path)) or {}
        offsets[str(path)] = {
            "ino": stat.st_ino,
            "offset": end if end is not None else saved.get("offset", 0),
        }
        if progress is not None:
            progress(index, len(files))
    _finish(result, candidates, data_dir, table, dry_run)
    if not dry_run:
        state.update(offsets)
        state_file.parent.mkdir(mode=0o700, exist_ok=True)
        write_atomic(state_file, orjson.dumps(state))
    return result


def _finish(
    result: ImportResult,
    candidates: Mapping[str, dict[str, Any]],
    data_dir: Path,
    table: PricingTable,
    dry_run: bool,
) -> None:
    """Skip what the store holds already, validate and price the rest, write it."""
    days = {day_of(f["timestamp"]) for f in candidates.values()}
    stored = _stored_ids(data_dir, days) if data_dir.is_dir() else set()
    records = []
    for record_id, fields in candidates.items():
        if record_id in stored:
            result.duplicates += 1
            continue
        try:
            records.append(prepare(fields, table=table))
        except AiusageError:
            result.skip("invalid record")
    records.sort(key=lambda r: r["timestamp"])
    result.records = records
    result.imported = len(records)
    if not dry_run and records:
        write(data_dir, records)


# --- any JSONL or CSV ---------------------------------------------------------------------


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """``--map field=column`` options as {record field: source column}."""
    mapping = {}
    for item in items:
        target, sep, column = item.partition("=")
        if not sep or not column:
            raise UsageError(f"--map expects FIELD=COLUMN, got {item!r}")
        if target not in FIELDS and not target.startswith("tag:"):
            raise UsageError(f"--map {item}: {target!r} is not a record field (or tag:NAME)")
        mapping[target] = column
    if "model" not in mapping and "timestamp" not in mapping:
        raise UsageError("--map needs at least model=COLUMN and timestamp=COLUMN")
    return mapping


INTEGER_FIELDS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "reasoning_tokens",
        "total_tokens",
        "status_code",
        "request_bytes",
        "response_bytes",
    }
)
FLOAT_FIELDS = frozenset({"cost", "duration_ms", "ttfb_ms"})


def _lookup(row: Mapping[str, Any], column: str) -> Any:
    """A column, or a dotted path into nested JSON (``usage.prompt_tokens``)."""
    value: Any = row
    for part in column.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _convert(target: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if target == "timestamp":
        ts = (
            _epoch(value)
            if not isinstance(value, str) or not value.replace(".", "", 1).isdigit()
            else _epoch(float(value))
        )
        if ts is None:
            raise UsageError(f"timestamp {value!r} is not epoch seconds or an ISO datetime")
        return ts
    if target in INTEGER_FIELDS:
        return int(float(value))
    if target in FLOAT_FIELDS:
        return float(value)
    if target == "success":
        return (
            value
            if isinstance(value, bool)
            else str(value).strip().lower() in ("1", "true", "yes", "ok", "success")
        )
    return str(value)


def mapped_rows(raw: bytes, kind: str) -> Iterator[Mapping[str, Any]]:
    """The rows of a JSONL or CSV file."""
    if kind == "csv":
        yield from csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
        return
    for line in raw.splitlines():
        if line.strip():
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield {}
                continue
            yield obj if isinstance(obj, dict) else {}


def import_mapped(
    path: Path,
    kind: str,
    mapping: Mapping[str, str],
    data_dir: Path,
    *,
    table: PricingTable,
    source: str,
    dry_run: bool = False,
) -> ImportResult:
    """Import a JSONL or CSV export, each record's fields taken from ``mapping``'s columns;
    ids derive from the file name and row content, so a re-import adds nothing."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    result = ImportResult(source)
    result.files = 1
    candidates: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for number, row in enumerate(mapped_rows(raw, kind), 1):
        result.lines += 1
        if not row:
            result.skip("malformed line")
            continue
        fields: dict[str, Any] = {"tags": {"source": source}}
        try:
            for target, column in mapping.items():
                value = _convert(
                    target.removeprefix("tag:") if target.startswith("tag:") else target,
                    _lookup(row, column),
                )
                if target.startswith("tag:"):
                    if value is not None:
                        fields["tags"][target[4:]] = str(value)
                elif value is not None:
                    fields[target] = value
        except (UsageError, ValueError) as exc:
            errors.append(f"row {number}: {exc}")
            continue
        fields.setdefault("provider", None)
        fields["id"] = fields.get("id") or derived_id(
            source, path.name, orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode()
        )
        try:
            prepare(fields, table=table)
        except AiusageError as exc:
            errors.append(f"row {number}: {exc}")
            continue
        if fields["id"] in candidates:
            result.duplicates += 1
            continue
        candidates[fields["id"]] = fields
    if errors:
        raise UsageError(
            f"{path}: {errors[0]}"
            + (f" (+{len(errors) - 1} more rows)" if len(errors) > 1 else "")
            + "; nothing imported"
        )
    _finish(result, candidates, data_dir, table, dry_run)
    return result


# --- OpenAI Codex CLI ----------------------------------------------------------------------

CODEX_FUNCTION = "codex"


def codex_dirs(given: Sequence[Path] = ()) -> list[Path]:
    """Where Codex CLI keeps sessions: the given dirs, else ``$CODEX_HOME/sessions``, else
    ``~/.codex/sessions``."""
    if given:
        return list(given)
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
            ts = _epoch(line.get("timestamp"))
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
    dirs: Sequence[Path], data_dir: Path, *, table: PricingTable, dry_run: bool = False
) -> ImportResult:
    """Import Codex CLI session logs (``sessions/**/*.jsonl``); re-runs add nothing twice."""
    result = ImportResult("codex")
    candidates: dict[str, dict[str, Any]] = {}
    for directory in codex_dirs(dirs):
        for path in sorted(directory.rglob("*.jsonl")) if directory.is_dir() else []:
            result.files += 1
            for fields in codex_records(path, result):
                if fields["id"] in candidates:
                    result.duplicates += 1
                else:
                    candidates[fields["id"]] = fields
    _finish(result, candidates, data_dir, table, dry_run)
    return result
