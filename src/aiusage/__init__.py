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
    from aiusage.checks import remaining, would_exceed
    from aiusage.counters import counter
    from aiusage.extract import usage_from_response
    from aiusage.streams import usage_from_events
    from aiusage.tracking import configure, context, flush, incr, record, track, track_stream

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
    "record": "aiusage.tracking",
    "incr": "aiusage.tracking",
    "configure": "aiusage.tracking",
    "flush": "aiusage.tracking",
    "track_stream": "aiusage.tracking",
    "usage_from_events": "aiusage.streams",
    "remaining": "aiusage.checks",
    "would_exceed": "aiusage.checks",
    "counter": "aiusage.counters",
    "track": "aiusage.tracking",
    "context": "aiusage.tracking",
    "usage_from_response": "aiusage.extract",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aiusage' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
