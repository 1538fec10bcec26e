"""``onewindow purge``: remove the personal data of requests finished longer ago than the district keeps it.

Run it daily (a systemd timer or cron, docs/operations.md). The cut-off is
``[retention] finished_after_days`` unless ``--older-than-days`` says
otherwise; the act is recorded in the audit log before anything is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from datetime import timedelta
from typing import Any

from gateway.audit.admin import record_admin_act
from gateway.cli.config import add_config_option
from gateway.config import load_settings
from gateway.errors import CommandError
from gateway.observability.logs import configure_logging
from gateway.store import make_store, require_existing_store, utcnow

BATCH = 500


async def _purge(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    configure_logging(settings.log_level, json=settings.log_format == "json")
    days = settings.retention.finished_after_days if args.older_than_days is None else args.older_than_days
    if not 1 <= days <= 36500:
        raise CommandError(f"--older-than-days must be 1 to 36500, not {days}")
    require_existing_store(settings.store_url)
    now = utcnow()
    cutoff = now - timedelta(days=days)
    store = make_store(settings.store_url)
    await store.open()
    try:
        due = await store.count_purgeable(cutoff)
        if args.dry_run or not due:
            verb = "would purge" if args.dry_run else "purged"
            print(f"{verb} {due} request(s) finished before {cutoff:%Y-%m-%d %H:%M} UTC ({days} days)")
            return 0
        await record_admin_act(settings, "retention_purge", by=args.by, finished_before=cutoff.isoformat(), due=due)
        purged = 0
        while True:
            ids = await store.purge_finished(cutoff, now=now, limit=BATCH)
            purged += len(ids)
            if len(ids) < BATCH:
                break
    finally:
        await store.close()
    print(
        f"purged {purged} request(s) finished before {cutoff:%Y-%m-%d %H:%M} UTC ({days} days): envelopes, "
        "results and stored answers removed; statuses and audit entries kept"
    )
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """``onewindow purge``."""
    return asyncio.run(_purge(args))


def register(sub: Any) -> None:
    """Add ``purge`` to the ``onewindow`` command."""
    who = getpass.getuser()
    parser = add_config_option(
        sub.add_parser(
            "purge",
            help="remove envelopes and results of requests finished past the retention period",
            description="Remove the personal data of finished requests older than [retention] finished_after_days.",
        )
    )
    parser.add_argument("--older-than-days", type=int, metavar="DAYS", help="override the configured retention")
    parser.add_argument("--dry-run", action="store_true", help="only count what would be purged")
    parser.add_argument("--by", default=who, help=f"who is acting (default: {who}; recorded in the audit log)")
    parser.set_defaults(func=cmd_purge)
