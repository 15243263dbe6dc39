"""Time: time zones, ``--since/--until/--days`` ranges and period keys (hour, day, week,
month) in a chosen zone.

Ranges are half-open ``[since, until)`` in epoch seconds. Period keys are strings:
``2026-11-22T14`` (hour), ``2026-11-22`` (day), ``2026-W47`` (ISO week), ``2026-11`` (month)
and ``total``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiusage.bounds import MAX_RANGE, MAX_TIMESTAMP, MIN_RANGE, MIN_TIMESTAMP
from aiusage.errors import UsageError

PERIODS = ("hour", "day", "week", "month", "total")
_RELATIVE_RE = re.compile(r"^(\d+)\s*([mhdw])$")
_RELATIVE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# Every UTC offset in use since the 1970s is a multiple of 15 minutes and so is every
# transition instant: period keys are computed once per 15-minute slot and cached.
SLOT_SECONDS = 900


def local_zone_name() -> str:
    """The IANA name of the machine's zone: ``$TZ``, else ``/etc/localtime``, else UTC."""
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        return env
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return "UTC"
    parts = Path(target).parts
    if "zoneinfo" in parts:
        return "/".join(parts[parts.index("zoneinfo") + 1 :])
    return "UTC"


def resolve_tz(name: str | None) -> ZoneInfo:
    """The zone named ``name`` (IANA), or the local zone when ``None``."""
    zone = name or local_zone_name()
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        if name is None:
            return ZoneInfo("UTC")
        raise UsageError(
            f"unknown time zone {zone!r} (use an IANA name like Europe/Paris)"
        ) from exc


def _local_midnight(day: dt.date, tz: ZoneInfo) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def parse_instant(text: str, tz: ZoneInfo, *, now: float, end_of_day: bool = False) -> float:
    """Epoch seconds for ``text``: ``YYYY-MM-DD`` (local midnight in ``tz``; the next
    midnight when ``end_of_day``), an ISO datetime (naive = in ``tz``), epoch seconds, or a
    relative ``7d``/``24h``/``30m``/``2w`` before ``now``. A date beyond what a calendar
    holds (the day after 9999-12-31) is a :class:`UsageError`."""
    try:
        return _instant(text.strip(), tz, now=now, end_of_day=end_of_day)
    except (OverflowError, ValueError, OSError):
        raise UsageError(f"bad date {text.strip()!r}: out of range") from None


def _instant(text: str, tz: ZoneInfo, *, now: float, end_of_day: bool) -> float:
    m = _RELATIVE_RE.match(text)
    if m:
        return now - int(m.group(1)) * _RELATIVE_UNITS[m.group(2)]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise UsageError(f"bad date {text!r}: {exc}") from exc
        return _local_midnight(day + dt.timedelta(days=1) if end_of_day else day, tz)
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"bad date {text!r}: use YYYY-MM-DD, an ISO datetime, or 7d / 24h / 30m"
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.timestamp()


@dataclass(frozen=True)
class TimeRange:
    """A half-open range ``[since, until)`` of epoch seconds; ``None`` = unbounded."""

    since: float | None
    until: float | None

    def first_day(self) -> dt.date | None:
        """The first UTC day (file) the range touches."""
        return None if self.since is None else _utc_day(self.since)

    def last_day(self) -> dt.date | None:
        """The last UTC day (file) the range touches."""
        return None if self.until is None else _utc_day(max(self.until - 1e-6, 0))

    def contains(self, ts: float) -> bool:
        """Whether ``ts`` lies in the range."""
        return (self.since is None or ts >= self.since) and (self.until is None or ts < self.until)


def _utc_day(ts: float) -> dt.date:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date()


def make_range(
    *,
    tz: ZoneInfo,
    now: float,
    days: int | None = None,
    since: str | None = None,
    until: str | None = None,
    all_time: bool = False,
    default_days: int | None = 7,
) -> TimeRange:
    """The range asked for by ``--days`` / ``--since`` / ``--until`` / ``--all``.

    ``days=N`` means the last N calendar days in ``tz``, today included. A date-only
    ``until`` includes that whole day. With nothing given, ``default_days`` applies
    (``None`` = all time).
    """
    if days is not None and days < 1:
        raise UsageError(f"--days must be at least 1, got {days}")
    if all_time and (days is not None or since or until):
        raise UsageError("--all cannot be combined with --days, --since or --until")
    if days is not None and since:
        raise UsageError("--days cannot be combined with --since")
    if all_time:
        return TimeRange(None, None)
    end = _flag_instant("--until", until, tz, now=now, end_of_day=True) if until else None
    if since:
        start: float | None = _flag_instant("--since", since, tz, now=now)
    else:
        n = days if days is not None else default_days
        if n is None:
            return TimeRange(None, end)
        ref = end - 1e-6 if end is not None else now
        today = dt.datetime.fromtimestamp(ref, tz).date()
        try:
            start = _local_midnight(today - dt.timedelta(days=n - 1), tz)
        except (OverflowError, ValueError):
            start = -math.inf  # before year 1: out of range, said below
        if start < MIN_RANGE:
            raise UsageError(f"--days {n} reaches back before 1900-01-01")
        if end is None:
            end = _local_midnight(today + dt.timedelta(days=1), tz)
    if start is not None and end is not None and start >= end:
        raise UsageError("the range is empty: --since must be before --until")
    return TimeRange(start, end)


