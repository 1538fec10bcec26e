"""A report month: ``YYYY-MM`` in China Standard Time, the district's own calendar.

A request made at 00:30 on 1 November in Zibo was made in November, though
it is still 31 October in UTC: the month's bounds are midnight CST, turned
into UTC for the store's queries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Month:
    """One calendar month; ``start`` and ``end`` (exclusive) are aware UTC datetimes."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2026-11`` -> November 2026; ValueError for anything else."""
        match = _MONTH.match(text.strip())
        if not match or not 2000 <= int(match.group(1)) <= 2999:
            raise ValueError(f"not a month: {text[:20]!r} (expected YYYY-MM, e.g. 2026-11)")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=CHINA_STANDARD_TIME).astimezone(UTC)

    @property
    def end(self) -> datetime:
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return datetime(year, month, 1, tzinfo=CHINA_STANDARD_TIME).astimezone(UTC)

    def local(self, moment: datetime) -> datetime:
        """``moment`` on the district's clock."""
        return moment.astimezone(CHINA_STANDARD_TIME)
