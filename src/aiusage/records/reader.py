"""The one reader of day files. Every command that reads records — reports and exports (the
pass), ``logs``, the Parquet export, ``reprice``, ``doctor``, ``watch``, the id checks of
imports and ``record --batch`` — reads lines here, so all of them accept the same lines and
skip the others for the same reasons (README "The record (JSONL schema v1)").

A line is decoded into a typed row — the full :class:`Row`, or the narrow row of the fields a
pass reads — whose types are the reading rules: decoding and validating in one C call is what
makes the pass fast. A line the typed decoder refuses takes the tolerant path (a byte-order
mark in front, bytes that are not UTF-8, a counter without a model) and, when it is not a
record after all, the explaining one (:func:`why_skipped`). Which fields a row holds never
changes which lines are records. Commands that need whole records get every member of the
accepted lines, as dicts (:meth:`DayReader.records`, :meth:`LineReader.record`).
"""

from __future__ import annotations

import functools
import math
import re
import time
import types
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import msgspec
import orjson

from aiusage.bounds import MAX_COST, MAX_DURATION_MS, MAX_TIMESTAMP, MAX_TOKENS, MIN_TIMESTAMP
from aiusage.errors import DataError
from aiusage.records.schema import FIELD_ORDER, Record, check_read, counter_ok
from aiusage.records.skipped import Skipped
from aiusage.store.dayfiles import DAY_SECONDS, DayFile, day_of, is_open, open_data, settled_size

BOM = b"\xef\xbb\xbf"
# An integer of more digits than msgspec (and Python) convert, as a member or an item:
# read as a number beyond a float, like 1e999, by every decoder alike (README "The record").
_HUGE_INT = re.compile(rb"(?<=[:\[,])(\s*)(-?)[0-9]{4301,}")


def _huge_ints_as_infinite(line: bytes) -> bytes:
    """``line`` with each integer no decoder can hold written as 1e999 (keeping its sign)."""
    return _HUGE_INT.sub(rb"\1\g<2>1e999", line)


# The types are the bounds of README "The record" (:mod:`aiusage.bounds`), checked in C.
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
Cost = Annotated[float, msgspec.Meta(ge=0, le=MAX_COST)]
Duration = Annotated[float, msgspec.Meta(ge=0, le=MAX_DURATION_MS)]
# What a call must name. The fast decoder asks it of every line, and reads calls only:
# counters take the tolerant path, where the rule depends on ``kind``.
Model = Annotated[str, msgspec.Meta(min_length=1)]

TORN = "torn last line (incomplete write)"


class Row(msgspec.Struct, gc=False):
    """The fields of a record the commands read, typed as a record's must be to be read.
    Fields the views group by are ``Any``: reading is tolerant of foreign files."""

    timestamp: Annotated[float, msgspec.Meta(ge=MIN_TIMESTAMP, lt=MAX_TIMESTAMP)]
    id: Any = None
    model: Any = None
    kind: Literal["call", "counter"] = "call"
    input_tokens: Count | None = 0
    output_tokens: Count | None = 0
    cache_read_tokens: Count | None = 0
    cache_write_tokens: Count | None = 0
    cache_write_1h_tokens: Count | None = 0
    reasoning_tokens: Count | None = 0
    cost: Cost | None = None
    currency: str | None = None
    duration_ms: Duration | None = None
    ttfb_ms: Duration | None = None
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
    # Written by the Parquet export only (its columns): no pass reads them.
    status_code: Any = None
    host: Any = None

    def get(self, name: str, default: Any = None) -> Any:
        """Mapping-style access, for code that reads records of either kind."""
        value = getattr(self, name, default)
        return default if value is None else value


ALL_FIELDS = frozenset(Row.__struct_fields__)


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
# What decides whether a counter is one: read by the tolerant decoder, which every counter
# takes (the fast one reads calls only).
COUNTER_FIELDS = frozenset({"key", "n"})
# The field whose default stands in for a member a line lacks by more than "none": a call
# without ``success`` succeeded. Read as recorded (the Parquet export), it is UNSET instead.
RECORDED_DEFAULTS = frozenset({"success"})


