"""Reading YAML (pricing tables, ``config.yaml``), with the parsed documents kept in the
user's cache dir so that most runs never import PyYAML.

Importing PyYAML and parsing the packaged ``pricing.yaml`` take about 20 ms, a tenth of a
one-day report. A document that is plain JSON data is written, parsed, to
``$XDG_CACHE_HOME/aiusage/yaml/`` (else ``~/.cache/aiusage/yaml/``): one entry per source
file, holding the SHA-256 of the text it was parsed from. An entry is used only when that
hash matches the text read now, so an edited file is parsed again; an unreadable or foreign
entry is ignored and rewritten. Nothing breaks when the cache dir cannot be written.

Aliases are bounded: a document whose nodes, with every alias expanded, number more than
:data:`MAX_NODES` (a "billion laughs" of nested aliases), or that refers to itself, is
refused before it is built, in time and memory linear in its text.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from aiusage.errors import DataError
from aiusage.store.atomic import write_atomic
from aiusage.store.safepath import private_mkdir

FORMAT = "aiusage.yaml/1"
# The packaged pricing table has about 6,000 nodes; a hundred times that is still a
# plausible hand-written file, and a few MB of memory once built.
MAX_NODES = 1_000_000


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
    loader_class: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0] or "invalid YAML"
        raise YamlError(problem, mark.line + 1 if mark is not None else None) from None
    except RecursionError:
        raise YamlError("nested too deeply") from None
    finally:
        loader.dispose()


def _check_size(root: Any) -> None:
    """Raise :class:`YamlError` when the document under ``root``, its aliases expanded,
    has more than :data:`MAX_NODES` nodes or contains itself. An alias is the very node it
    names, so each distinct node is sized once (memoised) and the walk is linear."""
    sizes: dict[int, int] = {}
    # Post-order without recursion: (node, children done); a node on the stack but not
    # sized yet that comes up again is an ancestor of itself.
    stack: list[tuple[Any, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[key] > MAX_NODES:
                line = node.start_mark.line + 1 if node.start_mark is not None else None
                raise YamlError(
                    f"too many nodes once aliases are expanded (more than {MAX_NODES:,})", line
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            line = node.start_mark.line + 1 if node.start_mark is not None else None
            raise YamlError("an alias refers to the node that contains it", line)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: Any) -> list[Any]:
    """The nodes directly inside a sequence or mapping node (keys and values)."""
    value = node.value
    if not isinstance(value, list):
        return []
    if value and isinstance(value[0], tuple):
        return [item for pair in value for item in pair]
    return list(value)


def _store(entry: Path, value: dict[str, Any]) -> None:
    """Write a cache entry whole, only for documents JSON holds exactly: dates, sets or
    non-text keys would come back different."""
    try:
        data = orjson.dumps(value)
    except TypeError:
        return
    if orjson.loads(data) != value:
        return
    try:
        # Private like the data dir: config.yaml names users and keys.
        private_mkdir(entry.parent)
        write_atomic(entry, data, durable=False)
    except (OSError, DataError):
        pass  # no cache: the document is parsed again next time
