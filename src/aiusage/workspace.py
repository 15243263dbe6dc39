"""The workspace: one or more data dirs with their settings resolved once, in one place —
``config.yaml``, the pricing layers, the report currency, the time zone and the cost mode —
and the library's front door::

    import aiusage

    ws = aiusage.open("~/.local/share/aiusage")
    ws.record(model="gpt-4o", input_tokens=1200, output_tokens=300, user_id="alice")
    ws.report(period="day", by=("user",), days=7)   # the same document as `report --json`

The CLI, the module-level Python API (``aiusage.record()`` and friends use a default
workspace), checks, counters and importers all take their settings from here.

Precedence, lowest first: the defaults (USD, the machine's zone), the first data dir's
``config.yaml``, then what the caller passes. Pricing layers: the packaged ``pricing.yaml``,
the first data dir's ``pricing.yaml``, then ``pricing=`` (``--pricing``).
"""

from __future__ import annotations

import glob
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiusage.config import CONFIG_FILE, Config, load_config
from aiusage.errors import DataError, UsageError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from aiusage.engine.rollup import Filters
    from aiusage.engine.timerange import TimeRange
    from aiusage.pricing.table import PricingTable
    from aiusage.records.batch import Preparer
    from aiusage.records.schema import Record
    from aiusage.views.checks import Limits
    from aiusage.views.document import Source

PathLike = str | os.PathLike[str]
DirsArg = PathLike | Sequence[PathLike] | None
MEMO_SIZE = 256  # remaining() answers remembered per workspace (users × keys asked about)


def expand_dirs(given: DirsArg) -> list[Path]:
    """Data dir arguments as paths, globs expanded in order, duplicates dropped; a glob that
    matches nothing is a :class:`DataError`."""
    if given is None:
        return []
    items = [given] if isinstance(given, str | os.PathLike) else list(given)
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if isinstance(item, str) and any(c in text for c in "*?["):
            matches = sorted(glob.glob(os.path.expanduser(text)))
            if not matches:
                raise DataError(f"--data-dir {text!r} matches no directory")
            out += [Path(m) for m in matches]
        elif text:
            out.append(Path(text).expanduser())
    return list(dict.fromkeys(out))


FileStamp = tuple[int, int, int]  # mtime (ns), size, inode; zeros for a missing file


@dataclass(frozen=True)
class Stamp:
    """What a workspace's settings were read from, to tell when they changed (a file
    edited in place, replaced by a rename, created or removed)."""

    config: FileStamp
    pricing: FileStamp

    @classmethod
    def of(cls, data_dir: Path) -> Stamp:
        return cls(_stamp(data_dir / CONFIG_FILE), _stamp(data_dir / "pricing.yaml"))


