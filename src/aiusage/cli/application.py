"""The Typer application and the one place where errors become exit codes (README: Exit codes):
library errors (:mod:`aiusage.errors`) and Typer's own usage errors give one line on stderr,
never a traceback."""

import inspect
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from aiusage._version import __version__
from aiusage.errors import AiusageError

try:
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - typer releases that use click itself
    from click.exceptions import ClickException  # type: ignore[no-redef,import-not-found,unused-ignore]


INTERNAL_ERROR = 70  # an unexpected exception: a bug (EX_SOFTWARE)


def fail(message: str, code: int) -> NoReturn:
    """Exit with ``code`` after one error line on stderr."""
    sys.stderr.write(f"aiusage: error: {message}\n")
    raise SystemExit(code)


# The order `aiusage --help` lists the commands in: the daily ones first, upkeep last.
COMMAND_ORDER = (
    "record", "report", "top-users", "stats", "trend", "models", "logs", "heatmap", "watch",
    "check", "export", "cache", "intervals", "counters", "incr", "import", "pricing",
    "reconcile", "reprice", "doctor", "compact", "prune",
)  # fmt: skip


class SummaryGroup(TyperGroup):
    """A command group whose listing shows each command's docstring summary on one line."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """A command, its summary for the listing made from its docstring's first paragraph
        (the rich listing would keep the docstring's line breaks)."""
        command = super().get_command(ctx, cmd_name)
        if command is not None and command.short_help is None and command.help:
            first = inspect.cleandoc(command.help).split("\n\n")[0]
            command.short_help = " ".join(first.split())
        return command


class AiusageGroup(SummaryGroup):
    """The command group, with README: Exit codes error handling: one line, no traceback."""

    def list_commands(self, ctx: Any) -> list[str]:
        """The commands in :data:`COMMAND_ORDER` (any other after them)."""
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; errors become one stderr line and an exit code (README: Exit codes)."""
        try:
            rv = super().main(
                args, prog_name or "aiusage", complete_var, standalone_mode=False, **extra
            )
        except ClickException as exc:
            fail(exc.format_message().splitlines()[0], 2)
        except AiusageError as exc:
            fail(str(exc), exc.exit_code)
        except (KeyboardInterrupt, typer.Abort):
            sys.stderr.write("aiusage: interrupted\n")
            raise SystemExit(130) from None
        except BrokenPipeError:
            # The reader went away (| head): nothing left to say, and nowhere to say it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(0) from None
        except OSError as exc:
            fail(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", 3)
        except Exception as exc:
            if os.environ.get("AIUSAGE_DEBUG"):
                raise
            # Not 1: that means "a check failed" to cron. 70 is EX_SOFTWARE (sysexits.h).
            fail(
                f"internal error: {type(exc).__name__}: {exc} "
                "(AIUSAGE_DEBUG=1 shows the traceback)",
                INTERNAL_ERROR,
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
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress bars on stderr (they only show on a terminal)."
        ),
    ] = False,
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
    from aiusage.cli.common import SETTINGS

    SETTINGS["quiet"] = quiet


def sub_app(summary: str, **settings: Any) -> typer.Typer:
    """A group of commands under ``aiusage`` (``import``, ``pricing``, ``cache``)."""
    return typer.Typer(
        cls=SummaryGroup,
        help=summary,
        context_settings={"help_option_names": ["-h", "--help"]},
        **settings,
    )
