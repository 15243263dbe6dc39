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


# --- aliases are bounded ------------------------------------------------------------------


def _laughs(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs": each level an anchor holding ``width`` aliases of the one below."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nmodels:\n  x: *l{levels}\n"


@pytest.mark.parametrize("levels", [6, 9, 30])
def test_nested_aliases_are_refused(tmp_path: Path, levels: int) -> None:
    with pytest.raises(YamlError, match="aliases are expanded"):
        load_yaml(_laughs(levels), source=str(tmp_path / "pricing.yaml"))
    assert not list(cache_dir().glob("*.json"))


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(YamlError, match="refers to the node that contains it"):
        load_yaml("models: &m\n  x: {input: 1, output: 2}\n  loop: [*m]\n")


def test_ordinary_anchors_and_aliases_still_load(tmp_path: Path) -> None:
    text = (
        "base: &base {input: 1.5, output: 6, currency: USD}\n"
        "models:\n  a: *base\n  b: {<<: *base, output: 7}\n  c: *base\n"
    )
    source = str(tmp_path / "pricing.yaml")
    for _ in range(2):  # parsed, then from the cache
        doc = load_yaml(text, source=source)
        assert doc["models"]["a"] == doc["models"]["c"] == doc["base"]
        assert doc["models"]["b"] == {"input": 1.5, "output": 7, "currency": "USD"}
    # well under the bound: six levels of five aliases expand to about 230,000 nodes
    assert load_yaml(_laughs(6, 5))["models"]["x"][0][0][0][0][0][0] == ["lol"] * 5


@pytest.mark.parametrize("where", ["pricing.yaml", "config.yaml", "--pricing"])
def test_a_laughs_file_is_a_usage_error_in_bounded_memory(tmp_path: Path, where: str) -> None:
    import resource
    import subprocess
    import sys

    def limit_memory() -> None:  # 1 GB of address space: the expanded document needs 5 GB
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    bomb = tmp_path / "bomb.yaml" if where == "--pricing" else data_dir / where
    bomb.write_text(_laughs(9).replace("models:\n  x:", "currency: USD\nmodels:\n  x:"))
    extra = ["--pricing", str(bomb)] if where == "--pricing" else []
    result = subprocess.run(
        [sys.executable, "-m", "aiusage", "report", "-d", str(data_dir), *extra],
        capture_output=True,
        text=True,
        preexec_fn=limit_memory,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert str(bomb) in result.stderr
    assert "aliases are expanded" in result.stderr
