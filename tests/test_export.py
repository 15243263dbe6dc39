from __future__ import annotations

import csv
import io

import orjson

from aiusage.export import to_csv, to_json


def test_csv_quotes_and_joins() -> None:
    text = to_csv(["a", "b", "c"], [{"a": 'x,"y"', "b": ["m1", "m2"], "c": None}])
    assert text == 'a,b,c\r\n"x,""y""",m1;m2,\r\n'
    assert list(csv.reader(io.StringIO(text)))[1] == ['x,"y"', "m1;m2", ""]


def test_json_keeps_key_order() -> None:
    doc = {"schema": "aiusage.report/1", "b": 1, "a": [1.5, None]}
    text = to_json(doc)
    assert list(orjson.loads(text)) == ["schema", "b", "a"]
    assert text.endswith("\n")
