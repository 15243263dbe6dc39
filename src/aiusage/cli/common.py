"""What the commands share: option types, the resolved context of a reading command
(data dir, zone, pricing, currency), filters, and output."""

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from aiusage.errors import DataError, UsageError

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        "-d",
        help="Data dir (default: $AIUSAGE_HOME, else ~/.local/share/aiusage).",
        show_default=False,
    ),
]
DataDirsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--data-dir",
        "-d",
        help="Data dir; repeat it (or use a glob like '/srv/*/aiusage') to merge several "
        "machines' data, counting records with the same id once.",
        show_default=False,
    ),
]
TzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz", help="IANA time zone for hour/day/week/month boundaries (default: local)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine output (SPEC §5 JSON) on stdout.")]
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
DaysOpt = Annotated[
    int | None, typer.Option("--days", help="The last N calendar days, today included.")
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Start: YYYY-MM-DD, ISO datetime, or 7d / 24h.")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="End: YYYY-MM-DD (inclusive), ISO datetime, or 1d.")
]
AllOpt = Annotated[bool, typer.Option("--all", help="All recorded data.")]
UserOpt = Annotated[list[str] | None, typer.Option("--user", help="Only these users (repeatable).")]
ModelOpt = Annotated[
    list[str] | None, typer.Option("--model", help="Only these models (repeatable).")
]
FunctionOpt = Annotated[
    list[str] | None, typer.Option("--function", help="Only these functions (repeatable).")
]
ProviderOpt = Annotated[
    list[str] | None, typer.Option("--provider", help="Only these providers (repeatable).")
]
TagOpt = Annotated[
    list[str] | None,
    typer.Option("--tag", help="Only records with tag k=v (repeatable, all must match)."),
]

SessionOpt = Annotated[
    list[str] | None, typer.Option("--session", help="Only these sessions (repeatable).")
]
AnchorOpt = Annotated[
    list[str] | None, typer.Option("--anchor", help="Only these anchors (repeatable).")
]
KeyOpt = Annotated[
    list[str] | None,
    typer.Option("--key", help="Only these API keys, as masked in the data (repeatable)."),
]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV on stdout.")]
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
    tags = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} expects KEY=VALUE, got {item!r}")
        tags[key] = value
    return tags


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
    """What every reading command resolves first: data dir, zone, pricing, currency."""

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
        from aiusage.config import load_config
        from aiusage.engine.timerange import resolve_tz
        from aiusage.pricing.table import load_table
        from aiusage.store.dayfiles import require_data_dir, resolve_data_dir

        dirs = _expand_dirs(data_dir)
        self.data_dir = resolve_data_dir(dirs[0] if dirs else None)
        self.extra_dirs = tuple(require_data_dir(Path(d)) for d in dirs[1:])
        if must_exist:
            require_data_dir(self.data_dir)
        self.config = load_config(self.data_dir) if self.data_dir.is_dir() else None
        self.tz = resolve_tz(tz or (self.config.timezone if self.config else None))
        self.pricing = load_table(data_dir=self.data_dir, extra=pricing)
        configured = self.config.currency if self.config else None
        self.default_currency = configured or "USD"
        self.currency = (currency or configured or "USD").upper()
        self.now = time.time()
        from aiusage.pricing.cost import parse_cost_mode

        self.cost = parse_cost_mode(cost)
        self.use_cache = use_cache and not os.environ.get("AIUSAGE_NO_CACHE")
        self.progress = progress_bar(quiet=quiet)

    def source(self) -> Any:
        """The :class:`aiusage.views.document.Source` views read from."""
        from aiusage.views.document import Source

        return Source(
            self.data_dir,
            self.pricing,
            self.currency,
            self.default_currency,
            self.cost,
            self.use_cache and not self.extra_dirs,
            self.extra_dirs,
            self.progress,
        )

    def done(self) -> None:
        """Remove the progress bar, if a long scan showed one."""
        if self.progress is not None:
            self.progress.close()

    def time_range(
        self,
        *,
        days: int | None = None,
        since: str | None = None,
        until: str | None = None,
        all_time: bool = False,
        default_days: int | None = 7,
    ) -> Any:
        """The range of ``--days/--since/--until/--all`` in this context's zone."""
        from aiusage.engine.timerange import make_range

        return make_range(
            tz=self.tz,
            now=self.now,
            days=days,
            since=since,
            until=until,
            all_time=all_time,
            default_days=default_days,
        )


def _expand_dirs(given: Path | Sequence[str] | None) -> list[str]:
    """``--data-dir`` values, globs expanded (a glob that matches nothing is an error)."""
    import glob

    if given is None:
        return []
    if isinstance(given, Path):
        return [str(given)]
    out: list[str] = []
    for item in given:
        if any(c in item for c in "*?["):
            matches = sorted(glob.glob(os.path.expanduser(item)))
            if not matches:
                raise DataError(f"--data-dir {item!r} matches no directory")
            out += matches
        else:
            out.append(item)
    return list(dict.fromkeys(out))


def make_filters(
    *,
    user: Sequence[str] | None = None,
    model: Sequence[str] | None = None,
    function: Sequence[str] | None = None,
    provider: Sequence[str] | None = None,
    tag: Sequence[str] | None = None,
    session: Sequence[str] | None = None,
    anchor: Sequence[str] | None = None,
    key: Sequence[str] | None = None,
) -> Any:
    """The :class:`aiusage.engine.rollup.Filters` of the filter options."""
    from aiusage.engine.rollup import Filters

    given = {
        "user": user,
        "model": model,
        "function": function,
        "provider": provider,
        "session": session,
        "anchor": anchor,
        "key": key,
    }
    fields = {name: frozenset(values) for name, values in given.items() if values}
    return Filters(fields=fields, tags=parse_tags(tag))


def warn_skipped(doc: dict[str, Any], strict: bool) -> None:
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


def check_unpriced(doc: dict[str, Any], strict: bool) -> None:
    """Under ``--strict``, requests without a price are an error: a cron job must not
    under-report."""
    unpriced = doc.get("unpriced_models") or []
    if strict and unpriced:
        n = sum(u["requests"] for u in unpriced)
        names = ", ".join(u["model"] for u in unpriced[:5])
        raise DataError(f"{n} requests have no price ({names}): add them to pricing.yaml")


def emit(
    doc: dict[str, Any],
    *,
    as_json: bool,
    view: Any,
    strict: bool = False,
    csv: tuple[list[str], list[dict[str, Any]]] | None = None,
) -> None:
    """Print ``doc`` as JSON, as CSV (``csv`` = columns and rows), or as the rich view
    ``view(doc, width=...)``, after saying what was skipped."""
    from aiusage.output.json_csv import to_csv, to_json

    if SETTINGS["progress"] is not None:
        SETTINGS["progress"].close()
    warn_skipped(doc, strict)
    check_unpriced(doc, strict)
    if csv is not None:
        sys.stdout.write(to_csv(*csv))
        return
    if as_json:
        sys.stdout.write(to_json(doc))
        return
    from aiusage.output.terminal import make_console

    console = make_console()
    console.print(view(doc, width=console.width))
