"""Time limits (办理时限) on the official calendar: due dates across holidays and swapped working days.

The expected dates are the State Council's published schedules (国务院办公厅
关于部分节假日安排的通知) for 2024, 2025 and 2026, as chinese-calendar carries them:
National Day 2024 is Oct 1-7 with Sunday Sep 29 and Saturday Oct 12 worked;
Spring Festival 2025 is Jan 28 - Feb 4 with Sunday Jan 26 and Saturday Feb 8
worked; Spring Festival 2026 is Feb 15-23 with Saturdays Feb 14 and Feb 28 worked;
National Day 2026 is Oct 1-7 with Sunday Sep 20 and Saturday Oct 10 worked.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gateway.config import CalendarSettings, load_settings
from gateway.errors import ConfigError
from gateway.service.calendar import CalendarYearUnknown, load_calendar, official_calendar
from gateway.service.time_limits import due_date

CALENDAR = official_calendar()


def due(start: str, days: int) -> str:
    return CALENDAR.add_working_days(date.fromisoformat(start), days).isoformat()


@pytest.mark.parametrize(
    ("accepted", "days", "expected", "why"),
    [
        ("2024-09-30", 3, "2024-10-10", "National Day 2024: Oct 1-7 are not counted"),
        ("2024-09-27", 1, "2024-09-29", "Sunday Sep 29 2024 is a swapped working day"),
        ("2024-10-10", 2, "2024-10-12", "Saturday Oct 12 2024 is a swapped working day"),
        ("2024-10-11", 1, "2024-10-12", "the day after the last working Friday is the swapped Saturday"),
        ("2025-01-24", 1, "2025-01-26", "Sunday Jan 26 2025 is worked before the Spring Festival"),
        ("2025-01-26", 2, "2025-02-05", "Spring Festival 2025: Jan 28 - Feb 4 are not counted"),
        ("2025-02-07", 1, "2025-02-08", "Saturday Feb 8 2025 is worked after the Spring Festival"),
        ("2026-02-12", 2, "2026-02-14", "Saturday Feb 14 2026 is worked before the Spring Festival"),
        ("2026-02-13", 3, "2026-02-25", "Spring Festival 2026: Feb 15-23 are not counted"),
        ("2026-02-27", 1, "2026-02-28", "Saturday Feb 28 2026 is worked after the Spring Festival"),
        ("2026-09-18", 1, "2026-09-20", "Sunday Sep 20 2026 is worked before National Day"),
        ("2026-09-30", 20, "2026-11-03", "twenty working days across National Day 2026 and its Saturday Oct 10"),
        ("2026-10-01", 0, "2026-10-01", "on the spot is the day of acceptance, holiday or not"),
    ],
)
def test_a_due_date_counts_working_days_on_the_official_calendar(accepted, days, expected, why) -> None:
    assert due(accepted, days) == expected, why


def test_an_ordinary_week_skips_the_weekend() -> None:
    assert due("2026-11-06", 1) == "2026-11-09"  # a Friday: due on Monday
    assert due("2026-11-02", 5) == "2026-11-09"


def test_a_local_closure_moves_the_due_date_by_a_working_day() -> None:
    closed = official_calendar([date(2026, 11, 9)])
    assert closed.add_working_days(date(2026, 11, 6), 1) == date(2026, 11, 10)


def test_a_year_the_calendar_does_not_know_is_an_error_never_a_guess() -> None:
    last = max(CALENDAR.known_years)
    with pytest.raises(CalendarYearUnknown) as caught:
        CALENDAR.add_working_days(date(last, 12, 28), 10)
    assert caught.value.year == last + 1
    assert f"{last + 1}" in str(caught.value) and "closures_file" in str(caught.value)


def test_a_time_limit_is_bounded() -> None:
    with pytest.raises(ValueError, match="0 to"):
        CALENDAR.add_working_days(date(2026, 1, 5), 10_000)


def test_acceptance_counts_in_china_standard_time() -> None:
    late_utc = datetime(2026, 11, 5, 17, 30, tzinfo=UTC)  # Friday 01:30 in Beijing
    on = due_date(CALENDAR, _item(1), late_utc).on
    assert on == date(2026, 11, 9)  # the day after Friday Nov 6 that is worked: Monday


def test_an_unknown_year_leaves_the_due_date_open_with_the_reason() -> None:
    last = max(CALENDAR.known_years)
    answer = due_date(CALENDAR, _item(20), datetime(last, 12, 20, 2, tzinfo=UTC))
    assert answer.on is None and answer.unknown is not None and str(last + 1) in answer.unknown


def test_the_closures_file_adds_closures_and_a_year_the_package_lacks(tmp_path: Path) -> None:
    year = max(CALENDAR.known_years) + 1
    file = tmp_path / "closures.toml"
    saturday = next(date(year, 1, d) for d in range(1, 8) if date(year, 1, d).weekday() == 5)
    file.write_text(
        f"closures = [2026-11-09]\n[official.{year}]\nholidays = [{year}-01-01]\nworkdays = [{saturday.isoformat()}]\n",
        encoding="utf-8",
    )
    calendar = load_calendar(CalendarSettings(closures_file=str(file), closures=(date(2026, 11, 10),)))
    assert calendar.add_working_days(date(2026, 11, 6), 1) == date(2026, 11, 11)  # both closures count
    assert not calendar.is_working_day(date(year, 1, 1))
    assert calendar.is_working_day(saturday)
    assert year in calendar.known_years


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("closures = ['2026-13-01']\n", "closures[0]"),
        ("closure = []\n", "unknown key 'closure'"),
        ("[official.2026]\nholidays = [2026-01-01]\n", "already known"),
        ("[official.2099]\nholidays = [2098-01-01]\n", "a day of another year"),
        ("[official.2099]\nworkdays = [2099-01-03]\n", "needs holidays"),
        ("closures = [", "not valid TOML"),
    ],
)
def test_a_wrong_closures_file_stops_the_start_naming_the_entry(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "closures.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_calendar(CalendarSettings(closures_file=str(file)))


def test_a_missing_closures_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_calendar(CalendarSettings(closures_file=str(tmp_path / "none.toml")))


def test_calendar_closures_are_strict_configuration() -> None:
    settings = load_settings(environ={})
    assert settings.calendar == CalendarSettings()
    from gateway.config import build_settings

    raw = dict(settings.raw)
    with pytest.raises(ConfigError, match="calendar"):
        build_settings({**raw, "calendar": {"closure": []}}, source="test")
    with pytest.raises(ConfigError, match=r"calendar.closures\[0\]"):
        build_settings({**raw, "calendar": {"closures": ["soon"]}}, source="test")
    ok = build_settings({**raw, "calendar": {"closures": ["2026-11-09", date(2026, 11, 10)]}}, source="test")
    assert ok.calendar.closures == (date(2026, 11, 9), date(2026, 11, 10))


def _item(days: int):
    from gateway.cli.config import installed_agencies

    item = installed_agencies(load_settings(environ={})).catalogue.get("property.title-reissue")
    return dataclasses.replace(item, time_limit_days=days)


async def test_the_calendar_command_gives_a_due_date_and_refuses_an_unknown_year_in_one_line() -> None:
    from tests.procs import run_cli

    code, out, err = await run_cli("calendar", "due", "2025-01-26", "2")
    assert code == 0 and out.startswith("2025-02-05 "), err
    last = max(CALENDAR.known_years)
    code, out, err = await run_cli("calendar", "due", f"{last}-12-28", "10")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"calendar of {last + 1} is not known" in err
    code, _, err = await run_cli("calendar", "due", "2026-02-30", "1")
    assert code == 2 and "YYYY-MM-DD" in err
    code, out, _ = await run_cli("calendar", "years")
    assert code == 0 and f"-{last}" in out
