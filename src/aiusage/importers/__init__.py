"""Bringing in usage logs written by other tools: Claude Code's and Codex CLI's session
logs, and any JSONL or CSV export mapped field by field onto the record schema. The engine
(ids, offsets, skipping what is stored) is :mod:`aiusage.importers.engine`."""

from aiusage.importers.claude_code import import_claude_code
from aiusage.importers.codex import import_codex
from aiusage.importers.engine import ImportResult
from aiusage.importers.mapped import import_mapped, parse_mapping

__all__ = ["ImportResult", "import_claude_code", "import_codex", "import_mapped", "parse_mapping"]
