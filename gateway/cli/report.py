"""``onewindow report``: one month of the district's offices against the policy annex's indicators.

``--format html`` writes one self-contained page with SVG charts,
``--format csv`` one tidy table; ``--out FILE`` writes it there (0600: it
names offices and operators' counts, not applicants), else to stdout.
Progress goes to stderr, one line per step and per page of requests read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from gateway.config import Settings, load_settings
from gateway.errors import RatingsCommandError
from gateway.observability.logs import configure_logging
from gateway.report.figures import gather
from gateway.report.html import render_html
from gateway.report.month import Month
from gateway.report.table import render_csv
from gateway.store import make_store, require_existing_store


def _progress(line: str) -> None:
    print(f"report: {line}", file=sys.stderr, flush=True)


def catalogue_levels(settings: Settings) -> dict[str, int]:
    """How many catalogue items each office level may accept (empty when the catalogue cannot be loaded)."""
    from gateway.cli.config import installed_agencies

    try:
        catalogue = installed_agencies(settings).catalogue
    except Exception as exc:  # the report stands without it; the measure says why
        _progress(f"the catalogue could not be loaded ({type(exc).__name__}); items open per level not shown")
        return {}
    counts: dict[str, int] = {}
    for item in catalogue:
        for level in item.office_levels:
            counts[level] = counts.get(level, 0) + 1
    return counts


async def _report(args: argparse.Namespace) -> int:
    try:
        month = Month.parse(args.month)
    except ValueError as exc:
        raise RatingsCommandError(str(exc)) from None
    settings = load_settings(args.config)
    configure_logging(settings.log_level, json=settings.log_format == "json")
    offices = list(settings.offices.values())
    if args.office is not None:
        offices = [o for o in offices if o.code == args.office]
        if not offices:
            raise RatingsCommandError(f"no office {args.office} in the configuration")
    require_existing_store(settings.store_url)
    store = make_store(settings.store_url)
    await store.open()
    try:
        _progress(f"{month.label} for {len(offices)} office(s) from the {store.backend} store")
        district = await gather(store, month, offices, progress=_progress)
    finally:
        await store.close()
    _progress("loading the catalogue")
    catalogue = catalogue_levels(settings)
    _progress(f"rendering {args.format}")
    text = render_html(district, catalogue) if args.format == "html" else render_csv(district, catalogue)
    if args.out is None:
        sys.stdout.write(text)
    else:
        path = Path(args.out)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        _progress(f"written to {path}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``onewindow report`` to the ``onewindow`` parser."""
    parser = subparsers.add_parser(
        "report",
        help="the month's district report: each office against the annex's indicators (HTML or CSV)",
        description="The month's district report: requests by item and channel, completion, ratings and "
        "follow-ups, refusal reasons, outbox and dead letters, laid against the policy annex's indicators.",
    )
    parser.add_argument("--month", required=True, metavar="YYYY-MM", help="the month (China Standard Time)")
    parser.add_argument("--office", metavar="CODE", help="only this office")
    parser.add_argument("--format", choices=("html", "csv"), default="html")
    parser.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--config", metavar="FILE", help="TOML configuration (default: $ONEWINDOW_CONFIG)")
    parser.set_defaults(func=lambda args: asyncio.run(_report(args)))
