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
    from aiusage.records.extract import usage_from_response
    from aiusage.records.streams import usage_from_events
    from aiusage.records.tracking import (
        configure,
        context,
        flush,
        incr,
        record,
        track,
        track_stream,
    )
    from aiusage.views.checks import remaining, would_exceed
    from aiusage.views.counters import counter

__all__ = [
    "__version__",
    "configure",
    "context",
    "counter",
    "flush",
    "incr",
    "record",
    "remaining",
    "track",
    "track_stream",
    "usage_from_events",
    "usage_from_response",
    "would_exceed",
]

_LAZY = {
    "record": "aiusage.records.tracking",
    "incr": "aiusage.records.tracking",
    "configure": "aiusage.records.tracking",
    "flush": "aiusage.records.tracking",
    "track_stream": "aiusage.records.tracking",
    "usage_from_events": "aiusage.records.streams",
    "remaining": "aiusage.views.checks",
    "would_exceed": "aiusage.views.checks",
    "counter": "aiusage.views.counters",
    "track": "aiusage.records.tracking",
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
