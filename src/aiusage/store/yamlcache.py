"""Reading YAML (pricing tables, ``config.yaml``), with the parsed documents kept in the
user's cache dir so that most runs never import PyYAML.

Importing PyYAML and parsing the packaged ``pricing.yaml`` take about 20 ms, a tenth of a
one-day report. A document that is plain JSON data is written, parsed, to
``$XDG_CACHE_HOME/aiusage/yaml/`` (else ``~/.cache/aiusage/yaml/``): one entry per source
file, holding the SHA-256 of the text it was parsed from. An entry is used only when that
hash matches the text read now, so an edited file is parsed again; an unreadable or foreign
entry is ignored and rewritten. Nothing breaks when the cache dir cannot be written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

FORMAT = "aiusage.yaml/1"


class YamlError(ValueError):
    """Text that is not valid YAML: what is wrong, and where (1-based line) when known."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem if line is None else f"line {line}: {problem}")
        self.problem = problem
        self.line = line


def cache_dir() -> Path:
    """Where parsed documents are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aiusage" / "yaml"


def load_yaml(text: str, *, source: str | None = None) -> Any:
    """The document in ``text``, loaded safely (raises :class:`YamlError`). With ``source``
    (the file the text was read from), the parsed document is cached as described above."""
    if source is None:
        return _parse(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    where = os.path.abspath(source).encode(errors="surrogateescape")
    entry = cache_dir() / (hashlib.sha256(where).hexdigest()[:32] + ".json")
    try:
        cached = orjson.loads(entry.read_bytes())
        if cached["format"] == FORMAT and cached["text_sha256"] == digest:
            return cached["document"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        pass  # no entry yet, or one not to trust: parse again
    document = _parse(text)
    _store(entry, {"format": FORMAT, "text_sha256": digest, "document": document})
    return document


def _parse(text: str) -> Any:
    import yaml  # imported here: a cached document needs none of it

    # libyaml's loader when PyYAML was built with it: 6× faster, same result.
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0] or "invalid YAML"
        raise YamlError(problem, mark.line + 1 if mark is not None else None) from None


def _store(entry: Path, value: dict[str, Any]) -> None:
    """Write a cache entry whole (a temporary file renamed over it), only for documents
    JSON holds exactly: dates, sets or non-text keys would come back different."""
    try:
        data = orjson.dumps(value)
    except TypeError:
        return
    if orjson.loads(data) != value:
        return
    tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
    try:
        # Private like the data dir: config.yaml names users and keys.
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, entry)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
