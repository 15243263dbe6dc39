"""Parsed YAML documents are cached per source file and never trusted when stale."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiusage.store import yamlcache
from aiusage.store.yamlcache import YamlError, cache_dir, load_yaml


@pytest.fixture(autouse=True)
def _own_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts actually handed to PyYAML."""
    seen: list[str] = []
    real = yamlcache._parse

    def counting(text: str) -> Any:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(yamlcache, "_parse", counting)
    return seen


def test_a_document_is_parsed_once_per_text(tmp_path: Path, parses: list[str]) -> None:
    source = str(tmp_path / "pricing.yaml")
    text = "models:\n  gpt-x: {input: 1.5, output: 6}\n"
    first = load_yaml(text, source=source)
    assert (
        load_yaml(text, source=source)
        == first
        == {"models": {"gpt-x": {"input": 1.5, "output": 6}}}
    )
    assert parses == [text]
    edited = text.replace("6", "7")
    assert load_yaml(edited, source=source)["models"]["gpt-x"]["output"] == 7
    assert parses == [text, edited]
    assert len(list(cache_dir().iterdir())) == 1  # one entry per source file


def test_a_corrupt_entry_is_ignored_and_rewritten(tmp_path: Path, parses: list[str]) -> None:
    source = str(tmp_path / "config.yaml")
    load_yaml("currency: EUR\n", source=source)
    (entry,) = cache_dir().iterdir()
    for junk in (b"{not json", b'{"format": "other"}', b"[]"):
        entry.write_bytes(junk)
        assert load_yaml("currency: EUR\n", source=source) == {"currency": "EUR"}
    assert len(parses) == 4
    assert load_yaml("currency: EUR\n", source=source) == {"currency": "EUR"}
    assert len(parses) == 4


def test_documents_json_cannot_hold_are_not_cached(tmp_path: Path, parses: list[str]) -> None:
    source = str(tmp_path / "odd.yaml")
    for text, value in (
        ("day: 2026-11-24\n", {"day": dt.date(2026, 11, 24)}),
        ("1: one\n", {1: "one"}),
    ):
        assert load_yaml(text, source=source) == value
        assert load_yaml(text, source=source) == value
    assert len(parses) == 4
    assert not cache_dir().exists() or not list(cache_dir().iterdir())


def test_an_unwritable_cache_dir_only_costs_the_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where the dir should be
    assert load_yaml("a: 1\n", source=str(tmp_path / "a.yaml")) == {"a": 1}


def test_bad_yaml_is_a_yaml_error_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(YamlError) as err:
        load_yaml("a: 1\nb: [unclosed\n", source=str(tmp_path / "bad.yaml"))
    assert (err.value.line or 0) >= 2
    assert not list(cache_dir().glob("*.tmp"))


def test_the_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "aiusage" / "yaml"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "aiusage" / "yaml"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=8),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents)
def test_cached_documents_equal_parsed_ones(tmp_path: Path, document: Any) -> None:
    text = yaml.safe_dump(document)
    expected = yaml.safe_load(text)
    source = str(tmp_path / "doc.yaml")
    first = load_yaml(text, source=source)
    again = load_yaml(text, source=source)
    assert first == again == expected
    assert [type(v) for v in _leaves(again)] == [type(v) for v in _leaves(expected)]


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for k, v in sorted(value.items()) for leaf in (k, *_leaves(v))]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_entries_are_private(tmp_path: Path) -> None:
    load_yaml("quotas: {users: {alice: {daily: 5}}}\n", source=str(tmp_path / "config.yaml"))
    (entry,) = cache_dir().iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600
    assert cache_dir().stat().st_mode & 0o777 == 0o700
