"""``onewindow calendar``: what the official calendar says, as time limits count it.

``onewindow calendar due DATE DAYS`` prints the due date of a request
accepted on DATE with a time limit of DAYS working days -- the same count
intake makes -- and ``onewindow calendar years`` the years the calendar
knows and the district's closures. A year it does not know is a one-line
error (exit 2), never a guess: check before the new year that the next one
is known (docs/operations.md, "Time limits and the official calendar").
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from typing import Any

from gateway.cli.config import add_config_option
from gateway.config import load_settings
from gateway.errors import CommandError
from gateway.service.calendar import MAX_WORKING_DAYS, load_calendar


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"expected a date as YYYY-MM-DD, not {text[:40]!r}") from None


def cmd_due(args: argparse.Namespace) -> int:
    """``onewindow calendar due DATE DAYS``."""
    accepted = _date(args.accepted)
    if not 0 <= args.days <= MAX_WORKING_DAYS:
        raise CommandError(f"DAYS must be 0 to {MAX_WORKING_DAYS} working days, not {args.days}")
    calendar = load_calendar(load_settings(args.config).calendar)
    due = calendar.add_working_days(accepted, args.days)  # CalendarYearUnknown: one line, exit 2
    skipped = [
        accepted + timedelta(days=n)
        for n in range(1, (due - accepted).days)
        if not calendar.is_working_day(accepted + timedelta(days=n))
    ]
    days_off = f"{len(skipped)} day(s) off between"
    print(f"{due.isoformat()}  ({args.days} working day(s) after {accepted.isoformat()}; {days_off})")
    return 0


def cmd_years(args: argparse.Namespace) -> int:
    """``onewindow calendar years``."""
    calendar = load_calendar(load_settings(args.config).calendar)
    known = calendar.known
    extra = sorted(set(calendar.known_years) - set(known))
    print(f"official calendar known for {known.start}-{known.stop - 1}" + (f" and {extra}" if extra else ""))
    shown = ", ".join(d.isoformat() for d in sorted(calendar.closures)[:10])
    more = " …" if len(calendar.closures) > 10 else ""
    print(f"local closures: {len(calendar.closures)}" + (f" ({shown}{more})" if calendar.closures else ""))
    return 0


def register(sub: Any) -> None:
    """Add ``calendar due`` and ``calendar years`` to the ``onewindow`` command."""
    parser = sub.add_parser(
        "calendar",
        help="the official calendar time limits count on: a due date, the years known",
        description="Working days on the official calendar of holidays and swapped working days, with local closures.",
    )
    commands = parser.add_subparsers(dest="calendar_command", required=True, metavar="COMMAND")
    due = add_config_option(
        commands.add_parser("due", help="the due date of a request accepted on DATE with a limit of DAYS working days")
    )
    due.add_argument("accepted", metavar="DATE", help="the day of acceptance, YYYY-MM-DD (China Standard Time)")
    due.add_argument("days", metavar="DAYS", type=int, help="the time limit in working days (0 = on the spot)")
    due.set_defaults(func=cmd_due)
    years = add_config_option(commands.add_parser("years", help="the years the calendar knows, and the closures"))
    years.set_defaults(func=cmd_years)