def _stamp(path: Path) -> FileStamp:
    try:
        st = path.stat()
    except OSError:
        return (0, 0, 0)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Workspace:
    """Data dirs and their resolved settings, and every view of them.

    ``data_dir`` is one dir, several (their records merged, a record id counted once) or
    ``None`` for ``$AIUSAGE_HOME`` (else ``~/.local/share/aiusage``); strings may be globs.
    ``currency`` is the report currency; ``tz`` the zone of day, week and month boundaries;
    ``cost`` the cost mode (``recorded``, ``current`` or ``auto``); ``pricing`` an extra
    pricing YAML laid over the others. With ``must_exist`` a missing first dir is an error
    now rather than at the first read. ``progress`` is told (files read, files in all) as a
    long pass goes.
    """

    def __init__(
        self,
        data_dir: DirsArg = None,
        *,
        pricing: PathLike | None = None,
        currency: str | None = None,
        tz: str | None = None,
        cost: str = "recorded",
        use_cache: bool = True,
        must_exist: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        from aiusage.engine.timerange import resolve_tz
        from aiusage.pricing.modes import parse_cost_mode
        from aiusage.store.dayfiles import require_data_dir, resolve_data_dir

        dirs = expand_dirs(data_dir)
        self.data_dir: Path = resolve_data_dir(dirs[0] if dirs else None)
        self._written_dir = os.fspath(self.data_dir)  # as record() passes it, per call
        self.extra_dirs: tuple[Path, ...] = tuple(require_data_dir(d) for d in dirs[1:])
        if must_exist:
            require_data_dir(self.data_dir)
        self.stamp = Stamp.of(self.data_dir)
        self.config: Config = load_config(self.data_dir) if self.data_dir.is_dir() else Config()
        self.tz: ZoneInfo = resolve_tz(tz or self.config.timezone)
        self.pricing_file = Path(pricing) if pricing is not None else None
        self.default_currency: str = self.config.currency or "USD"
        self.currency: str = (currency or self.default_currency).upper()
        self.cost_mode = parse_cost_mode(cost)
        self.use_cache = use_cache and not os.environ.get("AIUSAGE_NO_CACHE")
        self.progress = progress
        self._pricing: PricingTable | None = None
        self._preparer: Preparer | None = None
        self._memo: OrderedDict[tuple[str | None, str | None], tuple[float, dict[str, float]]]
        self._memo = OrderedDict()

    def __repr__(self) -> str:
        dirs = ", ".join(str(d) for d in self.dirs)
        return f"Workspace({dirs}, currency={self.currency}, tz={self.tz.key})"

    @property
    def dirs(self) -> tuple[Path, ...]:
        """Every data dir, the first (where records are written) first."""
        return (self.data_dir, *self.extra_dirs)

    @property
    def pricing(self) -> PricingTable:
        """The pricing table: packaged, then the data dir's ``pricing.yaml``, then ``pricing=``."""
        if self._pricing is None:
            from aiusage.pricing.table import load_table

            self._pricing = load_table(data_dir=self.data_dir, extra=self.pricing_file)
        return self._pricing

    def is_current(self) -> bool:
        """Whether ``config.yaml`` and ``pricing.yaml`` are as they were when read."""
        return Stamp.of(self.data_dir) == self.stamp

    def source(self) -> Source:
        """What the views read from: dirs, pricing, currencies, cost mode, cache use."""
        from aiusage.views.document import Source

        return Source(
            self.data_dir,
            self.pricing,
            self.currency,
            self.default_currency,
            self.cost_mode,
            self.use_cache and not self.extra_dirs,
            self.extra_dirs,
            self.progress,
        )

    def time_range(
        self,
        *,
        days: int | None = None,
        since: str | None = None,
        until: str | None = None,
        all_time: bool = False,
        default_days: int | None = 7,
        now: float | None = None,
    ) -> TimeRange:
        """The range of ``days``/``since``/``until``/``all_time`` in this workspace's zone
        (``default_days`` when none is given; ``None``: all time)."""
        from aiusage.engine.timerange import make_range

        return make_range(
            tz=self.tz,
            now=time.time() if now is None else now,
            days=days,
            since=since,
            until=until,
            all_time=all_time,
            default_days=default_days,
        )

    def limits(
        self,
        *,
        daily_budget: float | None = None,
        monthly_budget: float | None = None,
        warn_at: float | None = None,
        user_quotas: Mapping[str, Mapping[str, float]] | None = None,
        key_limits: Mapping[str, Mapping[str, float]] | None = None,
        spike: float | None = None,
        max_tokens_per_call: int | None = None,
        max_failure_rate: float | None = None,
    ) -> Limits:
        """The limits to check: ``config.yaml``'s budgets and quotas, overridden by those
        given (a quota given for a user replaces that user's configured one)."""
        from aiusage.views.checks import Limits

        budgets = self.config.budgets
        return Limits(
            daily_budget=daily_budget if daily_budget is not None else budgets.get("daily"),
            monthly_budget=monthly_budget if monthly_budget is not None else budgets.get("monthly"),
            warn_at=warn_at if warn_at is not None else budgets.get("warn_at", 0.8),
            user_quotas={**self.config.user_quotas, **(user_quotas or {})},
            key_limits={**self.config.key_limits, **(key_limits or {})},
            spike=spike,
            max_tokens_per_call=max_tokens_per_call,
            max_failure_rate=max_failure_rate,
        )

    # -- recording ---------------------------------------------------------------------

    def preparer(self) -> Preparer:
        """The validator and pricer of the records :meth:`record` writes, with this
        workspace's table and currency (kept: building one costs more than a record)."""
        if self._preparer is None:
            from aiusage.records.batch import Preparer

            # now=0: every record is given its own id and clock reading by record_now.
            self._preparer = Preparer(self.pricing, default_currency=self.default_currency, now=0.0)
        return self._preparer

    def record(self, **fields: Any) -> Record:
        """Validate, price and append one call (the fields of README's "The record"); the
        record written. Raises :class:`aiusage.errors.AiusageError` on an invalid field or
        an unwritable data dir."""
        from aiusage.records.tracking import record_now

        return record_now(self._written_dir, self.preparer(), fields)  # a fresh dict: **fields

    def incr(self, key: str, n: int = 1, **fields: Any) -> Record:
        """Add ``n`` to the counter ``key`` (a counter record); the record written."""
        return self.record(kind="counter", key=key, n=n, **fields)

    # -- views: the same documents as the commands' --json ----------------------------

    def report(
        self,
        *,
        period: str = "day",
        by: str | Sequence[str] = (),
        sort: str | None = None,
        limit: int | None = None,
        days: int | None = None,
        since: str | None = None,
        until: str | None = None,
        all_time: bool = False,
        stream_rows: bool = False,
        **filters: Any,
    ) -> dict[str, Any]:
        """``aiusage report --json``: usage and cost per period (× ``by``: a dimension, a
        comma-separated list or a list of them). With ``stream_rows``, ``rows`` is a
        sequence whose rows are built as they are read (bounded memory for a report of
        many groups; ``aiusage.output.json_csv.json_chunks`` writes it)."""
        from aiusage.engine.rollup import Query, group_by
        from aiusage.views.report import build_report

        now = time.time()
        rng = self.time_range(days=days, since=since, until=until, all_time=all_time, now=now)
        query = Query(
            group_by([by] if isinstance(by, str) else by),
            period,
            self.tz,
            rng,
            make_filters(**filters),
        )
        return build_report(
            self.source(), query, sort=sort, limit=limit, now=now, stream_rows=stream_rows
        )

    def top_users(
        self,
        *,
        by: str = "cost",
        limit: int = 10,
        days: int | None = None,
        since: str | None = None,
        until: str | None = None,
        all_time: bool = False,
        **filters: Any,
    ) -> dict[str, Any]:
        """``aiusage top-users --json``: the users ranked by cost, tokens or requests."""
        from aiusage.engine.rollup import Query
        from aiusage.views.report import build_top_users

        now = time.time()
        rng = self.time_range(days=days, since=since, until=until, all_time=all_time, now=now)
        query = Query((), "total", self.tz, rng, make_filters(**filters))
        return build_top_users(self.source(), query, by=by, limit=limit, now=now)

    def stats(self, **filters: Any) -> dict[str, Any]:
        """``aiusage stats --json``: the last minute, hour and 24 hours, this hour, today
        and this month."""
        from aiusage.views.stats import build_stats

        return build_stats(
            self.source(), tz=self.tz, now=time.time(), filters=make_filters(**filters)
        )

    def logs(
        self,
        *,
        limit: int = 20,
        failed_only: bool = False,
        days: int | None = None,
        since: str | None = None,
        until: str | None = None,
        all_time: bool = False,
        **filters: Any,
    ) -> list[Record]:
        """``aiusage logs --json``: the ``limit`` newest calls (default: of all time),
        newest first."""
        from aiusage.views.logs import newest_calls

        rng = self.time_range(
            days=days, since=since, until=until, all_time=all_time, default_days=None
        )
        calls, _ = newest_calls(
            self.source(),
            time_range=rng,
            limit=limit,
            filters=make_filters(**filters),
            failed_only=failed_only,
        )
        return calls

    def check(self, limits: Limits | None = None, **filters: Any) -> dict[str, Any]:
        """``aiusage check --json``: every limit (``config.yaml``'s unless given) checked
        against this month's usage of the records ``filters`` keep; ``breaches`` counts
        those over."""
        from aiusage.views.checks import build_check

        return build_check(
            self.source(),
            tz=self.tz,
            now=time.time(),
            limits=limits or self.limits(),
            filters=make_filters(**filters),
        )

    def remaining(
        self, *, user_id: str | None = None, key: str | None = None, max_age: float = 5.0
    ) -> dict[str, float]:
        """What is left of each configured limit that applies to a call by ``user_id`` with
        ``key``, in the report currency (negative when exceeded; ``{}`` with no limits or
        no data yet). Remembered for ``max_age`` seconds, so it is cheap per request."""
        from aiusage.store.dayfiles import require_data_dir
        from aiusage.views.checks import Limits, build_check

        now = time.time()
        hit = self._memo.get((user_id, key))
        if hit is not None and now - hit[0] < max_age:
            return dict(hit[1])
        limits = Limits(
            daily_budget=self.config.budgets.get("daily"),
            monthly_budget=self.config.budgets.get("monthly"),
            user_quotas={u: q for u, q in self.config.user_quotas.items() if u == user_id},
            key_limits={k: q for k, q in self.config.key_limits.items() if k == key},
        )
        left: dict[str, float] = {}
        for directory in self.dirs:
            require_data_dir(directory)
        if limits:
            doc = build_check(self.source(), tz=self.tz, now=now, limits=limits)
            left = {c["check"]: c["limit"] - c["value"] for c in doc["checks"]}
        self._memo[(user_id, key)] = (now, left)
        self._memo.move_to_end((user_id, key))
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return dict(left)

    def would_exceed(
        self,
        cost: float,
        *,
        user_id: str | None = None,
        key: str | None = None,
        max_age: float = 5.0,
    ) -> bool:
        """Whether spending ``cost`` more now would go over a limit :meth:`remaining` reports."""
        left = self.remaining(user_id=user_id, key=key, max_age=max_age)
        return any(cost > amount for amount in left.values())

    def counter(self, key: str, *, since: str | None = None, until: str | None = None) -> int:
        """The value of counter ``key`` over a range (default: all time): what ``incr``
        counted plus what call records imply (``api.total_requests``, ...)."""
        from aiusage.views.counters import build_counters

        now = time.time()
        rng = self.time_range(since=since, until=until, default_days=None, now=now)
        doc = build_counters(self.source(), tz=self.tz, time_range=rng, now=now, prefix=key)
        return sum(row["value"] for row in doc["counters"] if row["key"] == key)


FILTERS = ("user", "model", "function", "provider", "session", "anchor", "key")


def make_filters(
    *,
    user: Sequence[str] | str | None = None,
    model: Sequence[str] | str | None = None,
    function: Sequence[str] | str | None = None,
    provider: Sequence[str] | str | None = None,
    session: Sequence[str] | str | None = None,
    anchor: Sequence[str] | str | None = None,
    key: Sequence[str] | str | None = None,
    tag: Mapping[str, str] | Sequence[str] | str | None = None,
    **unknown: Any,
) -> Filters:
    """Filters from the filter options: each a value or several (any of them matches);
    ``tag`` a mapping or ``KEY=VALUE`` strings (all must match)."""
    from aiusage.engine.rollup import Filters

    if unknown:
        raise UsageError(
            f"unknown filter {sorted(unknown)[0]!r} (filters: {', '.join(FILTERS)}, tag)"
        )
    if isinstance(tag, str):
        tag = [tag]

    given = {
        "user": user,
        "model": model,
        "function": function,
        "provider": provider,
        "session": session,
        "anchor": anchor,
        "key": key,
    }
    fields = {
        name: frozenset([values] if isinstance(values, str) else values)
        for name, values in given.items()
        if values
    }
    tags = dict(tag) if isinstance(tag, Mapping) else parse_tags(tag)
    return Filters(fields=fields, tags=tags)


def parse_tags(values: Sequence[str] | None, flag: str = "--tag") -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict."""
    tags = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} expects KEY=VALUE, got {item!r}")
        tags[key] = value
    return tags


def open(data_dir: DirsArg = None, **settings: Any) -> Workspace:
    """A :class:`Workspace` over ``data_dir`` (one, several, globs, or ``None`` for the
    default); ``settings`` as :class:`Workspace` takes them."""
    return Workspace(data_dir, **settings)


# The module-level API (aiusage.record(), remaining(), ...) keeps one workspace per data dir
# it was asked about — a few in any real process; bounded all the same, since a long-running
# service must not grow without end.
DEFAULTS_KEPT = 8
RECHECK = 1.0  # seconds between looks at a default workspace's config.yaml and pricing.yaml
_defaults: OrderedDict[tuple[str | None, str | None], tuple[float, Workspace]] = OrderedDict()


def default_workspace(data_dir: PathLike | None = None) -> Workspace:
    """The workspace the module-level API uses for ``data_dir`` (``None``: the default dir),
    read again when its ``config.yaml`` or ``pricing.yaml`` changed (looked at most once
    a second, so a busy service does not stat them on every call)."""
    key = (None if data_dir is None else os.fspath(data_dir), os.environ.get("AIUSAGE_HOME"))
    now = time.monotonic()
    hit = _defaults.get(key)
    if hit is not None:
        checked, workspace = hit
        if now - checked < RECHECK:
            return workspace
        if workspace.is_current():
            _defaults[key] = (now, workspace)
            return workspace
    workspace = Workspace(data_dir)
    _defaults[key] = (now, workspace)
    _defaults.move_to_end(key)
    while len(_defaults) > DEFAULTS_KEPT:
        _defaults.popitem(last=False)
    return workspace
