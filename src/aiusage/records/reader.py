"""The typed rows the pass decodes lines into: the full :class:`Row`, the narrow row of each
query (only the fields it reads), and the slow paths for lines the decoder refuses — the
tolerant one (a byte-order mark, bytes that are not UTF-8) and the one that explains why a
line is not a record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
import orjson

from aiusage.engine.rollup import Query, dimension_field
from aiusage.records.schema import MAX_COUNT, MAX_TIMESTAMP, check_read

BOM = b"\xef\xbb\xbf"

Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
Amount = Annotated[float, msgspec.Meta(ge=0)]


class Row(msgspec.Struct, gc=False):
    """The fields of a record the pass reads, typed as :func:`aiusage.records.schema.check_read`
    accepts them: decoding and validating in one C call is what makes the pass fast.
    Fields the views group by are ``Any``: reading is tolerant of foreign files."""

    timestamp: Annotated[float, msgspec.Meta(ge=0, le=MAX_TIMESTAMP)]
    id: Any = None
    model: Any = None
    kind: Any = "call"
    input_tokens: Count | None = 0
    output_tokens: Count | None = 0
    cache_read_tokens: Count | None = 0
    cache_write_tokens: Count | None = 0
    cache_write_1h_tokens: Count | None = 0
    reasoning_tokens: Count | None = 0
    cost: Amount | None = None
    currency: str | None = None
    duration_ms: Amount | None = None
    ttfb_ms: Amount | None = None
    success: bool = True
    user_id: Any = None
    session_id: Any = None
    anchor_id: Any = None
    function: Any = None
    provider: Any = None
    api_key: Any = None
    service_tier: Any = None
    tags: dict[str, Any] | None = None
    key: Any = None
    n: Any = 1

    def get(self, name: str, default: Any = None) -> Any:
        """Mapping-style access, for code that reads records of either kind."""
        value = getattr(self, name, default)
        return default if value is None else value


ROW_DECODER = msgspec.json.Decoder(Row)


class Shape(msgspec.Struct, gc=False):
    """Any JSON object, its members skipped: ``tags`` in a pass that does not read them is
    still checked to be an object (as every pass checks it) without building a dict."""


# What every pass reads: the metrics, what prices a record (``service_tier``: batch rates),
# and what decides whether a line is a call.
READ_ALWAYS = frozenset(
    {
        "timestamp",
        "model",
        "kind",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "reasoning_tokens",
        "cost",
        "currency",
        "duration_ms",
        "ttfb_ms",
        "success",
        "service_tier",
    }
)


def fields_read(query: Query, *, accounts: bool = False, dedupe: bool = False) -> frozenset[str]:
    """The :class:`Row` fields a pass of ``query`` reads, beyond :data:`READ_ALWAYS`: the
    grouped, filtered and interval dimensions (``tags`` for a tag), ``user_id`` and
    ``api_key`` for account multipliers, ``id`` when deduplicating, counter fields."""
    names = {dimension_field(d) for d in (*query.dims, *query.filters.fields)}
    if query.intervals_by:
        names.add(dimension_field(query.intervals_by))
    fields = {"tags" if n.startswith("tag:") else n for n in names}
    if query.filters.tags:
        fields.add("tags")
    if accounts:
        fields |= {"user_id", "api_key"}
    if dedupe:
        fields.add("id")
    if query.counters:
        fields |= {"key", "n"}
    return frozenset(fields)


@functools.lru_cache(maxsize=32)
def row_decoder(fields: frozenset[str]) -> msgspec.json.Decoder[Any]:
    """A decoder of lines into rows that hold only ``fields`` and :data:`READ_ALWAYS`
    (typed as in :class:`Row`): msgspec skips the other members without building them,
    which saves a third of the decoding of a narrow report."""
    wanted = fields | READ_ALWAYS
    if wanted.issuperset(Row.__struct_fields__):
        return ROW_DECODER
    specs: list[tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(Row):
        if info.name in wanted:
            specs.append((info.name, info.type, info.default))
        elif info.name == "tags":
            specs.append(("tags", Shape | None, None))
    narrow = msgspec.defstruct("Row", specs, gc=False, namespace={"get": Row.get})
    return msgspec.json.Decoder(narrow)


def decode_tolerant(decode: Callable[[bytes], Any], line: bytes) -> Any | None:
    """The row of a line the typed decoder refused for its form alone — a byte-order mark
    some editors leave in front, bytes that are not UTF-8 (read as U+FFFD: reading is
    tolerant, and a narrow row never looks at the members it skips) — else ``None``."""
    line = line.removeprefix(BOM)
    try:
        return decode(line)
    except ValueError:  # msgspec's decode and validation errors, bad UTF-8
        pass
    try:
        line.decode()
    except UnicodeDecodeError:
        try:
            return decode(line.decode(errors="replace").encode())
        except ValueError:
            return None
    return None


def why_skipped(line: bytes) -> str:
    """Why a line the typed decoder refused is not a record (the slow, explaining path)."""
    try:
        obj = orjson.loads(line.removeprefix(BOM).decode(errors="replace"))
    except orjson.JSONDecodeError:
        return "torn last line (incomplete write)" if not line.endswith(b"\n") else "bad JSON"
    return check_read(obj) or "not a valid record"
