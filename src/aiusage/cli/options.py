"""The options of every command that reads records, declared once: ``-d`` (repeatable), the
range flags (``--days --since --until --all``) and the filters (``--user --model ...``).

A reading command takes them with :func:`reading`, which adds them to its signature (under
one "Records" heading of ``--help``) and hands the command one :class:`Selection` instead.
README "Reports" lists what each option means.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from aiusage.cli.common import Context
    from aiusage.engine.rollup import Filters
    from aiusage.engine.timerange import TimeRange

PANEL = "Records"
DATA_DIRS = "data_dir"
RANGE_FLAGS = ("days", "since", "until", "all_time")
FILTER_HELP = {
    "user": "Only these users (repeatable).",
    "model": "Only these models (repeatable).",
    "function": "Only these functions (repeatable).",
    "provider": "Only these providers (repeatable).",
    "session": "Only these sessions (repeatable).",
    "anchor": "Only these anchors (repeatable).",
    "key": "Only these API keys, as masked in the data (repeatable).",
    "tag": "Only records with tag k=v (repeatable, all must match).",
}
FILTER_FLAGS = tuple(FILTER_HELP)


def _keyword(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _data_dirs_option() -> inspect.Parameter:
    option = typer.Option(
        "--data-dir",
        "-d",
        help="Data dir (default: $AIUSAGE_HOME, else ~/.local/share/aiusage); repeat it (or "
        "use a glob like '/srv/*/aiusage') to merge several machines' data, counting records "
        "with the same id once.",
        show_default=False,
        rich_help_panel=PANEL,
    )
    return _keyword(DATA_DIRS, Annotated[list[str] | None, option])


def _range_options(default_days: int | None) -> list[inspect.Parameter]:
    default = "all recorded data" if default_days is None else f"the last {default_days} days"
    days = typer.Option(
        "--days",
        help=f"The last N calendar days, today included (without a range: {default}).",
        rich_help_panel=PANEL,
    )
    since = typer.Option(
        "--since", help="Start: YYYY-MM-DD, ISO datetime, or 7d / 24h.", rich_help_panel=PANEL
    )
    until = typer.Option(
        "--until",
        help="End: YYYY-MM-DD (inclusive), ISO datetime, or 1d.",
        rich_help_panel=PANEL,
    )
    all_time = typer.Option("--all", help="All recorded data.", rich_help_panel=PANEL)
    return [
        _keyword("days", Annotated[int | None, days]),
        _keyword("since", Annotated[str | None, since]),
        _keyword("until", Annotated[str | None, until]),
        _keyword("all_time", Annotated[bool, all_time], default=False),
    ]


def _filter_options() -> list[inspect.Parameter]:
    return [
        _keyword(
            name,
            Annotated[
                list[str] | None,
                typer.Option(f"--{name}", help=FILTER_HELP[name], rich_help_panel=PANEL),
            ],
        )
        for name in FILTER_FLAGS
    ]


@dataclass(frozen=True)
class Selection:
    """The records a reading command was asked for: its data dirs (``None``: the default
    one), its range flags and its filters."""

    data_dirs: list[str] | None = None
    days: int | None = None
    since: str | None = None
    until: str | None = None
    all_time: bool = False
    # The range without any range flag (``None``: all recorded data).
    default_days: int | None = 7
    filter_values: Mapping[str, Any] = field(default_factory=dict)  # flag name: values or None

    def time_range(self, ctx: Context) -> TimeRange:
        """The range of the range flags, in ``ctx``'s zone."""
        return ctx.workspace.time_range(
            **self.range_values, default_days=self.default_days, now=ctx.now
        )

    @property
    def range_values(self) -> dict[str, Any]:
        """The range flags as :class:`aiusage.workspace.Workspace`'s views take them."""
        return {
            "days": self.days,
            "since": self.since,
            "until": self.until,
            "all_time": self.all_time,
        }

    def filters(self) -> Filters:
        """The :class:`aiusage.engine.rollup.Filters` of the filter options."""
        from aiusage.workspace import make_filters

        return make_filters(**self.filter_values)


def reading(
    *, default_days: int | None = 7, range_flags: bool = True, filters: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the shared options: ``-d`` always, the range flags (``default_days``
    when none is given) unless ``range_flags=False``, the filters unless ``filters=False``
    (a command leaves out only what cannot apply to it: tests/cli/test_options.py lists
    those and why). The command takes a ``selection: Selection`` parameter in their place."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command)
        own = [p for name, p in signature.parameters.items() if name != "selection"]
        shared = [_data_dirs_option()]
        shared += _range_options(default_days) if range_flags else []
        shared += _filter_options() if filters else []

        @functools.wraps(command)
        def run(**given: Any) -> Any:
            chosen = Selection(
                data_dirs=given.pop(DATA_DIRS),
                default_days=default_days,
                **{name: given.pop(name) for name in RANGE_FLAGS if range_flags},
                filter_values={name: given.pop(name) for name in FILTER_FLAGS if filters},
            )
            return command(selection=chosen, **given)

        parameters = own + shared
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return decorate
