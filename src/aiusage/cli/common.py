"""What the commands share: option types, the resolved context of a reading command
(data dir, zone, pricing, currency), and output. The options that choose records (``-d``,
ranges, filters) are in :mod:`aiusage.cli.options`."""

import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from aiusage.errors import DataError

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        "-d",
        help="Data dir (default: $AIUSAGE_HOME, else ~/.local/share/aiusage).",
        show_default=False,
    ),
]
TzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz", help="IANA time zone for hour/day/week/month boundaries (default: local)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine output (JSON) on stdout.")]
PricingOpt = Annotated[
    Path | None,
    typer.Option(
        "--pricing", help="Extra pricing YAML overriding the packaged and data-dir tables."
    ),
]
CurrencyOpt = Annotated[
    str | None, typer.Option("--currency", help="Report currency (default: config.yaml, else USD).")
]
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="Exit 3 if any line is malformed or any request has no price."),
]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV on stdout.")]
RawCsvOpt = Annotated[
    bool,
    typer.Option(
        "--raw-csv",
        help="CSV text cells as they are: no ' before a leading = + - @ (which a spreadsheet "
        "would run as a formula).",
    ),
]
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache", help="Read every file instead of using the data dir's rollup cache."
    ),
]
CostOpt = Annotated[
    str,
    typer.Option(
        "--cost",
        help="recorded: the cost stored in each record (records without one priced now); "
        "current: re-price every record with today's table; auto: same as recorded.",
    ),
]


def parse_tags(values: Sequence[str] | None, flag: str = "--tag") -> dict[str, str]:
    """``KEY=VALUE`` options as a dict."""
    from aiusage.workspace import parse_tags as tags_of

    return tags_of(values, flag)


# Set by the root --quiet option: no progress bars.
SETTINGS: dict[str, Any] = {"quiet": False, "progress": None}


def progress_bar(
    *, quiet: bool = False, label: str = "reading day files", in_bytes: bool = False
) -> Any:
    """A progress bar for a long pass (shown on a terminal only, and not with ``--quiet``,
    ``--json`` or ``AIUSAGE_QUIET``), or ``None``."""
    if not sys.stderr.isatty() or quiet or SETTINGS["quiet"] or os.environ.get("AIUSAGE_QUIET"):
        return None
    from aiusage.output.terminal import ScanProgress

    bar = SETTINGS["progress"] = ScanProgress(label=label, in_bytes=in_bytes)
    return bar


class Context:
    """What every reading command resolves first — its :class:`aiusage.workspace.Workspace`
    (data dirs, zone, pricing, currency, cost mode) — and the clock reading and progress bar
    of the run."""

    def __init__(
        self,
        data_dir: Path | Sequence[str] | None,
        tz: str | None,
        pricing: Path | None,
        currency: str | None,
        *,
        must_exist: bool = True,
        cost: str = "recorded",
        use_cache: bool = True,
        quiet: bool = False,
    ) -> None:
        from aiusage.workspace import Workspace

        self.progress = progress_bar(quiet=quiet)
        self.workspace = Workspace(
            data_dir,
            pricing=pricing,
            currency=currency,
            tz=tz,
            cost=cost,
            use_cache=use_cache,
            must_exist=must_exist,
            progress=self.progress,
        )
        self.data_dir = self.workspace.data_dir
        self.extra_dirs = self.workspace.extra_dirs
        self.config = self.workspace.config
        self.tz = self.workspace.tz
        self.pricing = self.workspace.pricing
        self.currency = self.workspace.currency
        self.default_currency = self.workspace.default_currency
        self.now = time.time()

    def source(self) -> Any:
        """The :class:`aiusage.views.document.Source` views read from."""
        return self.workspace.source()

    def done(self) -> None:
        """Remove the progress bar, if a long scan showed one."""
        if self.progress is not None:
            self.progress.close()


def warn_skipped(doc: Mapping[str, Any], strict: bool) -> None:
    """Say on stderr how many lines were skipped (an error under ``--strict``)."""
    n = doc.get("skipped_lines", 0)
    if not n:
        return
    first = doc.get("first_skipped_line")
    where = f" (first: {first['file']}:{first['line']}: {first['reason']})" if first else ""
    message = f"{n} malformed line{'s' if n != 1 else ''} skipped{where}"
    if strict:
        raise DataError(message)
    sys.stderr.write(f"aiusage: warning: {message}\n")


def check_unpriced(doc: Mapping[str, Any], strict: bool) -> None:
    """Under ``--strict``, requests without a price are an error: a cron job must not
    under-report."""
    unpriced = doc.get("unpriced_models") or []
    if strict and unpriced:
        n = sum(u["requests"] for u in unpriced)
        names = ", ".join(u["model"] for u in unpriced[:5])
        raise DataError(f"{n} requests have no price ({names}): add them to pricing.yaml")


def reader_gone() -> NoReturn:
    """Exit 0 when the reader of stdout went away (``| head``): nothing left to say, and
    nowhere to say it (what is still buffered goes to /dev/null, not to an error)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise SystemExit(0) from None


def write_bytes(pieces: Iterable[bytes]) -> None:
    """Write encoded output to stdout as it is, piece by piece (a large JSON document is
    neither joined nor decoded into a second copy as text first)."""
    buffer = getattr(sys.stdout, "buffer", None)
    sys.stdout.flush()  # what was written as text goes first
    for data in pieces:
        if buffer is None:  # a text-only stream (an embedding application's)
            sys.stdout.write(data.decode())
        else:
            buffer.write(data)
    if buffer is not None:
        buffer.flush()


def emit(
    doc: Mapping[str, Any],
    *,
    as_json: bool,
    view: Any,
    strict: bool = False,
    csv: tuple[Sequence[str], Sequence[Mapping[str, Any]]] | None = None,
    raw_csv: bool = False,
) -> None:
    """Print ``doc`` as JSON, as CSV (``csv`` = columns and rows; formula-like text cells
    neutralised unless ``raw_csv``), or as the view ``view(doc, width=...)`` (a rich
    renderable, or a :class:`~aiusage.output.tables.FixedTable`), after saying what was
    skipped."""
    if SETTINGS["progress"] is not None:
        SETTINGS["progress"].close()
    warn_skipped(doc, strict)
    check_unpriced(doc, strict)
    if csv is not None or as_json:
        from aiusage.output.json_csv import csv_chunks, json_chunks
        from aiusage.store.gc_pause import gc_paused

        # A document's rows are built as they are written (see ReportRows), and make no cycles.
        with gc_paused():
            try:
                if csv is not None:
                    for piece in csv_chunks(*csv, neutralise=not raw_csv):
                        sys.stdout.write(piece)
                    sys.stdout.flush()
                else:
                    write_bytes(json_chunks(doc))
            except BrokenPipeError:
                # Here, not in typer's main, which would make it exit 1 ("a check failed").
                reader_gone()
        return
    from aiusage.output.tables import FixedTable, plain_text, plain_width

    # Written without colour, a fixed table needs no rich when plain_text can write it.
    width = plain_width(sys.stdout)
    if width is not None:
        shown = view(doc, width=width)
        text = plain_text(shown, width) if isinstance(shown, FixedTable) else None
        if text is not None:
            sys.stdout.write(text)
            return
    from aiusage.output.terminal import as_renderable, make_console

    console = make_console()
    if width is None:
        shown = view(doc, width=console.width)
    console.print(as_renderable(shown))