def _flag_instant(
    flag: str, text: str, tz: ZoneInfo, *, now: float, end_of_day: bool = False
) -> float:
    """:func:`parse_instant` of a range flag's value, or a :class:`UsageError` naming the
    flag when it lies outside 1900-01-01 to 2200-01-01 (every record lies well inside)."""
    try:
        ts = parse_instant(text, tz, now=now, end_of_day=end_of_day)
    except UsageError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    if not MIN_RANGE <= ts <= MAX_RANGE:
        raise UsageError(f"{flag} {text!r} is out of range (use a date from 1900 to 2200)")
    return ts


def _key_formatter(period: str) -> Callable[[dt.datetime], str]:
    if period == "hour":
        return lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}"
    if period == "day":
        return lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    if period == "week":

        def week(d: dt.datetime) -> str:
            iso = d.isocalendar()
            return f"{iso.year:04d}-W{iso.week:02d}"

        return week
    if period == "month":
        return lambda d: f"{d.year:04d}-{d.month:02d}"
    raise UsageError(f"unknown period {period!r} (choose from {', '.join(PERIODS)})")


class PeriodKeys:
    """Maps epoch seconds to period keys in a zone, caching one key per 15-minute slot.

    Slots whose UTC offset changes inside them (historic local-mean-time offsets) are
    computed per call, so the answer is always exact.
    """

    def __init__(self, period: str, tz: ZoneInfo) -> None:
        if period not in PERIODS:
            raise UsageError(f"unknown period {period!r} (choose from {', '.join(PERIODS)})")
        self.period = period
        self.tz = tz
        self._fmt = None if period == "total" else _key_formatter(period)
        # Slot → the key of the whole slot (read directly by the pass's hot loop).
        self.known_slots: dict[int, str] = {}

    def key(self, ts: float) -> str:
        """The period key of ``ts``."""
        slot = int(ts // SLOT_SECONDS)
        if self._fmt is None:
            # Remembered per slot like any key, so the pass's lookup finds it next time.
            self.known_slots[slot] = "total"
            return "total"
        cached = self.known_slots.get(slot)
        if cached is not None:
            return cached
        return self._miss(slot, ts)

    def _miss(self, slot: int, ts: float) -> str:
        assert self._fmt is not None
        start = dt.datetime.fromtimestamp(slot * SLOT_SECONDS, self.tz)
        end = dt.datetime.fromtimestamp(slot * SLOT_SECONDS + SLOT_SECONDS - 1, self.tz)
        if start.utcoffset() == end.utcoffset():
            key = self._fmt(start)
            self.known_slots[slot] = key
            return key
        return self._fmt(dt.datetime.fromtimestamp(ts, self.tz))

    def keys_between(self, since: float, until: float) -> list[str]:
        """Every period key from ``since`` up to ``until`` (exclusive), in order."""
        if self._fmt is None:
            return ["total"]
        keys: list[str] = []
        step = 3600 if self.period == "hour" else 86400 / 4
        ts = since
        while ts < until:
            k = self.key(ts)
            if not keys or keys[-1] != k:
                keys.append(k)
            ts += step
        last = self.key(until - 1e-6)
        if keys and keys[-1] != last:
            keys.append(last)
        return keys


# Each UTC hour's text up to its minutes ("2026-11-20T08:"), by hours since the epoch: a
# few thousand a year of data.
_HOUR_TEXT: dict[int, str] = {}


def iso_utc(ts: float) -> str:
    """``ts`` as an ISO 8601 UTC string with a ``Z``, as :meth:`datetime.isoformat` writes
    it (microseconds when there are any)."""
    # A report writes two per group: made from its hour's text, rounded to microseconds as
    # datetime.fromtimestamp rounds (half to even, carrying into the seconds), it costs
    # two thirds of datetime's (a property test holds the two equal).
    frac, whole = math.modf(ts)
    micros = round(frac * 1e6)
    if not (0 <= micros < 1_000_000 and MIN_TIMESTAMP <= whole < MAX_TIMESTAMP):
        return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")
    hour, second = divmod(int(whole), 3600)
    text = _HOUR_TEXT.get(hour)
    if text is None:
        start = dt.datetime.fromtimestamp(hour * 3600, dt.UTC)
        text = _HOUR_TEXT[hour] = start.strftime("%Y-%m-%dT%H:")
    # %-formatting: a third faster than an f-string's format specs here.
    if micros:
        return "%s%02d:%02d.%06dZ" % (text, second // 60, second % 60, micros)  # noqa: UP031
    return "%s%02d:%02dZ" % (text, second // 60, second % 60)  # noqa: UP031


def iso_local(ts: float, tz: ZoneInfo) -> str:
    """``ts`` as an ISO 8601 string in ``tz`` with its offset."""
    return dt.datetime.fromtimestamp(ts, tz).isoformat()


def period_bounds(key: str, period: str, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime] | None:
    """The start and end (exclusive) of a period key in ``tz``; ``None`` for ``total``."""
    if period == "hour":
        start = dt.datetime.strptime(key, "%Y-%m-%dT%H").replace(tzinfo=tz)
        return start, dt.datetime.fromtimestamp(start.timestamp() + 3600, tz)
    if period == "day":
        day = dt.date.fromisoformat(key)
        nxt = day + dt.timedelta(days=1)
    elif period == "week":
        year, week = key.split("-W")
        day = dt.date.fromisocalendar(int(year), int(week), 1)
        nxt = day + dt.timedelta(days=7)
    elif period == "month":
        day = dt.date.fromisoformat(key + "-01")
        nxt = (day + dt.timedelta(days=32)).replace(day=1)
    else:
        return None
    return (
        dt.datetime(day.year, day.month, day.day, tzinfo=tz),
        dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz),
    )
