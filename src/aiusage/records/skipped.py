"""What a pass tells of the lines that were not records (:class:`Skipped`): apart from
:mod:`aiusage.records.reader`, which fills it, so that a rollup holds one without importing the
reader (and msgspec) — a report with no day file to read never needs it."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LOCATIONS = 1000  # how many problem lines are remembered (all are counted)


@dataclass
class Skipped:
    """Lines that were not records: how many, and where (file, line, reason) the first
    :data:`MAX_LOCATIONS` of them are."""

    count: int = 0
    locations: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def first(self) -> tuple[str, int, str] | None:
        """The first skipped line's location."""
        return self.locations[0] if self.locations else None

    def add(self, path: str, lineno: int, reason: str) -> None:
        """Count one skipped line."""
        self.count += 1
        if len(self.locations) < MAX_LOCATIONS:
            self.locations.append((path, lineno, reason))

    def merge(self, other: Skipped) -> None:
        """Add another count and its locations."""
        self.count += other.count
        room = MAX_LOCATIONS - len(self.locations)
        self.locations.extend(other.locations[:room])
