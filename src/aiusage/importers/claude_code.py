"""Claude Code's session logs (``projects/**/*.jsonl``) as records.

An assistant line with ``message.usage`` is one call. Claude Code writes one line per content
block, all with the same ``message.id`` + ``requestId`` and usage, and a resumed session
replays earlier lines: those count once. Lines are decoded into typed structs that hold only
the fields used (the message content is skipped, not built).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import orjson

from aiusage.bounds import MAX_COST, MAX_TIMESTAMP, MAX_TOKENS, MIN_TIMESTAMP
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
from aiusage.pricing.cost import TokenCounts, cost_of_record
from aiusage.pricing.price import Price
from aiusage.records.batch import Incoming
from aiusage.records.schema import hostname
from aiusage.records.secrets import MIN_SECRET, scrub, scrub_tags
from aiusage.store.gc_pause import gc_paused
from aiusage.store.processes import each_in_processes

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


def call_key(line: Line) -> Key | None:
    """What tells a repeated line (one per content block, or a resumed session's replay):
    its message and request ids, when it has both."""
    message = line.message
    if isinstance(message, _Message) and message.id and line.request_id:
        return message.id, line.request_id
    return None


def _line_text(line: Line) -> str:
    """A line's content as JSON text, to derive an id from (integers beyond 64 bits, which
    orjson refuses, written by the standard library)."""
    data = msgspec.to_builtins(line)
    try:
        return orjson.dumps(data).decode()
    except TypeError:
        return json.dumps(data, separators=(",", ":"))


# A call as its line gives it: its id, timestamp, model, tokens (input, output, cache read,
# cache write, of it 1-hour), request id and recorded cost.
Call = tuple[str, float, str, tuple[int, int, int, int, int], str | None, float | None]


def claude_call(line: Line) -> Call | str:
    """What makes a Claude Code log line a call (:data:`Call`), or why it is not one."""
    if line.type != "assistant":
        return f"{line.type or 'untyped'} line"
    message = line.message
    if not isinstance(message, _Message):
        return "no message"
    usage = message.usage
    model = message.model
    if usage is None or model is None:
        return "no usage"
    input_tokens = usage.input_tokens or 0
    output_tokens = usage.output_tokens or 0
    cache_read = usage.cache_read_input_tokens or 0
    creation = usage.cache_creation
    one_hour = five_minutes = 0
    if creation is not None:
        one_hour = creation.ephemeral_1h_input_tokens or 0
        five_minutes = creation.ephemeral_5m_input_tokens or 0
    written = max(usage.cache_creation_input_tokens or 0, five_minutes + one_hour)
    if model == "<synthetic>" or not (input_tokens or output_tokens or cache_read or written):
        return "zero-usage or <synthetic> line"
    ts = epoch(line.timestamp)
    if ts is None:
        return "no timestamp"
    message_id = message.id or ""
    request_id = line.request_id or ""
    identity = f"{message_id}:{request_id}" if message_id or request_id else _line_text(line)
    cost = line.cost_usd if line.cost_usd is not None and line.cost_usd >= 0 else None
    tokens = (input_tokens, output_tokens, cache_read, written, min(one_hour, written))
    return derived_id("claude-code", identity), ts, model, tokens, request_id or None, cost


def claude_record(line: Line, project: str) -> tuple[dict[str, object] | None, str]:
    """One Claude Code log line as record fields, or ``None`` and why it is not a call."""
    call = claude_call(line)
    if isinstance(call, str):
        return None, call
    record_id, ts, model, tokens, request_id, cost = call
    input_tokens, output_tokens, cache_read, written, one_hour = tokens
    fields: dict[str, object] = {
        "id": record_id,
        "timestamp": ts,
        "model": model,
        "provider": "anthropic",
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": written,
        "cache_write_1h_tokens": one_hour or None,
        "session_id": line.session_id,
        "request_id": request_id,
        "function": FUNCTION,
        "tags": _tags(project),
        "success": not line.api_error,
    }
    if cost is not None:
        fields.update(cost=cost, currency="USD")
    return fields, ""


def _tags(project: str) -> dict[str, str]:
    return {"project": project, "source": "claude-code"}


def project_of(path: Path, cwd: str | None) -> str:
    """The project of a session file: its folder below ``projects/``, else the ``cwd``."""
    parts = path.parts
    if "projects" in parts:
        index = len(parts) - 1 - parts[::-1].index("projects")
        if index + 1 < len(parts) - 1:
            return parts[index + 1]
    return Path(cwd).name if cwd else "unknown"


# Below this many bytes to read, forking a second process costs more than it saves.
PARALLEL_BYTES = 16 << 20
MAX_WORKERS = 4

Key = tuple[str, str]
# A line whose outcome depends on the lines before it, in other files: (its call key, why it
# is not a record, or "" and the record's id, timestamp and line, or None when invalid).
Event = tuple[Key | None, str, str, float, bytes | None]


@dataclass
class _Part:
    """What reading a run of consecutive files gave: counts that hold whatever came before,
    and the :data:`Event` lines, in order, that the whole import decides on."""

    lines: int = 0
    duplicates: int = 0
    # Skipped lines without a call key, after the first of each reason (an event, so that
    # the reasons are listed in the order they first came up).
    skipped: dict[str, int] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    offsets: dict[str, dict[str, int]] = field(default_factory=dict)


def import_claude_code(
    dirs: Sequence[Path],
    workspace: Workspace,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import Claude Code session logs (see :mod:`aiusage.importers.engine`).

    The files are read in runs of consecutive files, a large import's in parallel processes
    (one per core): each run dedupes and prepares its own lines; what depends on earlier
    runs (a call key or id met before, a day's stored ids) is decided here, line by line in
    file order, so the result is the one reading every file in turn gives."""
    result = ImportResult("claude-code")
    files = claude_files(claude_dirs(dirs), result)
    offsets = Offsets(workspace.data_dir, "claude-code")
    sink = Sink(result, workspace)
    unread = [offsets.unread(path) for path in files]
    starts = [start for start, _ in unread]
    sizes = [size for _, size in unread]
    total = sum(sizes)
    runs = _runs(sizes, _workers(total))
    # A forked worker shares what the job holds (the pricing table, loaded by the sink);
    # nothing but its result is pickled.
    job = _Job(files, starts, sizes, offsets, sink, progress, total, len(runs))
    # The lines, records and ids make no reference cycles: the collector's passes over the
    # growing events, call keys and days would find nothing to free. They are gone when it
    # is back (the first pass would go over every one of them).
    with gc_paused():
        _read_and_merge(job, runs, result)
        if not dry_run:
            sink.write()
            offsets.save()
    return result


