"""The module-level Python API: ``aiusage.record()``, ``incr()``, ``@track``,
``track_stream()``, ``remaining()``, ``would_exceed()`` and ``counter()``, each over the
default workspace of its ``data_dir`` (:func:`aiusage.workspace.default_workspace`).

``record`` and ``track`` never raise into the caller's code: their own failures (bad data
dir, full disk, invalid field) are logged on the ``aiusage`` logger instead.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from aiusage.errors import AiusageError
from aiusage.records.extract import usage_from_response
from aiusage.records.prepare import prepare
from aiusage.records.schema import Record
from aiusage.records.secrets import scrub_cut
from aiusage.records.streams import AsyncTrackedStream, TrackedStream, is_stream
from aiusage.records.tracking import in_background, submit, with_context
from aiusage.workspace import default_workspace

logger = logging.getLogger("aiusage")

P = ParamSpec("P")
R = TypeVar("R")

WARNED_KEPT = 1024  # unpriced model names warned about once
_warned_models: set[str] = set()


def record(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    raise_errors: bool = False,
    **fields: Any,
) -> Record | None:
    """Record one call (the fields of README's "The record") and return the record written.

    Errors are logged, and ``None`` returned, unless ``raise_errors`` is true: recording
    must never break the code it observes.
    """
    try:
        workspace = default_workspace(data_dir)
        merged = with_context(fields)
        if in_background():
            rec = prepare(
                merged, table=workspace.pricing, default_currency=workspace.default_currency
            )
            submit(workspace.data_dir, rec)
        else:
            rec = workspace.record(**merged)
    except (AiusageError, OSError) as exc:
        if raise_errors:
            raise
        logger.error("aiusage: call not recorded: %s", exc)
        return None
    except Exception as exc:  # a value no check foresaw: still never break the caller
        if raise_errors:
            raise
        logger.error("aiusage: call not recorded: %s: %s", type(exc).__name__, exc)
        return None
    if rec.get("cost") is None and rec["kind"] == "call" and rec["model"] not in _warned_models:
        if len(_warned_models) >= WARNED_KEPT:
            _warned_models.clear()  # bounded: a service that invents model names warns again
        _warned_models.add(rec["model"])
        logger.warning("aiusage: no price for model %r: recorded with cost null", rec["model"])
    return rec


def _failure_fields(exc: BaseException) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "success": False,
        "error_msg": scrub_cut(f"{type(exc).__name__}: {exc}", 500),
    }
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
    """Add ``n`` to the counter ``key``: appends a counter record. Like
    :func:`record`, errors are logged unless ``raise_errors``."""
    return record(
        kind="counter", key=key, n=n, data_dir=data_dir, raise_errors=raise_errors, **fields
    )


def remaining(
    *,
    user_id: str | None = None,
    key: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    max_age: float = 5.0,
) -> dict[str, float]:
    """What is left of each limit of ``config.yaml`` that applies to a call by ``user_id``
    with ``key`` (the budgets, the user's quotas, the key's limits), in the report currency;
    negative when already exceeded. Answers from the same rollups as ``aiusage check``, and
    remembers them for ``max_age`` seconds, so it is cheap enough to ask per request."""
    workspace = default_workspace(data_dir)
    return workspace.remaining(user_id=user_id, key=key, max_age=max_age)


def would_exceed(
    cost: float,
    *,
    user_id: str | None = None,
    key: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    max_age: float = 5.0,
) -> bool:
    """Whether spending ``cost`` more now would go over any limit that applies (see
    :func:`remaining`): refuse the call before it is made."""
    workspace = default_workspace(data_dir)
    return workspace.would_exceed(cost, user_id=user_id, key=key, max_age=max_age)


def counter(
    key: str,
    *,
    since: str | None = None,
    until: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    tz: str | None = None,
) -> int:
    """The value of counter ``key`` over a range (default: all time): what was counted with
    ``incr`` plus what call records imply (``api.total_requests``, ...). Days are those of
    ``tz``, else of ``config.yaml``'s zone, else the machine's."""
    from aiusage.store.dayfiles import require_data_dir
    from aiusage.workspace import Workspace

    workspace = default_workspace(data_dir) if tz is None else Workspace(data_dir, tz=tz)
    require_data_dir(workspace.data_dir)
    return workspace.counter(key, since=since, until=until)
