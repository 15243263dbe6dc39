from __future__ import annotations

from pathlib import Path

import pytest

from aiusage.config import Config, load_config
from aiusage.errors import UsageError
from conftest import call, write_jsonl


def test_defaults_without_file(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config()


def test_settings_apply_to_reports(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (data_dir / "config.yaml").write_text("currency: CNY\ntimezone: Asia/Shanghai\n")
    write_jsonl(
        data_dir / "usage_2026-11-01.jsonl", [call(1_793_500_000, cost=1.0, currency="USD")]
    )
    doc = cli("report", "-d", data_dir, "--all", "--json").json()
    assert doc["currency"] == "CNY"
    assert doc["range"]["tz"] == "Asia/Shanghai"
    assert doc["totals"]["cost"] == pytest.approx(7.10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: red\n", "unknown setting"),
        ("currency: dollars\n", "currency"),
        ("- a\n", "mapping"),
        ("a: [\n", "cannot read"),
    ],
)
def test_bad_config(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(UsageError, match=message):
        load_config(tmp_path)
