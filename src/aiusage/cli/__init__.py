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


def __getattr__(name: str) -> Any:
    if name == "app":
        return _application()
    raise AttributeError(f"module 'aiusage.cli' has no attribute {name!r}")


# Whether :func:`main` turned the cyclic garbage collector off for start-up.
_collector_off_for_start_up = False
# Commands that run until they are stopped: the collector is on while they run.
LONG_RUNNING = frozenset({"watch"})


def start_up_done(command: str) -> None:
    """Called once ``command`` is loaded: if :func:`main` turned the collector off for
    start-up, what start-up made is frozen out of its reach (``gc.freeze``), and the
    collector is on again for a command that runs until stopped. Any other command ends with
    it still off: it makes next to no cyclic garbage, and the collector's passes over what a
    large report holds (millions of objects) find nothing to free, at a cost (0.4 s after a
    report of 196,288 groups)."""
    global _collector_off_for_start_up
    if _collector_off_for_start_up:
        _collector_off_for_start_up = False
        gc.freeze()
        if command in LONG_RUNNING:
            gc.enable()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    global _collector_off_for_start_up
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        from aiusage._version import __version__

        sys.stdout.write(f"aiusage {__version__}\n")
        return
    # Start-up (typer, the command's module, rich for --help) makes some 20,000 objects that
    # live as long as the process. The collector's passes while they are made, and its last
    # ones at exit, would walk them all to free next to nothing: a seventh of `report --help`.
    # So it is off until the command is loaded, and what start-up made is then frozen.
    if gc.isenabled():
        gc.disable()
        _collector_off_for_start_up = True
    try:
        _application()(args=args, prog_name="aiusage")
    finally:
        if _collector_off_for_start_up:  # no command was loaded (a usage error before one)
            _collector_off_for_start_up = False
            gc.enable()
