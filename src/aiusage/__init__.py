"""aiusage: record every AI/LLM API call and see what it costs.

The Python API::

    import aiusage

    aiusage.record(model="gpt-4o", input_tokens=1200, output_tokens=300, user_id="alice")

    @aiusage.track(function="summarise")
    def summarise(text): ...

Heavy modules load on first use, so ``import aiusage`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiusage._version import __version__

if TYPE_CHECKING:
    from aiusage.api import counter, incr, record, remaining, track, track_stream, would_exceed
    from aiusage.records.extract import usage_from_response
    from aiusage.records.streams import usage_from_events
    from aiusage.records.tracking import configure, context, flush
    from aiusage.workspace import Workspace, open

__all__ = [
    "Workspace",
    "__version__",
    "configure",
    "context",
    "counter",
    "flush",
    "incr",
    "open",
    "record",
    "remaining",
    "track",
    "track_stream",
    "usage_from_events",
    "usage_from_response",
    "would_exceed",
]

_LAZY = {
    "open": "aiusage.workspace",
    "Workspace": "aiusage.workspace",
    "record": "aiusage.api",
    "incr": "aiusage.api",
    "configure": "aiusage.records.tracking",
    "flush": "aiusage.records.tracking",
    "track_stream": "aiusage.api",
    "usage_from_events": "aiusage.records.streams",
    "remaining": "aiusage.api",
    "would_exceed": "aiusage.api",
    "counter": "aiusage.api",
    "track": "aiusage.api",
    "context": "aiusage.records.tracking",
    "usage_from_response": "aiusage.records.extract",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aiusage' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
