"""Narrow rows read what the full row reads; each query's row holds the fields it reads."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from aiusage.engine.rollup import Filters, Query
from aiusage.engine.scan import fields_read
from aiusage.engine.timerange import TimeRange
from aiusage.records.reader import READ_ALWAYS, ROW_DECODER, Row, line_reader, row_decoder
from strategies import records


@settings(max_examples=300)
@given(rec=records, fields=st.frozensets(st.sampled_from(Row.__struct_fields__)))
def test_a_narrow_row_reads_what_the_full_row_reads(
    rec: dict[str, Any], fields: frozenset[str]
) -> None:
    line = orjson.dumps(rec)
    try:
        full = ROW_DECODER.decode(line)
    except msgspec.ValidationError:
        full = None
    try:
        narrow = row_decoder(fields).decode(line)
    except msgspec.ValidationError:
        narrow = None
    assert (full is None) == (narrow is None)
    if full is not None:
        for name in narrow.__struct_fields__:
            if name != "tags" or "tags" in fields:
                assert getattr(narrow, name) == getattr(full, name)


def test_each_query_reads_its_own_fields() -> None:
    query = Query(
        ("user", "tag:team"),
        "day",
        ZoneInfo("UTC"),
        TimeRange(None, None),
        Filters({"provider": frozenset({"openai"})}),
        intervals_by="key",
        counters=True,
    )
    assert fields_read(query) == {"user_id", "tags", "provider", "api_key", "key", "n"}
    plain = Query(("model",), "day", ZoneInfo("UTC"), TimeRange(None, None))
    assert fields_read(plain) == {"model"}
    assert fields_read(plain, accounts=True, dedupe=True) == {"model", "user_id", "api_key", "id"}
    narrow = row_decoder(fields_read(plain))
    assert {f.name for f in msgspec.structs.fields(narrow.type)} == READ_ALWAYS | {"tags"}
    assert row_decoder(frozenset(Row.__struct_fields__)) is ROW_DECODER


def test_a_mark_in_front_and_bytes_that_are_not_utf8_are_tolerated() -> None:
    reader = line_reader(frozenset({"user_id"}))
    line = orjson.dumps({"timestamp": 5, "model": "m", "user_id": "ab"})
    assert reader.refused(b"\xef\xbb\xbf" + line).user_id == "ab"
    assert reader.refused(line.replace(b"ab", b"a\xff")).user_id == "a\ufffd"
    assert reader.refused(b'{"timestamp": -1}') is None
