"""``onewindow ratings``: the applicants' ratings (好差评), and closing the follow-ups bad ones open.

``list`` shows ratings newest first (``--open``: only those whose follow-up
is still open; ``--office``: one office's); ``close`` closes a follow-up
with the operator's note, after recording the act in the audit log
(``admin.rating_follow_up_closed``): a closure the log cannot take is not
done. The note is kept and recorded with identifiers and the applicant's
name masked, like a rating's comment.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from typing import Any

from gateway.audit.admin import record_admin_act
from gateway.config import load_settings
from gateway.errors import RatingsCommandError
from gateway.observability.logs import configure_logging
from gateway.ratings.book import Rating, RatingBook
from gateway.ratings.rating import masked_text
from gateway.store import Store, make_store, require_existing_store, utcnow

NOTE_MAX_CHARS = 1000


def _when(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def rating_json(rating: Rating) -> dict[str, Any]:
    """A rating for an operator: no envelope, the comment as kept (masked)."""
    follow_up = rating.follow_up
    return {
        "rating": rating.id,
        "request_id": rating.request_id,
        "bundle_id": rating.bundle_id,
        "office": rating.office,
        "channel": rating.channel,
        "caller": rating.caller_id,
        "item": rating.item,
        "grade": str(rating.grade),
        "grade_zh": rating.grade.zh,
        "tags": list(rating.tags),
        "comment": rating.comment,
        "rated_at": _when(rating.rated_at),
        "follow_up": None
        if follow_up is None
        else {
            "id": follow_up.id,
            "status": "open" if follow_up.open else "closed",
            "opened_at": _when(follow_up.opened_at),
            "closed_at": _when(follow_up.closed_at),
            "closed_by": follow_up.closed_by,
            "note": follow_up.note,
        },
    }


async def _open(args: argparse.Namespace) -> tuple[Any, Store]:
    settings = load_settings(args.config)
    configure_logging(settings.log_level, json=settings.log_format == "json")
    require_existing_store(settings.store_url)
    store = make_store(settings.store_url)
    await store.open()
    return settings, store


async def _list(args: argparse.Namespace) -> int:
    settings, store = await _open(args)
    try:
        if args.office is not None and args.office not in settings.offices:
            raise RatingsCommandError(f"no office {args.office} in the configuration")
        ratings = await RatingBook(store).listing(open_only=args.open, office=args.office, limit=args.limit)
    finally:
        await store.close()
    rows = [rating_json(r) for r in ratings]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        follow = r["follow_up"]
        state = "" if follow is None else f"  follow-up {follow['id']} {follow['status']}"
        tags = ",".join(r["tags"]) or "-"
        print(f"{r['rated_at']}  {r['office']}  {r['item']:<30} {r['grade_zh']:<5} {tags}{state}")
        if r["comment"]:
            print(f"    comment: {r['comment']}")
        if follow is not None and follow["note"]:
            print(f"    closed by {follow['closed_by']} at {follow['closed_at']}: {follow['note']}")
    which = "with an open follow-up" if args.open else "in all"
    print(f"{len(rows)} rating(s) {which}. 'onewindow ratings close FOLLOW_UP --note TEXT' closes a follow-up.")
    return 0


async def _close(args: argparse.Namespace) -> int:
    note = args.note.strip()
    if not note or len(note) > NOTE_MAX_CHARS:
        raise RatingsCommandError(f"--note must say what was done, in 1 to {NOTE_MAX_CHARS} characters")
    if not args.by.strip():
        raise RatingsCommandError("--by must name who closes the follow-up")
    settings, store = await _open(args)
    try:
        book = RatingBook(store)
        rating = await book.with_follow_up(args.follow_up)
        if rating is None or rating.follow_up is None:
            raise RatingsCommandError(f"no follow-up {args.follow_up} in the store ('onewindow ratings list --open')")
        if not rating.follow_up.open:
            raise RatingsCommandError(
                f"follow-up {args.follow_up} was closed by {rating.follow_up.closed_by} "
                f"at {_when(rating.follow_up.closed_at)}"
            )
        record = await store.get_request(rating.request_id) if rating.request_id else None
        kept = masked_text(note, record.envelope if record else None)
        act = {
            "request_id": rating.request_id,
            "bundle_id": rating.bundle_id,
            "rating": rating.id,
            "follow_up": args.follow_up,
            "office": rating.office,
            "grade": str(rating.grade),
            "by": args.by,
            "note": kept,
        }
        audited = await record_admin_act(settings, "rating_follow_up_closed", **act)
        if not await book.close_follow_up(args.follow_up, by=args.by, note=kept, now=utcnow()):
            await record_admin_act(settings, "rating_follow_up_closed_not_applied", **act)
            raise RatingsCommandError(f"follow-up {args.follow_up} was closed meanwhile; nothing was changed")
    finally:
        await store.close()
    where = "audit log" if audited is not None else "structured log"
    closed = f"follow-up {args.follow_up} ({rating.item}, {rating.grade.zh}) closed by {args.by}"
    print(f"{closed}; recorded in the {where}.")
    return 0


def _run(handler: Any) -> Any:
    def command(args: argparse.Namespace) -> int:
        return asyncio.run(handler(args))

    return command


def register(subparsers: Any) -> None:
    """Add ``onewindow ratings ...`` to the ``onewindow`` parser."""
    ratings = subparsers.add_parser("ratings", help="list the ratings (好差评); close the follow-up of a bad one")
    sub = ratings.add_subparsers(dest="ratings_command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--config", metavar="FILE", help="TOML configuration (default: $ONEWINDOW_CONFIG)")
        parser.set_defaults(func=_run(handler))
        return parser

    listing = command("list", "list ratings, newest first, with their follow-ups", _list)
    listing.add_argument("--open", action="store_true", help="only ratings whose follow-up is still open")
    listing.add_argument("--office", metavar="CODE", help="only this office's ratings")
    listing.add_argument("--limit", type=int, default=200)
    listing.add_argument("--json", action="store_true", help="print JSON")
    who = getpass.getuser()
    close = command("close", "close the follow-up of a bad rating with a note on what was done", _close)
    close.add_argument("follow_up", metavar="FOLLOW_UP")
    close.add_argument("--note", required=True, help="what was done (kept, and recorded in the audit log, masked)")
    close.add_argument("--by", default=who, help=f"who closes it (default: {who})")
