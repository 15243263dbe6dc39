"""Bringing in usage logs written by other tools: Claude Code's and Codex CLI's session
logs, and any JSONL or CSV export mapped field by field onto the record schema. The engine
(ids, offsets, skipping what is stored) is :mod:`aiusage.importers.engine`.

Each importer's module loads on first use: importing Claude Code logs needs neither the
Codex importer nor the mapped one (nor the CSV and record readers they bring)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiusage.importers.claude_code import import_claude_code
    from aiusage.importers.codex import import_codex
    from aiusage.importers.engine import ImportResult
    from aiusage.importers.mapped import import_mapped, parse_mapping

__all__ = ["ImportResult", "import_claude_code", "import_codex", "import_mapped", "parse_mapping"]

_LAZY = {
    "ImportResult": "aiusage.importers.engine",
    "import_claude_code": "aiusage.importers.claude_code",
    "import_codex": "aiusage.importers.codex",
    "import_mapped": "aiusage.importers.mapped",
    "parse_mapping": "aiusage.importers.mapped",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aiusage.importers' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
