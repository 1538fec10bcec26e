"""The official calendar (法定节假日与调休): which days are working days at a service centre.

Working days are Monday to Friday, except the public holidays the State
Council announces each year, plus the weekend days it makes working days in
exchange (调休上班). The ``chinese-calendar`` package carries those notices,
year by year; the district adds its own closures (:mod:`gateway.config.calendar`)
and, until the package knows a newly announced year, may carry that year's
notice in its closures file. A day in a year nobody told us about raises
:class:`CalendarYearUnknown`: a promised due date is never a guess.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar.constants as official

from gateway.config import CalendarSettings, parse_date
from gateway.errors import ConfigError, OperatorError

#: The most working days a time limit may count: a year and a half of them, so every count is bounded.
MAX_WORKING_DAYS = 370


class CalendarYearUnknown(OperatorError):
    """The official calendar of a year is not known (the package predates its notice); the message says what to do."""

    def __init__(self, year: int, known: range) -> None:
        self.year = year
        self.known = known
        super().__init__(
            f"the official holiday calendar of {year} is not known (chinese-calendar knows "
            f"{known.start}-{known.stop - 1}): upgrade chinese-calendar, or add the State Council's {year} "
            "notice to [calendar] closures_file"
        )


@dataclass(frozen=True)
class OfficialYear:
    """One year's notice as the closures file carries it: its holidays and its swapped working days."""

    holidays: frozenset[date]
    workdays: frozenset[date]


@dataclass(frozen=True)
class OfficialCalendar:
    """Public holidays, swapped working days and local closures; answers "is this a working day?"."""

    holidays: frozenset[date]
    workdays: frozenset[date]  # weekend days made working days in exchange
    closures: frozenset[date] = frozenset()
    known_years: frozenset[int] = field(default_factory=frozenset)

    @property
    def known(self) -> range:
        """The years the calendar covers without a gap from the first one (for messages)."""
        first = min(self.known_years)
        last = first
        while last + 1 in self.known_years:
            last += 1
        return range(first, last + 1)

    def check_year(self, day: date) -> None:
        if day.year not in self.known_years:
            raise CalendarYearUnknown(day.year, self.known)

    def is_working_day(self, day: date) -> bool:
        """True on a day a service centre is open: a weekday or swapped working day, not a holiday or closure."""
        self.check_year(day)
        if day in self.closures or day in self.holidays:
            return False
        return day.weekday() < 5 or day in self.workdays

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself not counted); ``start`` when 0.

        A time limit runs from the day after acceptance (受理次日起算): an item
        promised in 3 working days and accepted on Friday is due on Wednesday.
        """
        if not 0 <= days <= MAX_WORKING_DAYS:
            raise ValueError(f"a time limit is 0 to {MAX_WORKING_DAYS} working days, not {days}")
        if days == 0:
            self.check_year(start)
            return start
        day, counted = start, 0
        while counted < days:  # bounded: at most ~2.5 calendar days per working day in any real calendar
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end`` is not after ``start``)."""
        count, day = 0, start
        while day < end and count <= MAX_WORKING_DAYS * 3:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count


def official_calendar(
    closures: Iterable[date] = (), extra_years: Mapping[int, OfficialYear] | None = None
) -> OfficialCalendar:
    """The package's calendar, with local ``closures`` and the notices of ``extra_years`` it does not know."""
    holidays = set(official.holidays)
    workdays = set(official.workdays)
    years = {day.year for day in holidays}
    known = set(range(min(years), max(years) + 1))
    for year, notice in (extra_years or {}).items():
        if year in known:
            raise ConfigError(
                f"calendar: the official calendar of {year} is already known to chinese-calendar; "
                f"remove [official.{year}] from the closures file"
            )
        holidays |= notice.holidays
        workdays |= notice.workdays
        known.add(year)
    return OfficialCalendar(
        holidays=frozenset(holidays),
        workdays=frozenset(workdays),
        closures=frozenset(closures),
        known_years=frozenset(known),
    )


def load_calendar(settings: CalendarSettings) -> OfficialCalendar:
    """The calendar the configuration asks for: the package, inline closures and the closures file."""
    closures = set(settings.closures)
    years: dict[int, OfficialYear] = {}
    if settings.closures_file:
        file_closures, years = read_closures_file(Path(settings.closures_file))
        closures |= file_closures
    return official_calendar(closures, years)


def read_closures_file(path: Path) -> tuple[set[date], dict[int, OfficialYear]]:
    """Read a closures file; :class:`ConfigError` naming the file and the entry when it is wrong.

    ``closures = [2026-07-15, ...]`` lists local closures; ``[official.2027]``
    with ``holidays`` and ``workdays`` carries a year's State Council notice.
    """
    where = f"calendar.closures_file {path}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    unknown = set(data) - {"closures", "official"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: closures, official)")
    try:
        closures = set(_dates(data.get("closures", []), f"{where}: closures"))
        years = {int(year): _year(year, table, where) for year, table in _table(data.get("official", {}), where)}
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return closures, years


def _table(value: Any, where: str) -> Iterable[tuple[str, Any]]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: official must be a table of [official.YYYY] tables")
    for year, table in value.items():
        if not (year.isascii() and year.isdigit() and len(year) == 4):
            raise ValueError(f"{where}: [official.{year[:20]}] is not a year")
        yield year, table


def _year(year: str, table: Any, where: str) -> OfficialYear:
    if not isinstance(table, Mapping) or set(table) - {"holidays", "workdays"} or "holidays" not in table:
        raise ValueError(
            f"{where}: [official.{year}] needs holidays = [...] and may have workdays = [...], nothing else"
        )
    holidays = _dates(table["holidays"], f"{where}: official.{year}.holidays")
    workdays = _dates(table.get("workdays", []), f"{where}: official.{year}.workdays")
    stray = [d for d in (*holidays, *workdays) if d.year != int(year)]
    if stray:
        raise ValueError(f"{where}: official.{year} lists {stray[0].isoformat()}, a day of another year")
    return OfficialYear(frozenset(holidays), frozenset(workdays))


def _dates(value: Any, where: str) -> list[date]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of dates (YYYY-MM-DD)")
    return [parse_date(item, f"{where}[{i}]") for i, item in enumerate(value)]