def _decoder(
    fields: frozenset[str], *, fast: bool, as_recorded: bool = False
) -> msgspec.json.Decoder[Any]:
    """A decoder of lines into rows holding ``fields`` and :data:`READ_ALWAYS`, typed as in
    :class:`Row` (with ``fast``, calls only, their model as a call's must be; else with
    :data:`COUNTER_FIELDS` too). With ``as_recorded``, the fields of
    :data:`RECORDED_DEFAULTS` that a line lacks read as :data:`msgspec.UNSET` (their types,
    and so which lines are records, stay the same)."""
    specs: list[tuple[str, Any, Any]] = []
    wanted = fields | READ_ALWAYS | (frozenset() if fast else COUNTER_FIELDS)
    # In the order records are written: msgspec finds each member's field at once when the
    # next member is the next field (a twentieth of the decoding).
    for info in sorted(msgspec.structs.fields(Row), key=lambda f: FIELD_ORDER.index(f.name)):
        if as_recorded and info.name in RECORDED_DEFAULTS:
            specs.append((info.name, info.type | msgspec.UnsetType, msgspec.UNSET))
        elif fast and info.name == "model":
            specs.append(("model", Model, msgspec.NODEFAULT))
        elif fast and info.name == "kind":
            specs.append(("kind", Literal["call"], "call"))
        elif info.name in wanted:
            specs.append((info.name, info.type, info.default))
        elif info.name == "tags":
            specs.append(("tags", Shape | None, None))
    row = msgspec.defstruct("Row", specs, gc=False, kw_only=True, namespace={"get": Row.get})
    # A number beyond a float (1e999) in an untyped field reads as infinity, as it does where
    # a narrow row skips that field: the fields a row holds never decide what is a record.
    return msgspec.json.Decoder(row, float_hook=float)


ROW_DECODER = _decoder(ALL_FIELDS, fast=True)


@functools.lru_cache(maxsize=32)
def row_decoder(fields: frozenset[str], *, as_recorded: bool = False) -> msgspec.json.Decoder[Any]:
    """The fast decoder of lines into rows that hold only ``fields`` and :data:`READ_ALWAYS`:
    msgspec skips the other members without building them, which saves a third of the
    decoding of a narrow report. A line it refuses may still be a record
    (:meth:`LineReader.refused`). ``as_recorded``: see :func:`_decoder`."""
    if (fields | READ_ALWAYS).issuperset(ALL_FIELDS) and not as_recorded:
        return ROW_DECODER
    return _decoder(fields, fast=True, as_recorded=as_recorded)


class LineReader:
    """Lines into rows of ``fields`` (and :data:`READ_ALWAYS`), by the one rule of what a
    record is."""

    __slots__ = ("_tolerant", "decode")

    def __init__(self, fields: frozenset[str], *, as_recorded: bool = False) -> None:
        self.decode: Callable[[bytes], Any] = row_decoder(fields, as_recorded=as_recorded).decode
        self._tolerant: Callable[[bytes], Any] = _decoder(
            fields, fast=False, as_recorded=as_recorded
        ).decode

    def row(self, line: bytes) -> Any | None:
        """The row of a line, or ``None`` when it is not a record."""
        try:
            return self.decode(line)
        except Exception:  # msgspec's errors, nesting too deep: whatever a line may raise
            return self.refused(line)

    def refused(self, line: bytes) -> Any | None:
        """The row of a line :attr:`decode` refused, when it is a record after all — a
        byte-order mark some editors leave in front, bytes that are not UTF-8 (read as
        U+FFFD: a narrow row never looks at the members it skips), a counter with a key
        and a whole ``n`` — else ``None``."""
        line = _huge_ints_as_infinite(line.removeprefix(BOM))
        try:
            row = self._tolerant(line)
        except Exception:  # whatever a line may raise: it is not a record, or not UTF-8
            row = self._replaced(line)
            if row is None:
                return None
        if row.kind == "call":
            if type(row.model) is not str or not row.model:
                return None
        elif not counter_ok(row.key, row.n):
            return None
        return row

    def _replaced(self, line: bytes) -> Any | None:
        """The row of a line whose bytes are not all UTF-8, read as U+FFFD, else ``None``."""
        try:
            line.decode()
        except UnicodeDecodeError:
            try:
                return self._tolerant(line.decode(errors="replace").encode())
            except Exception:  # whatever a line may raise: it is not a record
                return None
        return None

    def record(self, line: bytes) -> Record | None:
        """The whole record of a line (every member), or ``None`` when it is not a record."""
        return None if self.row(line) is None else whole_record(line)