def _read_and_merge(job: _Job, runs: Sequence[tuple[int, int]], result: ImportResult) -> None:
    """Read the runs of files and decide, in file order, what the sink takes: this
    process's run (the first) while the workers still read theirs."""
    calls: set[Key] = set()
    with closing(each_in_processes(functools.partial(_read_run, job), runs)) as parts:
        for part in parts:
            _merge(part, result, job.sink, calls)
            job.offsets.updates.update(part.offsets)
    if job.progress is not None and len(runs) > 1:
        job.progress(job.total, job.total)


def _workers(total: int) -> int:
    if total < PARALLEL_BYTES or sys.platform != "linux":
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def _runs(sizes: Sequence[int], workers: int) -> list[tuple[int, int]]:
    """The files split into up to ``workers`` runs of consecutive files of about as many
    bytes each, (first, end) index pairs; the first is this process's."""
    # This process merges its run while the workers still read theirs, which costs about
    # what a worker's sending its run back does: a larger or smaller first run was slower.
    total = sum(sizes)
    cuts = [total * (k + 1) / workers for k in range(workers - 1)]
    runs: list[tuple[int, int]] = []
    first = done = 0
    for index, size in enumerate(sizes):
        done += size
        if len(runs) < len(cuts) and done >= cuts[len(runs)]:
            runs.append((first, index + 1))
            first = index + 1
    if first < len(sizes) or not runs:
        runs.append((first, len(sizes)))
    return runs


@dataclass
class _Job:
    """What every run reads."""

    files: Sequence[Path]
    starts: Sequence[int]
    sizes: Sequence[int]  # the bytes to read of each file, as it was listed
    offsets: Offsets
    sink: Sink
    progress: Progress | None
    total: int
    runs: int


