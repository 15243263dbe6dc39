"""Streamed responses: reading usage from a stream of events, and wrapping a stream so that
its caller gets every chunk unchanged while one record is written when it ends.

:class:`StreamUsage` understands OpenAI chunks (``stream_options.include_usage``: the last
chunk carries ``usage``), OpenAI Responses events (``response.completed``), Anthropic events
(``message_start`` then ``message_delta``, whose usage is *cumulative*: it overwrites, never
adds), Gemini chunks (each carries the cumulative ``usageMetadata``: the last wins), Bedrock
ConverseStream ``metadata`` events, and error events arriving mid-stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any

import orjson

from aiusage.records.extract import Usage, get, text, usage_from_response
from aiusage.records.secrets import scrub_cut

Finish = Callable[[dict[str, Any]], None]


class StreamUsage:
    """Accumulates the usage of one streamed call, event by event."""

    def __init__(self, *, provider: str | None = None) -> None:
        self.provider = provider
        self.usage: Usage | None = None
        self.model: str | None = None
        self.request_id: str | None = None
        self.error: Usage | None = None
        self._anthropic: dict[str, Any] = {}

    def feed(self, event: Any) -> None:
        """Take one event or chunk into account. Never raises."""
        try:
            self._feed(event)
        except Exception:
            return

    def _feed(self, event: Any) -> None:
        kind = get(event, "type")
        if kind == "message_start":
            message = get(event, "message")
            self.model = text(get(message, "model")) or self.model
            self.request_id = text(get(message, "id")) or self.request_id
            self._anthropic_usage(get(message, "usage"))
            return
        if kind == "message_delta":
            self._anthropic_usage(get(event, "usage"))
            return
        if kind == "error" or (kind is None and get(event, "error") is not None):
            self.error = usage_from_response(event, provider=self.provider)
            return
        if isinstance(kind, str) and kind.startswith("response."):
            response = get(event, "response")
            if response is not None and get(response, "usage") is not None:
                self.usage = usage_from_response(response, provider=self.provider)
            elif response is not None:
                self.model = text(get(response, "model")) or self.model
            if kind == "response.failed":
                err = get(response, "error")
                self.error = Usage(
                    success=False,
                    error_msg=text(get(err, "message")) or "response failed",
                    method="error",
                )
            return
        metadata = get(event, "metadata")
        if metadata is not None and get(metadata, "usage") is not None:
            self.usage = usage_from_response(metadata, provider=self.provider or "bedrock")
            return
        self.model = text(get(event, "model", "modelVersion", "model_version")) or self.model
        self.request_id = text(get(event, "id", "responseId", "response_id")) or self.request_id
        if (
            get(event, "usage") is not None
            or get(event, "usageMetadata", "usage_metadata") is not None
        ):
            found = usage_from_response(event, provider=self.provider)
            if found is not None:
                self.usage = found

    def _anthropic_usage(self, usage: Any) -> None:
        if usage is None:
            return
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "cache_creation",
        ):
            value = get(usage, name)
            if value is not None:
                self._anthropic[name] = value  # cumulative: the latest value wins
        self.usage = usage_from_response(
            {"usage": self._anthropic}, provider=self.provider or "anthropic"
        )

    def result(self) -> Usage:
        """The usage of the call so far (a failure if an error event arrived)."""
        usage = self.usage or Usage(provider=self.provider, method="stream")
        usage = replace(
            usage, model=usage.model or self.model, request_id=usage.request_id or self.request_id
        )
        if self.error is not None:
            usage = replace(
                usage,
                success=False,
                error_msg=self.error.error_msg,
                status_code=self.error.status_code,
            )
        return usage


def usage_from_events(events: Any, *, provider: str | None = None) -> Usage:
    """The usage of a whole recorded stream (an iterable of events)."""
    acc = StreamUsage(provider=provider)
    for event in events:
        acc.feed(event)
    return acc.result()


class _Timing:
    """Times a stream: when it started, when the first chunk came, and records it once."""

    def __init__(self, finish: Finish, start: float, provider: str | None) -> None:
        self.finish = finish
        self.start = start
        self.first: float | None = None
        self.acc = StreamUsage(provider=provider)
        self.done = False

    def chunk(self, chunk: Any) -> None:
        if self.first is None:
            self.first = time.perf_counter()
        self.acc.feed(chunk)

    def end(self, exc: BaseException | None = None, *, abandoned: bool = False) -> None:
        if self.done:
            return
        self.done = True
        fields: dict[str, Any] = self.acc.result().fields()
        fields["duration_ms"] = (time.perf_counter() - self.start) * 1000
        if self.first is not None:
            fields["ttfb_ms"] = (self.first - self.start) * 1000
        if exc is not None:
            fields.update(success=False, error_msg=scrub_cut(f"{type(exc).__name__}: {exc}", 500))
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and 100 <= status <= 599:
                fields["status_code"] = status
        elif abandoned and fields.get("success", True):
            fields.setdefault("tags", {})["stream"] = "abandoned"
        self.finish(fields)


class TrackedStream:
    """A synchronous stream that passes every chunk through unchanged and records the call
    once it ends, fails, is closed or is dropped. Other attributes go to the wrapped stream."""

    def __init__(
        self,
        stream: Any,
        finish: Finish,
        *,
        start: float | None = None,
        provider: str | None = None,
    ) -> None:
        self._stream = stream
        self._iter: Iterator[Any] | None = None
        self._timing = _Timing(finish, time.perf_counter() if start is None else start, provider)

    def __iter__(self) -> TrackedStream:
        return self

    def __next__(self) -> Any:
        if self._iter is None:
            self._iter = iter(self._stream)
        try:
            chunk = next(self._iter)
        except StopIteration:
            self._timing.end()
            raise
        except BaseException as exc:
            self._timing.end(exc)
            raise
        self._timing.chunk(chunk)
        return chunk

    def close(self) -> None:
        """Close the wrapped stream; an unfinished call is recorded as abandoned."""
        self._timing.end(abandoned=True)
        closer = getattr(self._stream, "close", None)
        if callable(closer):
            closer()

    def __enter__(self) -> TrackedStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self._timing.end(abandoned=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class AsyncTrackedStream:
    """The asynchronous counterpart of :class:`TrackedStream`."""

    def __init__(
        self,
        stream: Any,
        finish: Finish,
        *,
        start: float | None = None,
        provider: str | None = None,
    ) -> None:
        self._stream = stream
        self._iter: AsyncIterator[Any] | None = None
        self._timing = _Timing(finish, time.perf_counter() if start is None else start, provider)

    def __aiter__(self) -> AsyncTrackedStream:
        return self

    async def __anext__(self) -> Any:
        if self._iter is None:
            self._iter = self._stream.__aiter__()
        try:
            chunk = await self._iter.__anext__()
        except StopAsyncIteration:
            self._timing.end()
            raise
        except BaseException as exc:
            self._timing.end(exc)
            raise
        self._timing.chunk(chunk)
        return chunk

    async def aclose(self) -> None:
        """Close the wrapped stream; an unfinished call is recorded as abandoned."""
        self._timing.end(abandoned=True)
        closer = getattr(self._stream, "aclose", None) or getattr(self._stream, "close", None)
        if callable(closer):
            result = closer()
            if hasattr(result, "__await__"):
                await result

    async def __aenter__(self) -> AsyncTrackedStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    def __del__(self) -> None:
        self._timing.end(abandoned=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def is_stream(value: Any) -> bool:
    """Whether a function's result is a stream to wrap (an iterator of chunks, not a whole
    response)."""
    if isinstance(value, str | bytes | dict | list | tuple) or get(value, "usage") is not None:
        return False
    return hasattr(value, "__next__") or hasattr(value, "__anext__")


def _events(raw: bytes) -> list[Any]:
    """The JSON events of a JSONL or server-sent-events transcript (``data: {...}`` lines;
    ``event:`` lines, blank lines and ``[DONE]`` are skipped)."""
    events = []
    for raw_line in raw.splitlines():
        line = raw_line.strip()
        if line.startswith(b"data:"):
            line = line[5:].strip()
        if not line or line == b"[DONE]" or line.startswith((b"event:", b"id:", b":")):
            continue
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return events


def usage_from_payload(raw: bytes, *, provider: str | None = None) -> Usage | None:
    """The usage in a saved response: one JSON body, a JSON array or JSONL/SSE transcript of
    stream events, or failing those, any text (the regex fallback)."""
    try:
        whole = orjson.loads(raw)
    except orjson.JSONDecodeError:
        events = _events(raw)
        if events:
            return usage_from_events(events, provider=provider)
        return usage_from_response(raw, provider=provider)
    if isinstance(whole, list):
        return usage_from_events(whole, provider=provider)
    return usage_from_response(whole, provider=provider)
