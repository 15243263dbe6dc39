"""Validating, pricing and serialising records in bulk (``record --batch`` and imports).

:func:`aiusage.records.prepare.prepare` is the one definition of a valid record; at ~25 µs a record
it is too slow for a batch of millions. Here a typed ``msgspec`` decoder checks types and
ranges in C, and a few lines of Python do the checks between fields. Whatever this fast path
does not accept outright (an int where a string goes, a model name with spaces around it, a
counter, any error) is handed to ``prepare``, which either builds the record or raises the
exact error a single ``record`` would. Both paths write the same bytes: a property test
holds them to it.
"""

from __future__ import annotations

import hashlib
import itertools
import mmap
import operator
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
import orjson
from msgspec import UNSET, Meta, UnsetType

from aiusage.bounds import (
    MAX_COST,
    MAX_DURATION_MS,
    MAX_STATUS,
    MAX_TIMESTAMP,
    MAX_TOKENS,
    MIN_STATUS,
    MIN_TIMESTAMP,
)
from aiusage.errors import AiusageError, ValidationError
from aiusage.pricing.cost import TokenCounts, cost_of_record
from aiusage.pricing.table import PricingTable
from aiusage.records.prepare import prepare
from aiusage.records.schema import SCRUBBED_FIELDS, Record, hostname, new_id, serialize
from aiusage.records.secrets import (
    MIN_SECRET,
    mask_api_key,
    scrub,
    scrub_tags,
)
from aiusage.store.dayfiles import (
    DAY_SECONDS,
    DayFile,
    append_all,
    day_of,
    day_path,
    ensure_data_dir,
    list_files,
)
from aiusage.store.processes import map_in_processes

# The bounds of README "The record" (aiusage.bounds): a value beyond them takes the general
# path, which names the field.
Count = Annotated[int, Meta(ge=0, le=MAX_TOKENS)]
Cost = Annotated[float, Meta(ge=0, le=MAX_COST)]
Duration = Annotated[float, Meta(ge=0, le=MAX_DURATION_MS)]
Text = str | None


