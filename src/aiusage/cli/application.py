"""The Typer application and the one place where errors become exit codes (README: Exit codes):
library errors (:mod:`aiusage.errors`) and Typer's own usage errors give one line on stderr,
never a traceback."""

import importlib
import inspect
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from aiusage._version import __version__
from aiusage.cli import start_up_done
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


def _make_command(name: str) -> Any:
    """The command (or group) ``name`` registered on :data:`app`, as Typer makes it, or
    ``None``."""
    for info in app.registered_commands:
        if (
            info.name or typer.main.get_command_name(getattr(info.callback, "__name__", ""))
        ) == name:
            return typer.main.get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
    for group in app.registered_groups:
        if group.name == name:
            return typer.main.get_group_from_info(
                group,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
                suggest_commands=app.suggest_commands,
            )
    return None


# The order `aiusage --help` lists the commands in: the daily ones first, upkeep last.
COMMAND_ORDER = (
    "record", "report", "top-users", "stats", "trend", "models", "logs", "heatmap", "watch",
    "check", "export", "cache", "intervals", "counters", "incr", "import", "pricing",
    "reconcile", "reprice", "doctor", "compact", "prune",
)  # fmt: skip


# The module of src/aiusage/cli/ that defines each command: ``aiusage X`` imports only X's
# (tests/cli/test_application.py checks that this names every command and its module).
COMMAND_MODULES = {
    "record": "record", "incr": "record",
    "report": "reports", "top-users": "reports", "models": "reports", "cache": "reports",
    "intervals": "reports", "counters": "reports",
    "stats": "status", "logs": "status", "trend": "status", "heatmap": "status",
    "doctor": "status", "watch": "status",
    "check": "cron", "export": "cron", "compact": "cron", "prune": "cron",
    "import": "imports", "pricing": "pricing", "reprice": "pricing", "reconcile": "reconcile",
}  # fmt: skip


class _Markdown:
    """Stands in for ``rich.markdown.Markdown`` in typer's help renderer: the real one if it is
    ever made (markdown help, which aiusage does not use)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from rich.markdown import Markdown

        return Markdown(*args, **kwargs)


class _Traceback:
    """Stands in for ``rich.traceback.Traceback`` in typer's help renderer: the real one if a
    pretty traceback is ever drawn (aiusage turns them off)."""

    @classmethod
    def from_exception(cls, *args: Any, **kwargs: Any) -> Any:
        from rich.traceback import Traceback

        return Traceback.from_exception(*args, **kwargs)


def load_help_renderer() -> None:
    """Import typer's help renderer, ``typer.rich_utils``, without ``rich.markdown`` (and
    markdown-it) and ``rich.traceback`` (and pygments): it imports them at its top for
    markdown help and pretty tracebacks, neither of which aiusage uses, and they were a third
    of ``--help``'s start-up. Placeholders stand in while it loads (each makes the real object
    if ever called); then the real modules import as usual."""
    if "typer.rich_utils" in sys.modules:
        return
    import types

    import rich

    stand_ins = {
        "rich.markdown": ("Markdown", _Markdown),
        "rich.traceback": ("Traceback", _Traceback),
    }
    added = []
    for name, (attr, cls) in stand_ins.items():
        if name not in sys.modules:
            module = types.ModuleType(name)
            setattr(module, attr, cls)
            sys.modules[name] = module
            added.append(name)
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for name in added:
            del sys.modules[name]
            if getattr(rich, name.split(".")[1], None) is not None:
                delattr(rich, name.split(".")[1])


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
    """The command group, with README: Exit codes error handling: one line, no traceback.

    Its commands load on first use (:data:`COMMAND_MODULES`): ``aiusage report`` imports
    the report commands' module only, not every command's."""

    def list_commands(self, ctx: Any) -> list[str]:
        """The commands in :data:`COMMAND_ORDER` (any other after them)."""
        names = set(super().list_commands(ctx)) | set(COMMAND_MODULES)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """A command, its module imported and the command made first if they were not yet
        (that command only: making one from its signature takes about a millisecond); then
        start-up is done (:func:`aiusage.cli.start_up_done`)."""
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(f"aiusage.cli.{COMMAND_MODULES[cmd_name]}")
            command = _make_command(cmd_name)
            if command is not None:
                self.commands[cmd_name] = command
        start_up_done(cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """The command ``args`` start with; for an unknown name, every command is loaded first
        so that the error suggests the closest ones."""
        if args and args[0] not in self.commands and args[0] not in COMMAND_MODULES:
            for name in COMMAND_MODULES:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; errors become one stderr line and an exit code (README: Exit codes)."""
        given = sys.argv[1:] if args is None else args
        if not given or "--help" in given or "-h" in given:
            load_help_renderer()
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
            from aiusage.cli.common import reader_gone

            reader_gone()
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
