"""Recording calls: turning fields into priced records and appending them to the store.

:func:`record` and :func:`track` are the Python API (``aiusage.record``,
``@aiusage.track``); they never raise into the caller's code — their own failures (bad data
dir, full disk, invalid field) are logged on the ``aiusage`` logger instead. The CLI's
``record`` command uses :func:`~aiusage.records.prepare.prepare` and :func:`write`, which
do raise.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import orjson

from aiusage.config import load_config
from aiusage.errors import AiusageError
from aiusage.pricing.table import PricingTable, load_table
from aiusage.records.background import BackgroundWriter
from aiusage.records.batch import Preparer
from aiusage.records.extract import usage_from_response
from aiusage.records.prepare import prepare
from aiusage.records.schema import Record, new_id, serialize
from aiusage.records.streams import AsyncTrackedStream, TrackedStream, is_stream
from aiusage.store.dayfiles import append_lines, day_of, day_path, ensure_data_dir, resolve_data_dir

logger = logging.getLogger("aiusage")

P = ParamSpec("P")
R = TypeVar("R")

_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "aiusage_context", default=None
)
_warned_models: set[str] = set()
_tables: dict[tuple[Path, float], PricingTable] = {}
_background: BackgroundWriter | None = None
_settings = {"background": os.environ.get("AIUSAGE_BACKGROUND", "") not in ("", "0")}


_ready_dirs: set[Path] = set()


def write(data_dir: Path, records: Iterable[Record]) -> int:
    """Append records to the files of their UTC days; the number written."""
    by_day: dict[Path, list[bytes]] = defaultdict(list)
    for rec in records:
        by_day[day_path(data_dir, day_of(rec["timestamp"]))].append(serialize(rec))
    _append(data_dir, by_day)
    return sum(len(v) for v in by_day.values())


def _append(data_dir: Path, by_day: Mapping[Path, list[bytes]]) -> None:
    if by_day and data_dir not in _ready_dirs:
        ensure_data_dir(data_dir)
        _ready_dirs.add(data_dir)
    for path, lines in sorted(by_day.items()):
        append_lines(path, lines)


_preparers: dict[tuple[PricingTable, str], Preparer] = {}


def _record_now(
    directory: Path, table: PricingTable, currency: str, fields: dict[str, Any]
) -> Record:
    """Validate, price and append one record through the bulk path (the same bytes as
    :func:`prepare` + :func:`write`, a third of the time); the record written."""
    # Set here, not by the shared Preparer, so threads never share an id or a clock reading.
    if fields.get("id") is None:
        fields["id"] = new_id()
    if fields.get("timestamp") is None:
        fields["timestamp"] = time.time()
    preparer = _preparers.get((table, currency))
    if preparer is None:
        preparer = _preparers[(table, currency)] = Preparer(
            table, default_currency=currency, now=0.0
        )
    out = bytearray()
    timestamp, _ = preparer.fields(fields, out)
    line = bytes(out)
    _append(directory, {day_path(directory, day_of(timestamp)): [line]})
    rec: Record = orjson.loads(line)
    return rec


RECHECK = 1.0  # seconds between looks at a data dir's pricing.yaml and config.yaml
_environments: dict[Any, tuple[float, Path, PricingTable, str]] = {}


def _environment(data_dir: str | os.PathLike[str] | None) -> tuple[Path, PricingTable, str]:
    """The data dir, pricing table and currency for recording there. Looked up again at
    most once a second, so a busy service does not stat config files on every call."""
    key = (data_dir, os.environ.get("AIUSAGE_HOME"))
    now = time.monotonic()
    hit = _environments.get(key)
    if hit is not None and now - hit[0] < RECHECK:
        return hit[1], hit[2], hit[3]
    directory = resolve_data_dir(data_dir)
    table = table_for(directory)
    currency = load_config(directory).currency or "USD"
    _environments[key] = (now, directory, table, currency)
    return directory, table, currency


def table_for(data_dir: Path) -> PricingTable:
    """The pricing table for ``data_dir``, cached while its ``pricing.yaml`` is unchanged."""
    override = data_dir / "pricing.yaml"
    try:
        stamp = override.stat().st_mtime
    except OSError:
        stamp = 0.0
    key = (data_dir, stamp)
    table = _tables.get(key)
    if table is None:
        table = _tables[key] = load_table(data_dir=data_dir)
    return table


@contextlib.contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (``user_id``, ``session_id``, ``tags``, ...) to every record made inside
    the block, in this thread or task."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def record(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    raise_errors: bool = False,
    **fields: Any,
) -> Record | None:
    """Record one call (fields as in SPEC.md §1) and return the record written.

    Errors are logged, and ``None`` returned, unless ``raise_errors`` is true: recording
    must never break the code it observes.
    """
    try:
        directory, table, currency = _environment(data_dir)
        merged = {**(_context.get() or {}), **fields}
        if _settings["background"]:
            rec = prepare(merged, table=table, default_currency=currency)
            _writer().submit(directory, rec)
        else:
            rec = _record_now(directory, table, currency, merged)
    except (AiusageError, OSError) as exc:
        if raise_errors:
            raise
        logger.error("aiusage: call not recorded: %s", exc)
        return None
    if rec.get("cost") is None and rec["kind"] == "call" and rec["model"] not in _warned_models:
        _warned_models.add(rec["model"])
        logger.warning("aiusage: no price for model %r: recorded with cost null", rec["model"])
    return rec


def configure(*, background: bool | None = None) -> None:
    """Process-wide settings of the Python API. ``background=True`` hands records to a
    writer thread (flushed at exit, or by :func:`flush`) instead of appending them in the
    caller's thread; ``$AIUSAGE_BACKGROUND=1`` sets it too. ``background=False`` writes
    what is queued and ends the thread."""
    if background is not None:
        _settings["background"] = background
        if not background and _background is not None:
            _background.close()


def flush(timeout: float | None = None) -> bool:
    """Wait until every record handed to the background writer is on disk; whether that
    happened within ``timeout`` seconds."""
    return _background.flush(timeout) if _background is not None else True


def _writer() -> BackgroundWriter:
    global _background
    if _background is None:
        _background = BackgroundWriter(write)
    return _background


def _failure_fields(exc: BaseException) -> dict[str, Any]:
    fields: dict[str, Any] = {"success": False, "error_msg": f"{type(exc).__name__}: {exc}"[:500]}
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
    if isinstance(status, int) and 100 <= status <= 599:
        fields["status_code"] = status
    return fields


def _result_fields(result: Any) -> dict[str, Any]:
    usage = usage_from_response(result)
    if usage is None:
        return {}
    if usage.guessed:
        logger.warning(
            "aiusage: token counts guessed (%s) from an unfamiliar response", usage.method
        )
    return usage.fields()


def _record_quietly(fields: dict[str, Any]) -> None:
    try:
        record(**fields)
    except Exception:  # never let tracking break the caller
        logger.exception("aiusage: call not recorded")


def _merge(outcome: dict[str, Any], static: dict[str, Any]) -> dict[str, Any]:
    """What a tracked call records: the outcome, overridden by the caller's own fields (a
    model name given to ``track`` wins over the response's); tags are merged."""
    merged = {**outcome, **static}
    tags = {**(outcome.get("tags") or {}), **(static.get("tags") or {})}
    if tags:
        merged["tags"] = tags
    merged.setdefault("model", "unknown")
    return merged


