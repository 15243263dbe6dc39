"""The ``aiusage`` command line: parses arguments, calls the library, renders the result.

Errors raised by the library are types (:mod:`aiusage.errors`); :class:`AiusageGroup` maps
them, and Typer's own usage errors, to one line on stderr and the exit codes of SPEC.md §6.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from typer.core import TyperGroup

from aiusage import __version__
from aiusage.errors import AiusageError, DataError, UsageError

try:
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - typer releases that use click itself
    from click.exceptions import ClickException  # type: ignore[no-redef,import-not-found,unused-ignore]

EPILOG_REPORT = """
Examples:

  aiusage report                              # last 7 days, one row per day
  aiusage report --days 30 --by model         # per day and model
  aiusage report --period month --by user --tz Europe/Paris
  aiusage report --since 2026-11-01 --until 2026-11-15 --model gpt-4o --json
  aiusage report --all --period total --by tag:team --csv > teams.csv
"""
EPILOG_RECORD = """
Examples:

  aiusage record --model gpt-4o --input-tokens 1200 --output-tokens 300 --user alice
  aiusage record --model claude-sonnet-4-5 --input-tokens 50 --cache-read-tokens 9000 \\
      --output-tokens 400 --function summarise --tag env=prod --duration-ms 840
  aiusage record --model gpt-4o --error "rate limited" --status-code 429
  aiusage record --batch calls.jsonl          # or: producer | aiusage record --batch -
"""
EPILOG_TOP = """
Examples:

  aiusage top-users                           # top 10 by cost over the last 7 days
  aiusage top-users --by tokens --days 30 --limit 20
  aiusage top-users --since 2026-11-01 --model gpt-4o --json
