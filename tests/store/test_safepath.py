"""Output goes where the user said and nowhere else; everything aiusage creates is private."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from aiusage.errors import UsageError
from aiusage.store.safepath import open_export, open_out_dir, private_mkdir
from conftest import call, write_jsonl

T = 1_793_500_000.0  # 2026-11-01
OTHER_UID = 4242  # a user who is neither root nor us
FORMATS = {"json": "r.json", "csv": "r.csv", "prom": "r.prom", "html": "r.html"}
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's link needs root")


@pytest.fixture
def store(data_dir: Path) -> Path:
    write_jsonl(
        data_dir / "usage_2026-11-01.jsonl", [call(T, model="gpt-4o", cost=1.0, currency="USD")]
    )
    return data_dir


def _export(cli, store: Path, fmt: str, out: Path):  # type: ignore[no-untyped-def]
    return cli("export", "-d", store, "--all", "--format", fmt, "--out", out)


def _planted(where: Path, target: Path, *, uid: int = OTHER_UID) -> Path:
    """A link at ``where`` to ``target``, owned by ``uid``."""
    where.symlink_to(target, target_is_directory=True)
    os.lchown(where, uid, uid)
    return where


def _sticky(path: Path) -> Path:
    """A world-writable sticky dir, like /tmp."""
    path.mkdir()
    path.chmod(0o1777)
    return path


# --- the path the user typed ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [*FORMATS, "parquet"])
def test_only_trustworthy_links_are_followed(cli, store: Path, tmp_path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    victim = tmp_path / "victim"
    victim.mkdir()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # writable by all, not sticky: anyone may swap the link
    link = shared / "reports"
    link.symlink_to(victim, target_is_directory=True)
    out = link / FORMATS.get(fmt, "lake")
    result = _export(cli, store, fmt, out)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert f"{link} is a symbolic link" in result.stderr
    assert str(victim) in result.stderr  # the real path, to give instead
    assert list(victim.iterdir()) == []
    # the same link in a sticky dir, or in our own dir, is trustworthy: followed
    tmp = _sticky(tmp_path / "tmp")
    (tmp / "reports").symlink_to(victim, target_is_directory=True)
    own = tmp_path / "own"
    own.symlink_to(victim, target_is_directory=True)
    for via in (tmp / "reports", own):
        result = _export(cli, store, fmt, via / FORMATS.get(fmt, "lake"))
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(str(via / FORMATS.get(fmt, "lake")))
    assert (victim / FORMATS.get(fmt, "lake")).exists()


@needs_root
@pytest.mark.parametrize("fmt", [*FORMATS, "parquet"])
def test_a_link_another_user_planted_in_tmp_is_refused(
    cli, store: Path, tmp_path: Path, fmt: str
) -> None:  # type: ignore[no-untyped-def]
    victim = tmp_path / "victim"
    victim.mkdir()
    link = _planted(_sticky(tmp_path / "tmp") / "reports", victim)
    result = _export(cli, store, fmt, link / FORMATS.get(fmt, "lake"))
    assert result.exit_code == 2, result.stderr
    assert "symbolic link" in result.stderr
    assert list(victim.iterdir()) == []


@needs_root
def test_a_link_in_a_dir_of_another_user_is_refused(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    victim = tmp_path / "victim"
    victim.mkdir()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    link = theirs / "reports"
    link.symlink_to(victim, target_is_directory=True)
    os.chown(theirs, OTHER_UID, OTHER_UID)  # they may replace our link at will
    assert _export(cli, store, "json", link / "r.json").exit_code == 2
    assert list(victim.iterdir()) == []


def test_link_loops_and_dangling_links(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    loop = _export(cli, store, "json", tmp_path / "a" / "r.json")
    assert loop.exit_code == 2
    assert "too many symbolic links" in loop.stderr
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    dangling = _export(cli, store, "json", tmp_path / "gone" / "r.json")
    assert dangling.exit_code == 2
    assert "does not exist" in dangling.stderr
    assert not (tmp_path / "nowhere").exists()
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "own").symlink_to(real, target_is_directory=True)
    (_sticky(tmp_path / "tmp") / "via").symlink_to(tmp_path / "own")  # a link to a link
    chained = _export(cli, store, "json", tmp_path / "tmp" / "via")  # a linked dir as --out
    assert chained.exit_code == 0, chained.stderr
    assert Path(chained.stdout.strip()).parent == tmp_path / "tmp" / "via"
    assert len(list(real.iterdir())) == 1


def test_a_device_or_a_pipe_is_never_replaced(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = _export(cli, store, "json", fifo)
    assert result.exit_code == 2
    assert "not a regular file" in result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_typed_path_through_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        open_out_dir(tmp_path / "file" / "sub")
    with pytest.raises(UsageError, match=r"'\.\.' is not allowed"):
        open_export(tmp_path / "x" / ".." / "r.json", "d.json")


# --- what aiusage names itself ----------------------------------------------------------------


def test_a_partition_dir_that_is_a_link_is_never_followed(cli, store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("pyarrow")
    victim = tmp_path / "victim"
    victim.mkdir()
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "date=2026-11-01").symlink_to(victim, target_is_directory=True)
    result = _export(cli, store, "parquet", lake)
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1
    assert "date=2026-11-01: a symbolic link" in result.stderr
    assert list(victim.iterdir()) == []


def test_a_link_at_a_part_or_a_temporary_name_is_replaced_not_written_through(
    cli, store: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("pyarrow")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    part_dir = tmp_path / "lake" / "date=2026-11-01"
    part_dir.mkdir(parents=True)
    (part_dir / "part-0.parquet").symlink_to(victim)
    (part_dir / f".part-0.parquet.tmp-{os.getpid()}").symlink_to(victim)  # the CLI runs in-process
    (tmp_path / f".r.json.tmp-{os.getpid()}").symlink_to(victim)
    assert _export(cli, store, "parquet", tmp_path / "lake").exit_code == 0
    assert _export(cli, store, "json", tmp_path / "r.json").exit_code == 0
    assert victim.read_text() == "keep"
    assert not (part_dir / "part-0.parquet").is_symlink()
    assert sorted(p.name for p in part_dir.iterdir()) == ["part-0.parquet"]
    assert not (tmp_path / f".r.json.tmp-{os.getpid()}").exists()


# --- private modes ----------------------------------------------------------------------------


def test_private_mkdir_makes_every_missing_parent_private(tmp_path: Path) -> None:
    private_mkdir(tmp_path / "a" / "b" / "c")
    private_mkdir(tmp_path / "a" / "b" / "c")  # there already: nothing to do
    for path in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def _claude_log(home: Path) -> None:
    line = {"type": "assistant", "timestamp": "2026-11-01T10:00:00.000Z", "requestId": "r1",
            "message": {"id": "m1", "model": "claude-haiku-4-5", "usage": {"input_tokens": 5, "output_tokens": 1}}}  # fmt: skip
    log = home / "projects" / "-p" / "s1.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps(line) + "\n")


def test_everything_aiusage_creates_is_private(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("pyarrow")
    monkeypatch.delenv("AIUSAGE_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg" / "share"))  # created with its parents
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg" / "cache"))
    claude = tmp_path / "claude"
    _claude_log(claude)
    source = tmp_path / "spend.csv"
    source.write_text("ts,model\n2026-11-02T10:00:00Z,gpt-4o\n")
    litellm = tmp_path / "litellm.json"
    litellm.write_text(
        '{"gpt-x": {"litellm_provider": "openai", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "mode": "chat"}}'
    )
    before = set(tmp_path.rglob("*"))
    out = tmp_path / "out"
    commands = [
        ["record", "-m", "gpt-4o", "--input-tokens", "10", "--timestamp", "2026-11-01T09:00:00Z"],
        ["record", "-m", "gpt-4o", "--input-tokens", "10"],
        ["import", "claude-code", claude],
        ["import", "csv", source, "--map", "timestamp=ts", "--map", "model=model"],
        ["report", "--all"],
        ["incr", "feature.x"],
        ["export", "--all", "--format", "parquet", "--out", out / "lake"],
        *(["export", "--all", "--format", fmt, "--out", tmp_path / f"r.{fmt}"] for fmt in ("json", "csv", "prom", "html")),
        ["pricing", "import", litellm, "--out", tmp_path / "pricing.yaml"],
        ["reprice", "--all"],
        ["compact", "--older-than", "1"],
        ["report", "--all"],
    ]  # fmt: skip
    for args in commands:
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
    created = set(tmp_path.rglob("*")) - before
    assert any(p.suffix == ".parquet" for p in created)
    assert any(p.name.endswith(".jsonl.gz") for p in created)
    assert any("cache" in p.parts and p.is_file() for p in created)
    loose = {
        str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.lstat().st_mode))
        for p in created
        if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077
    }
    assert loose == {}


def test_pricing_import_out_follows_the_same_rules(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    litellm = tmp_path / "litellm.json"
    litellm.write_text(
        '{"gpt-x": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}'
    )
    victim = tmp_path / "victim"
    victim.mkdir()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "conf").symlink_to(victim, target_is_directory=True)
    refused = cli("pricing", "import", litellm, "--out", shared / "conf" / "pricing.yaml")
    assert refused.exit_code == 2
    assert "symbolic link" in refused.stderr
    assert list(victim.iterdir()) == []
    into_dir = cli("pricing", "import", litellm, "--out", victim)
    assert into_dir.exit_code == 0, into_dir.stderr
    assert stat.S_IMODE((victim / "pricing.yaml").stat().st_mode) == 0o600
