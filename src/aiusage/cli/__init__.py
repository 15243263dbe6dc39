"""The ``aiusage`` command line: parses arguments, calls the library, renders the result.

One module per group of commands; :mod:`aiusage.cli.app` holds the application and the error
handling, :mod:`aiusage.cli.common` what the commands share.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiusage.cli import pricing, record, reports, status  # noqa: F401 - registers commands
from aiusage.cli.app import app

__all__ = ["app", "main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv, prog_name="aiusage")
