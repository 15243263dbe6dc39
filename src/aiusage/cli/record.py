"""``aiusage record`` (and ``--batch``): append calls to the data dir."""

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from aiusage.cli.application import app
from aiusage.cli.common import DataDirOpt, JsonOpt, PricingOpt, TzOpt, parse_tags
from aiusage.errors import UsageError

EPILOG_RECORD = """
Examples:

  aiusage record --model gpt-4o --input-tokens 1200 --output-tokens 300 --user alice
  aiusage record --model claude-sonnet-4-5 --input-tokens 50 --cache-read-tokens 9000 \\
      --output-tokens 400 --function summarise --tag env=prod --duration-ms 840
  aiusage record --model gpt-4o --error "rate limited" --status-code 429
  aiusage record --batch calls.jsonl          # or: producer | aiusage record --batch -
  aiusage record --from-response response.json --user alice --function chat
  curl ... | aiusage record --from-response - --model anthropic.claude-3-haiku  # Bedrock
"""


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
    cache_write_1h_tokens: Annotated[
        int,
        typer.Option(
            "--cache-write-1h-tokens", help="The part of --cache-write-tokens with a 1-hour TTL."
        ),
    ] = 0,
    from_response: Annotated[
        str | None,
        typer.Option(
            "--from-response",
            help="Read model and tokens from a saved provider response (JSON body, or a "
            "JSONL/SSE transcript of stream events) in FILE or - (stdin).",
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
    from aiusage.records.batch import write_batch
    from aiusage.records.prepare import prepare
    from aiusage.records.tracking import write
    from aiusage.workspace import Workspace

    workspace = Workspace(data_dir, pricing=pricing, tz=tz)
    directory, table = workspace.data_dir, workspace.pricing
    default_currency = workspace.default_currency
    if batch is not None:
        if model is not None:
            raise UsageError(
                "--batch takes every field from its lines: drop --model and the other fields"
            )
        validated = _read_batch(batch, directory, table, default_currency)
        done = write_batch(directory, validated)
        if as_json:
            doc = {
                "schema": "aiusage.record-batch/1",
                "written": done.written,
                "already_recorded": done.already,
            }
            sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        else:
            already = f" ({done.already:,} already recorded)" if done.already else ""
            sys.stderr.write(
                f"aiusage: recorded {done.written:,} records in {directory}{already}\n"
            )
        _warn_unpriced_models(validated.unpriced_models)
        return
    now = time.time()
    tokens = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read_tokens,
        "cache_write_tokens": cache_write_tokens,
        "cache_write_1h_tokens": cache_write_1h_tokens or None,
        "reasoning_tokens": reasoning_tokens,
    }
    fields: dict[str, Any] = {
        "model": model,
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
        "tags": parse_tags(tag),
        "request_bytes": request_bytes,
        "response_bytes": response_bytes,
    }
    if failure or error:
        fields["success"] = False
    if from_response is not None:
        if any(tokens.values()):
            raise UsageError(
                "--from-response reads the token counts from the response: "
                "drop the --*-tokens options"
            )
        fields = _from_response(from_response, fields, provider)
    else:
        if model is None:
            raise UsageError("--model is required (or use --from-response or --batch FILE)")
        fields.update(tokens)
    if timestamp is not None:
        from aiusage.engine.timerange import parse_instant

        fields["timestamp"] = parse_instant(timestamp, workspace.tz, now=now)
    rec = prepare(fields, table=table, default_currency=default_currency, now=now)
    write(directory, [rec])
    if as_json:
        sys.stdout.write(orjson.dumps(rec).decode() + "\n")
    else:
        from aiusage.views.formatting import record_line

        sys.stdout.write(record_line(rec) + "\n")
    _warn_unpriced([rec])


def _read_input(source: str, flag: str) -> bytes:
    """The bytes of FILE, or of stdin for ``-``."""
    if source == "-":
        return typer.get_binary_stream("stdin").read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(f"{flag} {source}: {exc.strerror or exc}") from None


def _from_response(source: str, given: dict[str, Any], provider: str | None) -> dict[str, Any]:
    """Record fields from a saved response, completed (and overridden) by the options."""
    from aiusage.records.streams import usage_from_payload

    usage = usage_from_payload(_read_input(source, "--from-response"), provider=provider)
    if usage is None:
        raise UsageError(f"--from-response {source}: no usage found in the response")
    if usage.guessed:
        sys.stderr.write(
            f"aiusage: warning: token counts guessed ({usage.method}) from an unfamiliar response\n"
        )
    fields = usage.fields()
    tags = {**fields.get("tags", {}), **given.get("tags", {})}
    fields.update({k: v for k, v in given.items() if v is not None})
    fields["tags"] = tags
    if not fields.get("model"):
        raise UsageError(
            f"--from-response {source}: the response names no model (Bedrock Converse and "
            "native DashScope bodies do not): pass --model"
        )
    return fields


def _warn_unpriced(records: Sequence[dict[str, Any]]) -> None:
    _warn_unpriced_models(
        {r["model"] for r in records if r.get("kind") == "call" and r.get("cost") is None}
    )


def _warn_unpriced_models(unpriced: set[str]) -> None:
    models = sorted(unpriced)
    if models:
        sys.stderr.write(
            f"aiusage: warning: no price for {', '.join(models[:5])}: recorded with cost null "
            "(add the model to pricing.yaml in the data dir)\n"
        )


def _read_batch(source: str, directory: Path, table: Any, default_currency: str) -> Any:
    from aiusage.records.batch import batch_errors, read_batch, read_batch_file

    if source == "-":
        batch = read_batch(
            typer.get_binary_stream("stdin"),
            directory,
            table=table,
            default_currency=default_currency,
        )
    else:
        try:
            batch = read_batch_file(
                Path(source), directory, table=table, default_currency=default_currency
            )
        except OSError as exc:
            raise UsageError(f"--batch {source}: {exc.strerror or exc}") from None
    errors = batch_errors(batch)
    if errors:
        for message in errors[1:]:
            sys.stderr.write(f"aiusage: {message}\n")
        more = f"; {len(errors)} messages" if len(errors) > 1 else ""
        raise UsageError(f"--batch {source}: {errors[0]}{more}; nothing written")
    return batch


EPILOG_INCR = """
Examples:

  aiusage incr feature.chapter_generation     # add 1
  aiusage incr api.generate_requests 5
  aiusage counters --prefix feature.
"""


@app.command(epilog=EPILOG_INCR)
def incr(
    key: Annotated[str, typer.Argument(help="Counter name, e.g. feature.outline_creation.")],
    n: Annotated[int, typer.Argument(help="How much to add (may be negative).")] = 1,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who it counts for.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="KEY=VALUE (repeatable).")
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add N (default 1) to a counter; read them with `aiusage counters`."""
    from aiusage.records.prepare import prepare
    from aiusage.records.tracking import write
    from aiusage.workspace import Workspace

    workspace = Workspace(data_dir)
    fields = {"kind": "counter", "key": key, "n": n, "user_id": user, "tags": parse_tags(tag)}
    rec = prepare(fields, table=workspace.pricing, default_currency=workspace.default_currency)
    write(workspace.data_dir, [rec])
    if as_json:
        sys.stdout.write(orjson.dumps(rec).decode() + "\n")
    else:
        sys.stdout.write(f"counted {key} += {n}\n")