class LineRecords:
    """The records of Claude Code log lines as :func:`claude_record` and :meth:`Sink.prepare`
    make them, byte for byte (a property test holds them to it), built without the dict of
    fields: the checks and defaults of the bulk path (:mod:`aiusage.records.batch`) are the
    few a Claude Code record needs, and what recurs from record to record (a model's entry
    and scrubbed name, a project's tags) is worked out once. A record they do not cover (a
    value out of bounds, a model with spaces around it) goes the general way."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.table = sink.preparer.table
        self.default_currency = sink.preparer.default_currency
        self.host = hostname()
        # Per model name: scrubbed, its entry and price reference; None when the general
        # path is the one to make it right (empty, spaces around it).
        self.models: dict[str, tuple[str, Price | None, str | None] | None] = {}
        self.tags: dict[str, dict[str, str]] = {}  # per project, scrubbed

    def prepare(self, line: Line, project: str) -> tuple[str, float, bytes | None] | str:
        """A line's record: its id, timestamp and line (``None``: an invalid record), or
        why the line is not a call."""
        call = claude_call(line)
        if isinstance(call, str):
            return call
        record_id, timestamp, model, tokens, request_id, cost = call
        inp, output, read, write, one_hour = tokens
        try:
            known = self.models[model]
        except KeyError:
            known = self._model(model)
        if known is None or not (
            MIN_TIMESTAMP <= timestamp < MAX_TIMESTAMP
            and 0 <= inp <= MAX_TOKENS
            and 0 <= output <= MAX_TOKENS
            and 0 <= read <= MAX_TOKENS
            and 0 <= write <= MAX_TOKENS
            and one_hour >= 0
            and (cost is None or cost <= MAX_COST)
        ):
            return self._general(line, project, record_id)
        success = not line.api_error
        charge = cost_of_record(
            known[1],
            TokenCounts(inp, output, read, write, one_hour),
            cost=cost,
            currency=None if cost is None else "USD",
            success=success,
            default_currency=self.default_currency,
        )
        price_ref = None
        if charge.price is not None:
            cost = charge.amount
            if cost is None or cost > MAX_COST:
                return self._general(line, project, record_id)
            price_ref = known[2]
        tags = self.tags.get(project)
        if tags is None:
            tags = self.tags[project] = dict(scrub_tags(_tags(project)))
        session_id = line.session_id
        if session_id is not None and len(session_id) >= MIN_SECRET:
            session_id = scrub(session_id)
        if request_id is not None and len(request_id) >= MIN_SECRET:
            request_id = scrub(request_id)
        # The completed record, its fields in order (keywords would cost four times as
        # much). Its id is hexadecimal (derived_id): scrubbing leaves it as it is, as it
        # does "anthropic" and "claude-code", too short to hold a secret.
        record = Incoming(
            1,  # v
            record_id,
            "call",  # kind
            timestamp,
            known[0],  # model
            "anthropic",  # provider
            None,  # user_id
            session_id,
            None,  # anchor_id
            FUNCTION,
            inp,
            read,  # cache_read_tokens
            write,  # cache_write_tokens
            output,
            0,  # reasoning_tokens
            one_hour or None,  # cache_write_1h_tokens
            inp + read + write + output,  # total_tokens
            cost,
            charge.currency,
            None,  # duration_ms
            None,  # ttfb_ms
            success,
            None,  # error_msg
            None,  # status_code
            request_id,
            None,  # api_key
            tags,
            None,  # request_bytes
            None,  # response_bytes
            self.host,
            price_ref,
            None,  # service_tier
        )
        return record_id, timestamp, _encoder.encode(record) + b"\n"

    def _model(self, model: str) -> tuple[str, Price | None, str | None] | None:
        """What :attr:`models` holds for ``model``, remembered (a few thousand names)."""
        if len(self.models) >= _MODELS:
            self.models.clear()
        known = None
        if model and not model[0].isspace() and not model[-1].isspace():
            scrubbed = scrub(model)
            entry = self.table.lookup(scrubbed)
            known = scrubbed, entry, None if entry is None else self.table.price_ref(entry)
        self.models[model] = known
        return known

    def _general(self, line: Line, project: str, record_id: str) -> tuple[str, float, bytes | None]:
        fields, _ = claude_record(line, project)
        assert fields is not None
        try:
            return record_id, *self.sink.prepare(fields)
        except AiusageError:
            return record_id, 0.0, None


_MODELS = 4096  # model names LineRecords remembers (as the pricing table's lookup does)
_encoder = msgspec.json.Encoder()  # as the bulk path's (aiusage.records.batch)


def _read_run(job: _Job, run: tuple[int, int]) -> _Part:
    # The per-line loop of every Claude Code import: checks are inlined, as a call per line
    # would cost more than the check.
    first, end = run
    offsets = job.offsets
    records = LineRecords(job.sink)
    progress = job.progress if first == 0 else None
    part = _Part()
    skipped = part.skipped
    events = part.events
    calls: set[Key] = set()
    done = 0
    for index in range(first, end):
        path, start = job.files[index], job.starts[index]
        project: str | None = None
        for raw in offsets.lines(path, start):
            part.lines += 1
            try:
                line = _decoder.decode(raw)
            except ValueError:  # msgspec's decode and validation errors, bad UTF-8
                key: Key | None = None
                reason = "malformed line"
            else:
                if project is None:
                    project = project_of(path, line.cwd)
                # A repeated line (one per content block, or a resumed session's replay)
                # is recognised by its message and request ids before any work is done.
                key = call_key(line)
                if key is not None and key in calls:
                    part.duplicates += 1
                    continue
                prepared = records.prepare(line, project)
                if isinstance(prepared, str):
                    reason = prepared
                else:
                    if key is not None:
                        calls.add(key)
                    events.append((key, "", *prepared))
                    continue
            if key is None and reason in skipped:
                skipped[reason] += 1
                continue
            if key is None:
                skipped[reason] = 0
            events.append((key, reason, "", 0.0, None))
        path_name = str(path)
        part.offsets[path_name] = offsets.updates[path_name]
        done += job.sizes[index]
        if progress is not None:
            progress(min(done * job.runs, job.total), job.total)
    return part


def _merge(part: _Part, result: ImportResult, sink: Sink, calls: set[Key]) -> None:
    """Add a run's outcome to ``result`` and ``sink``, as reading its lines after the
    runs before it gives."""
    result.files += len(part.offsets)
    result.lines += part.lines
    result.duplicates += part.duplicates
    for key, reason, record_id, timestamp, line in part.events:
        if key is not None:
            if key in calls:
                result.duplicates += 1
                continue
            if not reason:
                calls.add(key)
        if reason:
            result.skip(reason)
        elif sink.seen_before(record_id):
            continue
        elif line is None:
            result.skip("invalid record")
        else:
            sink.take(record_id, timestamp, line)
    for reason, count in part.skipped.items():
        if count:
            result.skipped[reason] += count