class Incoming(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A record as a batch line gives it: field order is the written order (FIELD_ORDER);
    ``UNSET`` = not given, filled in by :func:`_complete`."""

    v: Literal[1] | UnsetType = UNSET
    id: Annotated[str, Meta(min_length=1)] | UnsetType = UNSET
    kind: Literal["call"] | UnsetType = UNSET
    timestamp: Annotated[float, Meta(ge=MIN_TIMESTAMP, lt=MAX_TIMESTAMP)] | UnsetType = UNSET
    model: str = ""
    provider: Text = None
    user_id: Text = None
    session_id: Text = None
    anchor_id: Text = None
    function: Text = None
    input_tokens: Count | UnsetType = UNSET
    cache_read_tokens: Count | UnsetType = UNSET
    cache_write_tokens: Count | UnsetType = UNSET
    output_tokens: Count | UnsetType = UNSET
    reasoning_tokens: Count | UnsetType = UNSET
    cache_write_1h_tokens: Count | None = None
    total_tokens: Count | None = None
    cost: Cost | UnsetType | None = UNSET
    currency: str | None = None
    duration_ms: Duration | None = None
    ttfb_ms: Duration | None = None
    success: bool | None = None
    error_msg: Text = None
    status_code: Annotated[int, Meta(ge=MIN_STATUS, le=MAX_STATUS)] | None = None
    request_id: Text = None
    api_key: Text = None
    tags: dict[str, str] | None = None
    request_bytes: Count | None = None
    response_bytes: Count | None = None
    host: Text = None
    price_ref: Text = None
    service_tier: Text = None


class Prepared(NamedTuple):
    """What the caller needs of a record just written to its buffer: its timestamp, and its
    model when the pricing table does not know it (an unpriced call)."""

    timestamp: float
    unpriced_model: str | None


_decoder = msgspec.json.Decoder(Incoming)
_encoder = msgspec.json.Encoder()


class Preparer:
    """Turns batch lines (or field dicts) into :class:`Prepared` records, as ``prepare``
    would, with one pricing table, default currency and "now"."""

    def __init__(self, table: PricingTable, *, default_currency: str = "USD", now: float):
        self.table = table
        self.default_currency = default_currency
        self.now = now
        # The batch line being prepared and its byte offset: the id of a line without one.
        self._line: tuple[bytes, int] | None = None

    def line(self, raw: bytes, out: bytearray, *, at: int | None = None) -> Prepared:
        """Append the record of a JSONL line to ``out`` as its JSONL line (raises
        :class:`ValidationError` or ``orjson.JSONDecodeError`` as ``record`` would, and
        then appends nothing). With ``at`` (the line's byte offset in its batch), a line
        without an ``id`` gets :func:`line_id` instead of a random one."""
        self._line = None if at is None else (raw, at)
        try:
            rec = _decoder.decode(raw)
        except ValueError:  # msgspec's decode and validation errors, bad UTF-8
            return self._slow(orjson.loads(raw), out)
        return self._fast(rec, raw, out)

    def fields(self, fields: Mapping[str, Any], out: bytearray) -> Prepared:
        """Append the record of a dict of fields to ``out`` (raises
        :class:`ValidationError`, and then appends nothing)."""
        self._line = None
        try:
            rec = msgspec.convert(fields, Incoming)
        except msgspec.ValidationError:
            return self._slow(fields, out)
        return self._fast(rec, fields, out)

    def record(self, fields: Mapping[str, Any], out: bytearray) -> tuple[float, Record]:
        """:meth:`fields`, and the record appended as a dict (what reading its line back
        gives, without reading it back)."""
        self._line = None
        try:
            rec = msgspec.convert(fields, Incoming)
        except msgspec.ValidationError:
            rec = None
        start = len(out)
        if rec is not None and self._priced(rec) is not None:
            _encoder.encode_into(rec, out, -1)
            out += b"\n"
            built: Record = msgspec.to_builtins(rec)
            return built["timestamp"], built
        timestamp, _ = self._slow(fields, out)
        read: Record = orjson.loads(out[start:])
        return timestamp, read

    def _fast(self, rec: Incoming, original: Any, out: bytearray) -> Prepared:
        priced = self._priced(rec)
        if priced is None:
            fields = orjson.loads(original) if isinstance(original, bytes) else original
            return self._slow(fields, out)
        _encoder.encode_into(rec, out, -1)
        out += b"\n"
        return priced

    def _priced(self, rec: Incoming) -> Prepared | None:
        """Complete and price a decoded record in place; ``None`` when it needs the general
        path (a check between fields failed, or a value is out of bounds)."""
        completed = _complete(rec, self)
        if completed is None:
            return None
        counts, timestamp = completed
        entry = self.table.lookup(rec.model)
        if entry is not None and rec.provider is None:
            rec.provider = entry.provider
        cost = None if rec.cost is UNSET else rec.cost
        charge = cost_of_record(
            entry,
            counts,
            cost=cost,
            currency=rec.currency,
            success=rec.success is not False,
            batch=rec.service_tier == "batch",
            default_currency=self.default_currency,
        )
        if charge.price is not None:
            amount = charge.amount
            if amount is None or amount > MAX_COST:
                return None  # beyond the bound: the general path raises the error naming it
            rec.cost = amount
            rec.price_ref = self.table.price_ref(charge.price)
        rec.currency = charge.currency
        return Prepared(timestamp, rec.model if charge.picos is None else None)

    def id_of_line(self) -> str:
        """The id of a record given without one: :func:`line_id` of the batch line being
        prepared, else a fresh random one."""
        return new_id() if self._line is None else line_id(*self._line)

    def _slow(self, fields: Any, out: bytearray) -> Prepared:
        if not isinstance(fields, Mapping):
            raise ValidationError("not a JSON object")
        if self._line is not None and fields.get("id") is None:
            fields = {**fields, "id": line_id(*self._line)}
        rec = prepare(
            fields, table=self.table, default_currency=self.default_currency, now=self.now
        )
        unpriced = rec["model"] if rec["kind"] == "call" and rec["cost"] is None else None
        out += serialize(rec)
        return Prepared(rec["timestamp"], unpriced)


# The text fields _complete scrubs as build_record does (SCRUBBED_FIELDS; ``id`` apart, a
# counter's ``key`` never reaches it).
_SCRUBBED = tuple(name for name in SCRUBBED_FIELDS if name not in ("id", "key"))
_texts = operator.attrgetter(*_SCRUBBED)


# The tags of a batch or an import recur from record to record (an import's project and
# source): scrubbed once, remembered (a few hundred sets, bounded like scrub's texts).
_TAG_SETS = 256
_tag_sets: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}


def _scrubbed_tags(tags: dict[str, str]) -> dict[str, str]:
    """:func:`scrub_tags` of validated tags (names and values strings), remembered."""
    key = tuple(tags.items())
    done = _tag_sets.get(key)
    if done is None:
        done = scrub_tags(tags)
        if len(_tag_sets) >= _TAG_SETS:
            _tag_sets.clear()
        _tag_sets[key] = done = dict(done)
    return dict(done)  # a dict of the record's own


def line_id(raw: bytes, at: int) -> str:
    """The id of a batch line that gives none: 32 hex digits of a BLAKE2b hash of the line
    (without its line end) and of its byte offset in the batch. Feeding the same batch again
    gives each record the same id, so what is already recorded is recognised and skipped."""
    digest = hashlib.blake2b(raw.rstrip(b"\r\n"), digest_size=16, person=b"aiusage-batch")
    digest.update(b"@%d" % at)
    return digest.hexdigest()


# Once per record of every batch, import and aiusage.record(): the checks between fields are
# inlined, a call per check would cost more than the check.
def _complete(rec: Incoming, preparer: Preparer) -> tuple[TokenCounts, float] | None:  # noqa: C901, PLR0912
    """Fill the defaults of a decoded record; its token counts and timestamp, or ``None``
    when a check between fields fails or a value needs the general path (which then raises
    or normalises it)."""
    model = rec.model
    if not model or model[0].isspace() or model[-1].isspace():
        return None
    rec.v = 1
    if rec.id is UNSET:
        rec.id = preparer.id_of_line()  # hex: nothing to scrub
    elif len(rec.id) >= MIN_SECRET:
        rec.id = scrub(rec.id)
    for name in itertools.compress(_SCRUBBED, _texts(rec)):  # the fields given
        value = getattr(rec, name)
        if len(value) >= MIN_SECRET:
            setattr(rec, name, scrub(value))
    rec.kind = "call"
    timestamp = rec.timestamp
    if timestamp is UNSET:
        timestamp = rec.timestamp = preparer.now
    inp = rec.input_tokens = 0 if rec.input_tokens is UNSET else rec.input_tokens
    read = rec.cache_read_tokens = 0 if rec.cache_read_tokens is UNSET else rec.cache_read_tokens
    write = rec.cache_write_tokens = (
        0 if rec.cache_write_tokens is UNSET else rec.cache_write_tokens
    )
    out = rec.output_tokens = 0 if rec.output_tokens is UNSET else rec.output_tokens
    reasoning = rec.reasoning_tokens = 0 if rec.reasoning_tokens is UNSET else rec.reasoning_tokens
    if reasoning > out:
        return None
    one_hour = rec.cache_write_1h_tokens
    if one_hour is not None and (one_hour > write or not one_hour):
        return None
    total = inp + read + write + out
    if rec.total_tokens is not None and rec.total_tokens != total:
        return None
    rec.total_tokens = total
    if rec.cost is UNSET:
        rec.cost = None
    currency = rec.currency
    if currency is not None and (
        len(currency) != 3
        or not currency.isascii()
        or not currency.isupper()
        or not currency.isalpha()
    ):
        return None
    if rec.success is None:
        rec.success = rec.error_msg is None
    if rec.api_key is not None:
        if not rec.api_key:
            return None
        rec.api_key = mask_api_key(rec.api_key)
    if rec.tags is not None:
        rec.tags = _scrubbed_tags(rec.tags) if rec.tags else None
    if rec.host is None:
        rec.host = hostname()
    counts = TokenCounts(inp, out, read, write, one_hour or 0, reasoning)
    return counts, timestamp


# --- batches ---------------------------------------------------------------------------------

CHUNK = 1 << 20
PARALLEL_BYTES = 16 << 20  # below this, forking a second process costs more than it saves


@dataclass
class Batch:
    """A validated batch: serialised lines per day file, or the reasons it was refused."""

    # Whole lines per day file, in chunks of about 1 MB (small results would each hold a
    # large buffer if kept one by one).
    lines: dict[Path, list[bytes]] = field(default_factory=dict)
    count: int = 0
    unpriced_models: set[str] = field(default_factory=set)
    # (line number, reason) of the first invalid lines; how many there were in all.
    errors: list[tuple[int, str]] = field(default_factory=list)
    invalid: int = 0
    line_count: int = 0

    def extend(self, other: Batch, *, max_errors: int) -> None:
        """Append ``other``: the batch of the lines that follow this one's (its line
        numbers count on from this one's)."""
        for path, chunks in other.lines.items():
            self.lines.setdefault(path, []).extend(chunks)
        self.count += other.count
        self.unpriced_models |= other.unpriced_models
        room = max(0, max_errors - len(self.errors))
        self.errors += [(self.line_count + n, why) for n, why in other.errors[:room]]
        self.invalid += other.invalid
        self.line_count += other.line_count


# The per-line loop of `record --batch`: inlined for the same reason as _complete.
def read_batch(  # noqa: C901, PLR0912
    data: Iterable[bytes],
    data_dir: Path,
    *,
    table: PricingTable,
    default_currency: str = "USD",
    max_errors: int = 20,
    now: float | None = None,
    start: int = 0,
) -> Batch:
    """Validate a JSONL stream of records (all of them: a batch is written whole or not at
    all). Records are kept serialised, so memory is the size of the output, not of dicts.
    ``batch.errors`` holds the first ``max_errors`` reasons, ``batch.invalid`` their count.
    ``start`` is the byte offset of the stream in its batch (a part read in parallel)."""
    preparer = Preparer(
        table, default_currency=default_currency, now=time.time() if now is None else now
    )
    batch = Batch()
    buffers: dict[Path, bytearray] = {}
    paths: dict[int, Path] = {}
    scratch = bytearray()
    lineno = 0
    at = start
    for lineno, line in enumerate(data, 1):
        offset, at = at, at + len(line)
        if not line.strip():
            continue
        try:
            timestamp, unpriced = preparer.line(line, scratch, at=offset)
        except orjson.JSONDecodeError as exc:
            reason: str | None = f"bad JSON ({exc})"
        except AiusageError as exc:
            reason = str(exc)
        else:
            reason = None
        if reason is not None:
            batch.invalid += 1
            if len(batch.errors) < max_errors:
                batch.errors.append((lineno, reason))
            continue
        if batch.invalid:
            scratch.clear()
            continue  # nothing will be written: only keep validating
        day = int(timestamp // DAY_SECONDS)
        path = paths.get(day)
        if path is None:
            path = paths[day] = day_path(data_dir, day_of(timestamp))
        buffer = buffers.get(path)
        if buffer is None:
            buffer = buffers[path] = bytearray()
        buffer += scratch
        scratch.clear()
        if len(buffer) >= CHUNK:
            batch.lines.setdefault(path, []).append(bytes(buffer))
            buffer.clear()
        batch.count += 1
        if unpriced is not None:
            batch.unpriced_models.add(unpriced)
    for path, buffer in buffers.items():
        if buffer:
            batch.lines.setdefault(path, []).append(bytes(buffer))
    batch.line_count = lineno
    if batch.invalid:
        batch.lines.clear()
    return batch


def read_batch_file(
    path: Path,
    data_dir: Path,
    *,
    table: PricingTable,
    default_currency: str = "USD",
    max_errors: int = 20,
) -> Batch:
    """:func:`read_batch` over a file; a large one is memory-mapped, split at line ends and
    its parts validated in parallel processes (one per core), then joined in order."""
    size = path.stat().st_size
    workers = min(os.cpu_count() or 1, 4)
    if size < PARALLEL_BYTES or workers < 2 or sys.platform != "linux":
        with open(path, "rb") as fh:
            return read_batch(
                fh, data_dir, table=table, default_currency=default_currency, max_errors=max_errors
            )
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        bounds = [0]
        for i in range(1, workers):
            cut = data.find(b"\n", max(size * i // workers, bounds[-1])) + 1
            bounds.append(cut if cut > 0 else size)
        bounds.append(size)
        ranges = [(a, b, max_errors) for a, b in itertools.pairwise(bounds) if b > a]
        _job.update(
            data=data, data_dir=data_dir, table=table, currency=default_currency, now=time.time()
        )
        try:
            parts = map_in_processes(_read_part, ranges)
        finally:
            _job.clear()
    batch = Batch()
    for part in parts:
        batch.extend(part, max_errors=max_errors)
    if batch.invalid:
        batch.lines.clear()
    return batch


# What a forked worker of read_batch_file reads: set in the parent before the fork, so the
# input is shared (a memory map), not pickled.
_job: dict[str, Any] = {}


def _read_part(args: tuple[int, int, int]) -> Batch:
    start, end, max_errors = args
    job = _job
    return read_batch(
        _lines_between(job["data"], start, end),
        job["data_dir"],
        table=job["table"],
        default_currency=job["currency"],
        max_errors=max_errors,
        now=job["now"],
        start=start,
    )


def _lines_between(data: mmap.mmap, start: int, end: int) -> Iterator[bytes]:
    data.seek(start)
    readline = data.readline
    while data.tell() < end:
        yield readline()


def batch_errors(batch: Batch) -> list[str]:
    """The messages to show for a refused batch: the first reasons, then the count."""
    messages = [f"line {n}: {why}" for n, why in batch.errors]
    if batch.invalid > len(batch.errors):
        messages.append(f"{batch.invalid} invalid lines in all")
    return messages


@dataclass(frozen=True)
class Written:
    """What :func:`write_batch` did: records written, and records skipped because their id
    was recorded already (by an earlier run of the same batch)."""

    written: int
    already: int


def write_batch(data_dir: Path, batch: Batch) -> Written:
    """Append a validated batch to its day files, all of it or nothing
    (:func:`~aiusage.store.dayfiles.append_all`), leaving out the records whose id those
    days hold already: a batch fed again after a kill completes without duplicates."""
    if batch.invalid:
        raise ValidationError("a batch with invalid lines is not written")
    lines, already = _not_recorded(data_dir, batch.lines)
    if lines:
        ensure_data_dir(data_dir)
        append_all(lines)
    return Written(batch.count - already, already)


def _not_recorded(
    data_dir: Path, lines: dict[Path, list[bytes]]
) -> tuple[dict[Path, list[bytes]], int]:
    """``lines`` without the records already in their day files, and how many those were.
    Only the days the batch writes to are read."""
    if not data_dir.is_dir():
        return lines, 0
    # Here: importing this module (every import of Claude Code logs) never needs it.
    from aiusage.records.reader import stored_ids

    existing: dict[Path, list[DayFile]] = {}
    for day_file in list_files(data_dir):
        existing.setdefault(day_path(data_dir, day_file.day), []).append(day_file)
    kept: dict[Path, list[bytes]] = {}
    already = 0
    for path, chunks in lines.items():
        stored = stored_ids(existing.get(path, ()))
        if not stored:
            kept[path] = chunks
            continue
        new = []
        for chunk in chunks:
            records = chunk.split(b"\n")[:-1]
            fresh = [line for line in records if _id_of(line) not in stored]
            already += len(records) - len(fresh)
            if fresh:
                new.append(b"\n".join(fresh) + b"\n")
        if new:
            kept[path] = new
    return kept, already


_ID_AT = b'{"v":1,"id":"'  # how every written line starts (FIELD_ORDER)


def _id_of(line: bytes) -> Any:
    """The id of a line this module wrote."""
    if line.startswith(_ID_AT):
        end = line.find(b'"', len(_ID_AT))
        found = line[len(_ID_AT) : end]
        if b"\\" not in found:
            return found.decode()
    return orjson.loads(line)["id"]
