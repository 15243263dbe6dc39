"""``aiusage import claude-code|jsonl|csv``: bring in usage logs written by other tools."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from aiusage.cli.application import app, sub_app

if TYPE_CHECKING:
    from aiusage.workspace import Workspace

from aiusage.cli.common import DataDirOpt, JsonOpt, PricingOpt, progress_bar

import_app = sub_app(
    "Import usage logs other tools wrote: Claude Code sessions, any JSONL or CSV export.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")

EPILOG_CLAUDE = """
Examples:

  aiusage import claude-code                  # $CLAUDE_CONFIG_DIR, else ~/.claude dirs
  aiusage import claude-code ~/.claude --dry-run
  aiusage report --by tag:project --period month   # what each repository cost
"""
EPILOG_MAPPED = """
Examples:

  aiusage import csv usage.csv --map timestamp=created_at --map model=model \\
      --map input_tokens=prompt_tokens --map output_tokens=completion_tokens \\
      --map cost=spend --map user_id=user --map tag:team=team --dry-run
  aiusage import jsonl gateway.jsonl --map timestamp=ts --map model=request.model \\
      --map input_tokens=usage.prompt_tokens --map output_tokens=usage.completion_tokens
"""
MapOpt = Annotated[
    list[str],
    typer.Option("--map", help="FIELD=COLUMN (a dotted path into JSON); tag:NAME=COLUMN for tags."),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be imported; write nothing.")
]


def _workspace(data_dir: Path | None, pricing: Path | None, *, dry_run: bool) -> "Workspace":
    """The workspace an import writes to, its data dir created unless only trying."""
    from aiusage.store.dayfiles import ensure_data_dir
    from aiusage.workspace import Workspace

    workspace = Workspace(data_dir, pricing=pricing)
    if not dry_run:
        ensure_data_dir(workspace.data_dir)
    return workspace


def _report(result: Any, as_json: bool, dry_run: bool) -> None:
    if as_json:
        doc = {
            "schema": "aiusage.import/1",
            "source": result.source,
            "dry_run": dry_run,
            "files": result.files,
            "lines": result.lines,
            "imported": result.imported,
            "duplicates": result.duplicates,
            "skipped": result.skipped,
            "first_records": result.records[:5] if dry_run else [],
        }
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    verb = "would import" if dry_run else "imported"
    skipped = ", ".join(f"{n:,} {why}" for why, n in sorted(result.skipped.items())) or "none"
    sys.stdout.write(
        f"{verb} {result.imported:,} calls from {result.files:,} files ({result.lines:,} lines); "
        f"{result.duplicates:,} already there; skipped: {skipped}\n"
    )
    if dry_run:
        for rec in result.records[:5]:
            sys.stdout.write(orjson.dumps(rec).decode() + "\n")


@import_app.command("claude-code", epilog=EPILOG_CLAUDE)
def claude_code(
    dirs: Annotated[list[Path] | None, typer.Argument(help="Claude Code config dirs.")] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    pricing: PricingOpt = None,
) -> None:
    """Import Claude Code's session logs (projects/**/*.jsonl), once: re-runs add only what
    is new."""
    from aiusage.importers import import_claude_code
    from aiusage.importers.engine import given_dirs

    given_dirs(dirs or [])  # before anything is written
    workspace = _workspace(data_dir, pricing, dry_run=dry_run)
    bar = progress_bar(quiet=as_json, label="reading Claude Code logs", in_bytes=True)
    try:
        result = import_claude_code(dirs or [], workspace, dry_run=dry_run, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if not result.files:
        sys.stderr.write("aiusage: no Claude Code logs found (projects/**/*.jsonl)\n")
    _report(result, as_json, dry_run)


def _mapped(
    kind: str,
    file: Path,
    mapping: list[str],
    source: str | None,
    dry_run: bool,
    as_json: bool,
    data_dir: Path | None,
    pricing: Path | None,
) -> None:
    from aiusage.importers import import_mapped, parse_mapping

    workspace = _workspace(data_dir, pricing, dry_run=dry_run)
    result = import_mapped(
        file,
        kind,
        parse_mapping(mapping),
        workspace,
        source=source or file.stem,
        dry_run=dry_run,
    )
    _report(result, as_json, dry_run)


SourceOpt = Annotated[
    str | None,
    typer.Option("--source", help="Tag imported records source=NAME (default: the file name)."),
]


@import_app.command("jsonl", epilog=EPILOG_MAPPED)
def jsonl(
    file: Annotated[Path, typer.Argument(help="A JSONL export.")],
    mapping: MapOpt,
    source: SourceOpt = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    pricing: PricingOpt = None,
) -> None:
    """Import any JSONL export, mapping its fields onto the record schema."""
    _mapped("jsonl", file, mapping, source, dry_run, as_json, data_dir, pricing)


@import_app.command("csv", epilog=EPILOG_MAPPED)
def csv_import(
    file: Annotated[Path, typer.Argument(help="A CSV export with a header row.")],
    mapping: MapOpt,
    source: SourceOpt = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    pricing: PricingOpt = None,
) -> None:
    """Import any CSV export, mapping its columns onto the record schema."""
    _mapped("csv", file, mapping, source, dry_run, as_json, data_dir, pricing)


EPILOG_CODEX = """
Examples:

  aiusage import codex                        # $CODEX_HOME/sessions, else ~/.codex/sessions
  aiusage import codex ~/.codex/sessions --dry-run
"""


@import_app.command("codex", epilog=EPILOG_CODEX)
def codex(
    dirs: Annotated[list[Path] | None, typer.Argument(help="Codex sessions dirs.")] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    pricing: PricingOpt = None,
) -> None:
    """Import OpenAI Codex CLI session logs (token_count events); re-runs add only what is
    new."""
    from aiusage.importers import import_codex
    from aiusage.importers.engine import given_dirs

    given_dirs(dirs or [])  # before anything is written
    workspace = _workspace(data_dir, pricing, dry_run=dry_run)
    result = import_codex(dirs or [], workspace, dry_run=dry_run)
    if not result.files:
        sys.stderr.write("aiusage: no Codex session logs found (sessions/**/*.jsonl)\n")
    _report(result, as_json, dry_run)