@functools.lru_cache(maxsize=32)
def line_reader(fields: frozenset[str] = frozenset(), *, as_recorded: bool = False) -> LineReader:
    """The :class:`LineReader` of rows holding ``fields`` (shared: readers hold no state);
    ``as_recorded``: see :func:`_decoder`."""
    return LineReader(fields, as_recorded=as_recorded)


_UNTYPED = msgspec.json.Decoder(float_hook=float)


def whole_record(line: bytes) -> Record:
    """Every member of a line its row accepted, as :mod:`orjson` reads them (integers beyond
    64 bits as floats), with a byte-order mark dropped and bytes that are not UTF-8 read as
    U+FFFD, as the row read them."""
    try:
        rec: Record = orjson.loads(line)
        return rec
    except orjson.JSONDecodeError:
        pass
    text = line.removeprefix(BOM).decode(errors="replace")
    try:
        rec = orjson.loads(text)
    except orjson.JSONDecodeError:
        # A number beyond a float (1e999) in a member the row read as infinity.
        members = _UNTYPED.decode(_huge_ints_as_infinite(text.encode()))
        try:
            rec = {k: in_64_bits(v) for k, v in members.items()}
        except RecursionError:  # nested nearly as deep as the reader reads: kept as read
            rec = members
    return rec


def in_64_bits(value: Any) -> Any:
    """``value`` with integers beyond 64 bits as floats, as :mod:`orjson` reads them (and can
    write them again)."""
    if isinstance(value, dict):
        return {k: in_64_bits(v) for k, v in value.items()}
    if isinstance(value, list):
        return [in_64_bits(v) for v in value]
    if type(value) is int and not -(2**63) <= value < 2**64:
        return float(value)
    return value


def why_skipped(line: bytes) -> str:
    """Why a line that is not a record is not one (the slow, explaining path)."""
    text = line.removeprefix(BOM).decode(errors="replace")
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            obj = _UNTYPED.decode(text)  # a number beyond a float (1e999) reads as infinity
        except Exception:  # whatever a line may raise: it is not JSON
            return TORN if not line.endswith(b"\n") else "bad JSON"
    reason = check_read(obj)
    if reason is not None:
        return reason
    try:
        _UNTYPED.decode(text)
    except RecursionError:
        return "nested too deeply"
    except Exception as exc:  # whatever else made the typed reader refuse it
        return f"not a valid record ({type(exc).__name__})"
    return "not a valid record"


