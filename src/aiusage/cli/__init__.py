"""The ``aiusage`` command line: parses arguments, calls the library, renders the result.

One module per group of commands; :mod:`aiusage.cli.application` holds the application and the error
handling, :mod:`aiusage.cli.common` what the commands share. Importing this package is
cheap: the application loads on first use, so ``aiusage --version`` answers at once, and
each command's module when that command is run or listed
(:data:`aiusage.cli.application.COMMAND_MODULES`).
"""

import gc
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["app", "main"]


def _application() -> Any:
    from aiusage.cli.application import app

    globals()["app"] = app
    return app


def _loaded() -> Any:
    """The application, loaded with the cyclic collector paused, its objects frozen after:
    typer's and the application's tens of thousands of objects live as long as the process,
    and the collector's passes over them (a fifth of the start-up) would free nothing."""
    gc.disable()
    try:
        return _application()
    finally:
        gc.freeze()
        gc.enable()


def __getattr__(name: str) -> Any:
    if name == "app":
        return _application()
    raise AttributeError(f"module 'aiusage.cli' has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        from aiusage._version import __version__

        sys.stdout.write(f"aiusage {__version__}\n")
        return
    _loaded()(args=args, prog_name="aiusage")