"""


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"aiusage: error: {message}\n")
    raise SystemExit(code)


class AiusageGroup(TyperGroup):
    """The command group, with SPEC.md §6 error handling: one line on stderr, no traceback."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(
                args, prog_name or "aiusage", complete_var, standalone_mode=False, **extra
            )
        except ClickException as exc:
            _fail(exc.format_message().splitlines()[0], 2)
        except AiusageError as exc:
            _fail(str(exc), exc.exit_code)
        except (KeyboardInterrupt, typer.Abort):
            sys.stderr.write("aiusage: interrupted\n")
            raise SystemExit(130) from None
        except BrokenPipeError:
            # The reader went away (| head): nothing left to say, and nowhere to say it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(0) from None
        except OSError as exc:
            _fail(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", 3)
        except Exception as exc:
            if os.environ.get("AIUSAGE_DEBUG"):
                raise
            _fail(
                f"internal error: {type(exc).__name__}: {exc} "
                "(AIUSAGE_DEBUG=1 shows the traceback)",
                1,
            )
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            raise SystemExit(code)
        return code


app = typer.Typer(
    cls=AiusageGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Record AI/LLM API calls to daily JSONL files and report usage, cost and trends.",
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"aiusage {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """aiusage: see what your AI features cost.

    Data lives in --data-dir, else $AIUSAGE_HOME, else ~/.local/share/aiusage.
    """


# Options shared by every command --------------------------------------------------------

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
    bool, typer.Option("--strict", help="Exit 3 if any line is malformed instead of skipping it.")
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


def _parse_tags(values: Sequence[str] | None, flag: str = "--tag") -> dict[str, str]:
    tags = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} expects KEY=VALUE, got {item!r}")
        tags[key] = value
    return tags


class _Context:
    """What every reading command resolves first: data dir, zone, pricing, currency."""

    def __init__(
        self,
        data_dir: Path | None,
        tz: str | None,
        pricing: Path | None,
        currency: str | None,
        *,
        must_exist: bool = True,
    ) -> None:
        from aiusage.config import load_config
        from aiusage.pricing import load_table
        from aiusage.store import require_data_dir, resolve_data_dir
        from aiusage.timerange import resolve_tz

        self.data_dir = resolve_data_dir(data_dir)
        if must_exist:
            require_data_dir(self.data_dir)
        self.config = load_config(self.data_dir) if self.data_dir.is_dir() else None
        self.tz = resolve_tz(tz or (self.config.timezone if self.config else None))
        self.pricing = load_table(data_dir=self.data_dir, extra=pricing)
        configured = self.config.currency if self.config else None
        self.default_currency = configured or "USD"
        self.currency = (currency or configured or "USD").upper()
        self.now = time.time()

    def source(self) -> Any:
        from aiusage.document import Source

        return Source(self.data_dir, self.pricing, self.currency, self.default_currency)


def _filters(
    *,
    user: Sequence[str] | None = None,
    model: Sequence[str] | None = None,
    function: Sequence[str] | None = None,
    provider: Sequence[str] | None = None,
    tag: Sequence[str] | None = None,
) -> Any:
    from aiusage.aggregate import Filters

    fields = {
        name: frozenset(values)
        for name, values in (
            ("user", user),
            ("model", model),
            ("function", function),
            ("provider", provider),
        )
        if values
    }
    return Filters(fields=fields, tags=_parse_tags(tag))


def _warn_skipped(doc: dict[str, Any], strict: bool) -> None:
    n = doc.get("skipped_lines", 0)
    if not n:
        return
    first = doc.get("first_skipped_line")
    where = f" (first: {first['file']}:{first['line']}: {first['reason']})" if first else ""
    message = f"{n} malformed line{'s' if n != 1 else ''} skipped{where}"
    if strict:
        raise DataError(message)
    sys.stderr.write(f"aiusage: warning: {message}\n")


def _emit(doc: dict[str, Any], *, as_json: bool, view: Any) -> None:
    """Print ``doc`` as JSON, or the rich view ``view(doc, width=...)`` of it."""
    from aiusage.export import to_json

    if as_json:
        sys.stdout.write(to_json(doc))
        return
    from aiusage.render import make_console

    console = make_console()
    console.print(view(doc, width=console.width))


# record ----------------------------------------------------------------------------------


@app.command(epilog=EPILOG_RECORD)
def record(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model as the caller named it.")
    ] = None,
    input_tokens: Annotated[
        int,
        typer.Option(
            "--input-tokens",
            "-i",
            help="Prompt tokens at the plain input rate (excluding cache reads/writes).",
        ),
    ] = 0,
    output_tokens: Annotated[
        int, typer.Option("--output-tokens", "-o", help="Completion tokens, reasoning included.")
    ] = 0,
    cache_read_tokens: Annotated[
        int,
        typer.Option("--cache-read-tokens", help="Prompt tokens read from the provider's cache."),
    ] = 0,
    cache_write_tokens: Annotated[
        int,
        typer.Option("--cache-write-tokens", help="Prompt tokens written to the provider's cache."),
    ] = 0,
    reasoning_tokens: Annotated[
        int, typer.Option("--reasoning-tokens", help="The reasoning part of --output-tokens.")
    ] = 0,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who made the call.")] = None,
    function: Annotated[
        str | None,
        typer.Option("--function", "-f", help="The feature of your product that made the call."),
    ] = None,
    session: Annotated[
        str | None, typer.Option("--session", help="Conversation / session id.")
    ] = None,
    anchor: Annotated[str | None, typer.Option("--anchor", help="Business object id.")] = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="openai, anthropic, google, ... (default: from pricing)."),
    ] = None,
    cost: Annotated[
        float | None,
        typer.Option("--cost", help="Cost of the call (default: priced from pricing.yaml)."),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(
            "--currency", help="ISO code of --cost (default: the model's price currency)."
        ),
    ] = None,
    duration_ms: Annotated[
        float | None, typer.Option("--duration-ms", help="Total latency in ms.")
    ] = None,
    ttfb_ms: Annotated[
        float | None, typer.Option("--ttfb-ms", help="Time to first byte in ms.")
    ] = None,
    failure: Annotated[bool, typer.Option("--failure", help="The call failed.")] = False,
    error: Annotated[
        str | None, typer.Option("--error", help="Error message (implies --failure).")
    ] = None,
    status_code: Annotated[
        int | None, typer.Option("--status-code", help="HTTP status, 100-599.")
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="The provider's response id.")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="API key used; only a masked form (sk-…9f3a) is written."),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Free dimension KEY=VALUE (repeatable).")
    ] = None,
    request_bytes: Annotated[
        int | None, typer.Option("--request-bytes", help="Request payload size.")
    ] = None,
    response_bytes: Annotated[
        int | None, typer.Option("--response-bytes", help="Response payload size.")
    ] = None,
    timestamp: Annotated[
        str | None,
        typer.Option(
            "--timestamp", help="Call time: epoch seconds or ISO datetime (default: now)."
        ),
    ] = None,
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch",
            help="Append a JSONL stream of records from FILE or - (stdin); all-or-nothing.",
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    pricing: PricingOpt = None,
    tz: TzOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record one AI call (or a --batch of them) in the data dir."""
    from aiusage.pricing import load_table
    from aiusage.store import resolve_data_dir
    from aiusage.tracking import prepare, write

    directory = resolve_data_dir(data_dir)
    table = load_table(data_dir=directory, extra=pricing)
    from aiusage.config import load_config

    default_currency = (load_config(directory).currency if directory.is_dir() else None) or "USD"
    if batch is not None:
        if model is not None:
            raise UsageError(
                "--batch takes every field from its lines: drop --model and the other fields"
            )
        records = _read_batch(batch, table, default_currency)
        written = write(directory, records)
        if as_json:
            sys.stdout.write(
                orjson.dumps({"schema": "aiusage.record-batch/1", "written": written}).decode()
                + "\n"
            )
        else:
            sys.stderr.write(f"aiusage: recorded {written:,} records in {directory}\n")
        _warn_unpriced(records)
        return
    if model is None:
        raise UsageError("--model is required (or use --batch FILE)")
    now = time.time()
    fields: dict[str, Any] = {
        "model": model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read_tokens,
        "cache_write_tokens": cache_write_tokens,
        "reasoning_tokens": reasoning_tokens,
        "user_id": user,
        "function": function,
        "session_id": session,
        "anchor_id": anchor,
        "provider": provider,
        "cost": cost,
        "currency": currency,
        "duration_ms": duration_ms,
        "ttfb_ms": ttfb_ms,
        "error_msg": error,
        "status_code": status_code,
        "request_id": request_id,
        "api_key": api_key,
        "tags": _parse_tags(tag),
        "request_bytes": request_bytes,
        "response_bytes": response_bytes,
    }
    if failure or error:
        fields["success"] = False
    if timestamp is not None:
        from aiusage.timerange import parse_instant, resolve_tz

        fields["timestamp"] = parse_instant(timestamp, resolve_tz(tz), now=now)
    rec = prepare(fields, table=table, default_currency=default_currency, now=now)
    write(directory, [rec])
    if as_json:
        sys.stdout.write(orjson.dumps(rec).decode() + "\n")
    else:
        from aiusage.render import record_line

        sys.stdout.write(record_line(rec) + "\n")
    _warn_unpriced([rec])


def _warn_unpriced(records: Sequence[dict[str, Any]]) -> None:
    models = sorted(
        {r["model"] for r in records if r.get("kind") == "call" and r.get("cost") is None}
    )
    if models:
        sys.stderr.write(
            f"aiusage: warning: no price for {', '.join(models[:5])}: recorded with cost null "
            "(add the model to pricing.yaml in the data dir)\n"
        )


def _read_batch(source: str, table: Any, default_currency: str) -> list[dict[str, Any]]:
    from aiusage.tracking import prepare

    if source == "-":
        stream = typer.get_binary_stream("stdin")
        data = stream.read()
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise UsageError(f"--batch {source}: {exc.strerror or exc}") from None
    now = time.time()
    records, errors = [], []
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            errors.append(f"line {lineno}: bad JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"line {lineno}: not a JSON object")
            continue
        try:
            records.append(prepare(obj, table=table, default_currency=default_currency, now=now))
        except AiusageError as exc:
            errors.append(f"line {lineno}: {exc}")
    if errors:
        for message in errors[1:20]:
            sys.stderr.write(f"aiusage: {message}\n")
        more = f"; {len(errors)} invalid lines in all" if len(errors) > 1 else ""
        raise UsageError(f"--batch {source}: {errors[0]}{more}; nothing written")
    return records


# report ----------------------------------------------------------------------------------


@app.command(epilog=EPILOG_REPORT)
def report(
    days: DaysOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    all_time: AllOpt = False,
    period: Annotated[
        str, typer.Option("--period", "-p", help="hour, day, week, month or total.")
    ] = "day",
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            "-b",
            help="Group by user, model, function, provider, session, anchor, key or tag:NAME "
            "(repeatable).",
        ),
    ] = None,
    user: UserOpt = None,
    model: ModelOpt = None,
    function: FunctionOpt = None,
    provider: ProviderOpt = None,
    tag: TagOpt = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort", help="Sort rows by a metric (descending) or field; prefix - to reverse."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Show at most N rows.", min=1)
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Usage and cost per period (and per user, model, ... with --by), with totals."""
    from aiusage.aggregate import Query
    from aiusage.report import build_report, report_columns
    from aiusage.timerange import make_range

    if as_csv and as_json:
        raise UsageError("choose one of --csv and --json")
    ctx = _Context(data_dir, tz, pricing, currency)
    rng = make_range(tz=ctx.tz, now=ctx.now, days=days, since=since, until=until, all_time=all_time)
    query = Query(
        dims=tuple(dict.fromkeys(by or ())),
        period=period,
        tz=ctx.tz,
        range=rng,
        filters=_filters(user=user, model=model, function=function, provider=provider, tag=tag),
    )
    doc = build_report(ctx.source(), query, sort=sort, limit=limit, now=ctx.now)
    _warn_skipped(doc, strict)
    if as_csv:
        from aiusage.export import to_csv

        sys.stdout.write(to_csv(report_columns(doc), doc["rows"]))
        return
    from aiusage.render import report_view

    _emit(doc, as_json=as_json, view=report_view)


# top-users -------------------------------------------------------------------------------


@app.command("top-users", epilog=EPILOG_TOP)
def top_users(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many users.", min=1)] = 10,
    days: DaysOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    all_time: AllOpt = False,
    by: Annotated[str, typer.Option("--by", help="Rank by cost, tokens or requests.")] = "cost",
    model: ModelOpt = None,
    function: FunctionOpt = None,
    provider: ProviderOpt = None,
    tag: TagOpt = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    tz: TzOpt = None,
    pricing: PricingOpt = None,
    currency: CurrencyOpt = None,
    strict: StrictOpt = False,
) -> None:
    """The users who cost the most (or used the most tokens or requests)."""
    from aiusage.aggregate import Query
    from aiusage.report import build_top_users, top_users_columns
    from aiusage.timerange import make_range

    if as_csv and as_json:
        raise UsageError("choose one of --csv and --json")
    ctx = _Context(data_dir, tz, pricing, currency)
    rng = make_range(tz=ctx.tz, now=ctx.now, days=days, since=since, until=until, all_time=all_time)
    query = Query(
        (),
        "total",
        ctx.tz,
        rng,
        _filters(model=model, function=function, provider=provider, tag=tag),
    )
    doc = build_top_users(ctx.source(), query, by=by, limit=limit, now=ctx.now)
    _warn_skipped(doc, strict)
    if as_csv:
        from aiusage.export import to_csv

        sys.stdout.write(to_csv(top_users_columns(), doc["users"]))
        return
    from aiusage.render import top_users_view

    _emit(doc, as_json=as_json, view=top_users_view)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv, prog_name="aiusage")
