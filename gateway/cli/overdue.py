"""``onewindow overdue``: the requests past their promised due date (办理时限), most overdue first.

A request is overdue when it is not finished and its ``due_on`` -- fixed
when it was accepted, on the official calendar -- is before today in China
Standard Time. The same count is the ``onewindow_requests_overdue`` gauge.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from datetime import date
from typing import Any

from gateway.cli.config import add_config_option
from gateway.config import load_settings
from gateway.errors import CommandError
from gateway.personal_data.identifiers import today_in_china
from gateway.store import RequestRecord, make_store, require_existing_store

LIMIT = 1000
_OFFICE = re.compile(r"[0-9]{12}")


def overdue_table(records: list[RequestRecord], today: date) -> list[str]:
    """The table the command prints: one line per request, no personal data (ids, codes, dates)."""
    head = ("request", "office", "item", "channel", "status", "due_on", "days_late", "agency_reference")
    rows = [
        (
            r.id,
            r.office,
            r.item,
            r.channel,
            str(r.status),
            r.due_on or "",
            str((today - date.fromisoformat(r.due_on)).days) if r.due_on else "",
            r.agency_reference or "",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in (head, *rows)
    ]


async def _overdue(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    office = args.office
    if office is not None:
        if not _OFFICE.fullmatch(office):
            raise CommandError(f"--office must be a 12-digit office code, not {office[:40]!r}")
        if office not in settings.offices:
            raise CommandError(f"--office {office} is not an office of this district's configuration")
    require_existing_store(settings.store_url)
    today = today_in_china()
    store = make_store(settings.store_url)
    await store.open()
    try:
        records = await store.list_overdue(today.isoformat(), office=office, limit=LIMIT)
    finally:
        await store.close()
    if not records:
        where = f" at office {office}" if office else ""
        print(f"no request is overdue{where} on {today.isoformat()} (China Standard Time)")
        return 0
    for line in overdue_table(records, today):
        print(line)
    more = " (the first 1000)" if len(records) == LIMIT else ""
    print(f"{len(records)} request(s) overdue on {today.isoformat()} (China Standard Time){more}")
    return 0


def cmd_overdue(args: argparse.Namespace) -> int:
    """``onewindow overdue``."""
    return asyncio.run(_overdue(args))


def register(sub: Any) -> None:
    """Add ``overdue`` to the ``onewindow`` command."""
    parser = add_config_option(
        sub.add_parser(
            "overdue",
            help="list requests past their promised due date (办理时限)",
            description="List the requests not finished whose due date is before today (China Standard Time).",
        )
    )
    parser.add_argument("--office", metavar="CODE", help="only the requests accepted at this office (12 digits)")
    parser.set_defaults(func=cmd_overdue)
