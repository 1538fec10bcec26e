"""Time limits (办理时限): the day a request is promised for, and which requests are past it.

Each catalogue item promises a number of working days (``time_limit_days``;
0 = on the spot). The promise runs from the day after acceptance, on the
official calendar in China Standard Time, and is stored on the request when
it is accepted (``due_on``) so that a later change of the calendar or the
catalogue never moves a date the applicant was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from gateway.catalogue.items import Item
from gateway.personal_data.identifiers import CHINA_STANDARD_TIME
from gateway.service.calendar import CalendarYearUnknown, OfficialCalendar


@dataclass(frozen=True)
class DueDate:
    """The promised day, or why there is none (the calendar of its year is not known yet)."""

    on: date | None
    unknown: str | None = None  # one line for the integrator and the operator when ``on`` is None


def accepted_on(accepted_at: datetime) -> date:
    """The calendar day of an acceptance at a window in China (a kiosk at 01:00 Beijing time counts that day)."""
    return accepted_at.astimezone(CHINA_STANDARD_TIME).date()


def due_date(calendar: OfficialCalendar, item: Item, accepted_at: datetime) -> DueDate:
    """When a request for ``item`` accepted at ``accepted_at`` is due; never a guess.

    A year the calendar does not know leaves the date open with the reason:
    the applicant's request is still accepted (refusing it would not make the
    calendar known), and the request resource and receipt say why no date is given.
    """
    try:
        return DueDate(calendar.add_working_days(accepted_on(accepted_at), item.time_limit_days))
    except CalendarYearUnknown as exc:
        return DueDate(None, str(exc))


def is_overdue(due_on: str | None, finished: bool, today: date) -> bool:
    """Not finished and due before ``today`` (China Standard Time)."""
    return due_on is not None and not finished and date.fromisoformat(due_on) < today
