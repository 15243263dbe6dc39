"""Error types. The CLI maps each to the exit code of README: Exit codes in one place."""

from __future__ import annotations


class AiusageError(Exception):
    """Base of every error aiusage raises on purpose; `exit_code` is the CLI's exit status."""

    exit_code = 1


class UsageError(AiusageError):
    """Bad input from the user: a flag value, a date, a field name (exit 2)."""

    exit_code = 2


class ValidationError(UsageError):
    """A record or a pricing entry that breaks the schema; the message names the field."""


class PricingError(UsageError):
    """A pricing table that cannot be loaded or used (bad field, missing exchange rate)."""


class DataError(AiusageError):
    """Data that cannot be read or written: data dir, files, malformed lines under --strict
    (exit 3)."""

    exit_code = 3