def _wrap_result(
    result: Any, start: float, finish: Callable[[dict[str, Any]], None], provider: str | None
) -> Any:
    """Record a finished call now, or hand back a stream that records when it ends."""
    if is_stream(result):
        cls = AsyncTrackedStream if hasattr(result, "__anext__") else TrackedStream
        return cls(result, finish, start=start, provider=provider)
    finish({**_result_fields(result), "duration_ms": (time.perf_counter() - start) * 1000})
    return result


def track(
    *,
    function: str | None = None,
    model: str | None = None,
    user_id: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a sync or async function that calls a model.

    Each call is recorded with its duration and the usage read from the returned response
    (every provider of :mod:`aiusage.records.extract`). A returned stream is passed through chunk by
    chunk and recorded once when it ends, fails or is abandoned, with time to first chunk.
    A call that raises is recorded as a failure with the exception's message, and the
    exception re-raised. Recording never raises into the caller.
    """
    static = {
        k: v
        for k, v in {"function": function, "model": model, "user_id": user_id, **fields}.items()
        if v is not None
    }
    provider = static.get("provider")

    def decorator(fn: Callable[P, R]) -> Callable[P, R]:
        def finish(outcome: dict[str, Any]) -> None:
            merged = _merge(outcome, static)
            merged.setdefault("function", fn.__qualname__)
            _record_quietly({**merged, "data_dir": data_dir})

        def failed(start: float, exc: BaseException) -> None:
            finish({**_failure_fields(exc), "duration_ms": (time.perf_counter() - start) * 1000})

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                start = time.perf_counter()
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    failed(start, exc)
                    raise
                return _wrap_result(result, start, finish, provider)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                failed(start, exc)
                raise
            return cast(R, _wrap_result(result, start, finish, provider))

        return wrapper

    return decorator


def track_stream(
    stream: Any,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> Any:
    """Wrap a stream you already started (sync or async): its chunks pass through unchanged
    and one record is written when it ends, fails or is abandoned. Call it right after
    starting the request, so the time to first chunk is measured from there."""
    static = {k: v for k, v in fields.items() if v is not None}

    def finish(outcome: dict[str, Any]) -> None:
        _record_quietly({**_merge(outcome, static), "data_dir": data_dir})

    cls = (
        AsyncTrackedStream
        if hasattr(stream, "__anext__") or hasattr(stream, "__aiter__")
        else TrackedStream
    )
    return cls(stream, finish, provider=static.get("provider"))


def incr(
    key: str,
    n: int = 1,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    raise_errors: bool = False,
    **fields: Any,
) -> Record | None:
    """Add ``n`` to the counter ``key`` (SPEC §4): appends a counter record. Like
    :func:`record`, errors are logged unless ``raise_errors``."""
    return record(
        kind="counter", key=key, n=n, data_dir=data_dir, raise_errors=raise_errors, **fields
    )