class DayReader:
    """The records of one day file, in file order, from byte ``start`` (a line start; by default
    the file's :attr:`~aiusage.store.dayfiles.DayFile.begin`) up to byte ``end`` (``None``: its
    end); lines that are not records are counted in ``skipped`` with their file, line number and
    why. Only what was written when reading began is read: a write in progress is never half
    read. With ``complete_lines_only``, a last line without its newline is left for later (a
    writer may be in the middle of it); by default, when the file may still be appended to
    (:func:`~aiusage.store.dayfiles.is_open`). With ``misplaced``, records whose timestamp is
    not on the file's day are noted there.

    Iterating gives rows of ``fields`` (:class:`Row`'s names; with ``as_recorded``, see
    :func:`_decoder`); :meth:`records` gives the same records whole. After either,
    :attr:`offset` is the byte read up to. Used as a context manager, the file is closed on
    leaving it even when reading stopped midway.
    """

    def __init__(
        self,
        day_file: DayFile,
        skipped: Skipped,
        *,
        fields: frozenset[str] = frozenset(),
        start: int | None = None,
        end: int | None = None,
        complete_lines_only: bool | None = None,
        misplaced: Skipped | None = None,
        as_recorded: bool = False,
    ) -> None:
        self.day_file = day_file
        self.skipped = skipped
        self.reader = line_reader(fields, as_recorded=as_recorded)
        start = day_file.begin if start is None else start
        self.start = start
        self.end = end
        if complete_lines_only is None:
            complete_lines_only = is_open(day_file, day_of(time.time()))
        self.complete_lines_only = complete_lines_only
        self.misplaced = misplaced
        self.offset = start
        self._reading: Generator[Any, None, None] | None = None

    def __iter__(self) -> Iterator[Any]:
        self._reading = self._read(whole=False)
        return self._reading

    def records(self) -> Iterator[Record]:
        """The records whole: every member of each line a row accepts."""
        self._reading = self._read(whole=True)
        return self._reading

    def skip_last(self, reason: str) -> None:
        """Count the line of the record just read as skipped, for ``reason`` (its reader
        could not use it after all)."""
        # The reading loop's own line count: read here, on this rare path, rather than
        # stored for every line on the hot one.
        frame = cast(types.GeneratorType, self._reading).gi_frame  # type: ignore[type-arg]
        if frame is None:
            raise RuntimeError("skip_last: no record is being read")
        line = frame.f_locals["lines_before"]() + frame.f_locals["lineno"]
        self.skipped.add(self.day_file.path.name, line, reason)

    def __enter__(self) -> DayReader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._reading is not None:
            self._reading.close()

    def _read(self, *, whole: bool) -> Generator[Any, None, None]:
        day_file = self.day_file
        decode = self.reader.decode
        refused = self.reader.refused
        skipped = self.skipped
        misplaced = self.misplaced
        day_start = day_file.start
        name = day_file.path.name
        complete_lines_only = self.complete_lines_only
        start = offset = self.start
        lineno = 0
        # Lines are numbered from the top of the file: counted before ``start`` only when needed.
        lines_before = functools.cache(lambda: _lines_before(day_file.path, start))
        limit = math.inf if day_file.compressed else settled_size(day_file.path)
        if self.end is not None:
            limit = min(limit, self.end)
        reading = False
        try:
            with open_data(day_file.path, start) as lines:
                reading = True
                for line in lines:
                    lineno += 1
                    if offset + len(line) > limit:
                        break
                    if complete_lines_only and not line.endswith(b"\n"):
                        break
                    offset += len(line)
                    try:
                        row = decode(line)
                    except Exception:  # msgspec's errors, nesting too deep: whatever a line raises
                        row = refused(line)
                        if row is None:
                            if line.strip():
                                skipped.add(name, lines_before() + lineno, why_skipped(line))
                            continue
                    if misplaced is not None:
                        ts = row.timestamp
                        if not day_start <= ts < day_start + DAY_SECONDS:
                            where = lines_before() + lineno
                            misplaced.add(name, where, f"timestamp {ts} is not on {day_file.day}")
                    yield whole_record(line) if whole else row
        except DataError as exc:
            if not (reading and day_file.compressed):
                raise
            # A damaged gzip (cut short, or not one): the lines before the damage count, the
            # rest is one skipped line, as a torn plain line is.
            skipped.add(name, lines_before() + lineno + 1, f"damaged gzip ({exc.__cause__})")
        finally:
            self.offset = offset


def stored_ids(day_files: Iterable[DayFile]) -> set[Any]:
    """The record ids the files hold (string ids only: a foreign list would not hash)."""
    ids: set[Any] = set()
    for day_file in day_files:
        for row in DayReader(day_file, Skipped(), fields=frozenset({"id"})):
            if isinstance(row.id, str):
                ids.add(row.id)
    return ids


def _lines_before(path: Path, offset: int) -> int:
    """How many lines a plain file holds before byte ``offset``."""
    if offset == 0:
        return 0
    count = 0
    with open(path, "rb") as fh:
        while offset > 0:
            block = fh.read(min(offset, 1 << 20))
            if not block:
                break
            count += block.count(b"\n")
            offset -= len(block)
    return count
