"""``onewindow outbox``: what waits in the outbox, and the operator's acts on it.

``list`` and ``show`` read the configured store; ``retry`` puts a
dead-lettered or failed request back in the outbox (status ``deferred``, a
``submit`` row due now -- a running gateway delivers it with the request's
own id as the agency's dedupe key, so the agency never acts twice),
``dead-letter`` gives up on a queued one with the operator's reason, and
``drop`` stops a callback that keeps failing (a final request's callback
is the one row that no status change removes). Each changes what happens
to an applicant's request outside the normal path, so each is an
administrative act recorded in the audit log.

An act is checked first, then recorded, then done -- so the audit log
never misses one -- and the store does it in one transaction that checks
again; if a gateway changed the request in between, the act is not applied
and that is recorded too. ``dead-letter`` is refused while a gateway is
delivering the request (its outbox row is leased), since that delivery
could still settle or re-queue it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from datetime import timedelta
from typing import Any

from gateway.audit.admin import record_admin_act
from gateway.config import Settings, load_settings
from gateway.errors import OutboxCommandError
from gateway.observability.logs import configure_logging
from gateway.store import (
    AdminResult,
    OutboxEntry,
    RequestRecord,
    RequestStatus,
    Store,
    make_store,
    require_existing_store,
    utcnow,
)

RETRYABLE = (RequestStatus.DEAD_LETTER, RequestStatus.FAILED)
QUEUED = (RequestStatus.ACCEPTED, RequestStatus.DEFERRED, RequestStatus.PENDING)


async def _record(settings: Settings, kind: str, **fields: Any) -> str:
    """Record the act (see :func:`record_admin_act`) and say where it went."""
    return "audit log" if await record_admin_act(settings, kind, **fields) is not None else "structured log"


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def _row_json(entry: OutboxEntry, record: RequestRecord | None) -> dict[str, Any]:
    return {
        "request_id": entry.request_id,
        "action": entry.action,
        "status": str(record.status) if record else None,
        "item": record.item if record else None,
        "due_at": _when(entry.due_at),
        "expires_at": _when(entry.expires_at),
        "created_at": _when(entry.created_at),
        "attempts": entry.attempts,
        "last_error": entry.last_error,
        "claimed_by": entry.claimed_by,
        "lease_until": _when(entry.lease_until) if entry.lease_until else None,
    }


def _record_json(record: RequestRecord) -> dict[str, Any]:
    """The request without its envelope: no applicant data on an operator's screen."""
    return {
        "id": record.id,
        "status": str(record.status),
        "item": record.item,
        "agency": record.agency,
        "caller": record.caller_id,
        "office": record.office,
        "operator": record.operator,
        "channel": record.channel,
        "attempts": record.attempts,
        "agency_reference": record.agency_reference,
        "ticket": record.ticket,
        "created_at": _when(record.created_at),
        "updated_at": _when(record.updated_at),
        "finished_at": _when(record.finished_at) if record.finished_at else None,
        "error": record.error,
    }


async def _open(args: argparse.Namespace) -> tuple[Settings, Store]:
    settings = load_settings(args.config)
    configure_logging(settings.log_level, json=settings.log_format == "json")  # on stderr, personal data masked
    require_existing_store(settings.store_url)  # every command here is about requests a gateway already stored
    store = make_store(settings.store_url)
    await store.open()
    return settings, store


async def _list(args: argparse.Namespace) -> int:
    _, store = await _open(args)
    try:
        if args.dead:
            dead = [_record_json(r) for r in await store.list_requests(status="dead_letter", limit=args.limit)]
            if args.json:
                print(json.dumps(dead, ensure_ascii=False, indent=2))
                return 0
            for r in dead:
                reason = (r["error"] or {}).get("reason", "")
                print(f"{r['id']}  {r['item']:<30} tries {r['attempts']:>3}  {r['finished_at']}  {reason}")
            print(f"{len(dead)} dead-lettered request(s). 'onewindow outbox retry ID' puts one back in the outbox.")
            return 0
        rows = []
        for entry in await store.list_outbox(limit=args.limit):
            rows.append(_row_json(entry, await store.get_request(entry.request_id)))
    finally:
        await store.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    now = utcnow().isoformat(timespec="seconds")
    for r in rows:
        held = f"held by {r['claimed_by']} until {r['lease_until']}" if r["claimed_by"] else (r["last_error"] or "")
        print(
            f"{r['request_id']}  {r['action']:<8} {r['status'] or '?':<9} {r['item'] or '?':<30} "
            f"due {r['due_at']}  tries {r['attempts']:>3}  {held}"
        )
    print(f"{len(rows)} outbox row(s) at {now}. 'onewindow outbox list --dead' lists the dead letters.")
    return 0


async def _show(args: argparse.Namespace) -> int:
    _, store = await _open(args)
    try:
        record = await store.get_request(args.request_id)
        if record is None:
            raise OutboxCommandError(f"no request {args.request_id} in the store")
        rows = [_row_json(e, record) for e in await store.list_outbox(request_id=record.id)]
    finally:
        await store.close()
    shown: dict[str, Any] = {"request": _record_json(record), "outbox": rows}
    if args.json:
        print(json.dumps(shown, ensure_ascii=False, indent=2))
        return 0
    for key, value in shown["request"].items():
        if value is not None and key != "error":
            print(f"{key:<17} {value}")
    if record.error:
        print(f"{'error':<17} {json.dumps(record.error, ensure_ascii=False)}")
    for r in rows:
        held = f", held by {r['claimed_by']} until {r['lease_until']}" if r["claimed_by"] else ""
        print(f"outbox {r['action']:<10} due {r['due_at']}, tries {r['attempts']}{held}; {r['last_error'] or ''}")
    if not rows:
        print("outbox            (nothing waiting)")
    return 0


def _catalogue_item(settings: Settings, code: str) -> Any:
    from gateway.agencies.installed import load_registry
    from gateway.agencies.plugin_manager import plugin_manager

    item = load_registry(
        plugin_manager(disabled=settings.plugins_disabled), settings, check_settings=False
    ).catalogue.get(code)
    if item is None:
        raise OutboxCommandError(f"item {code} is no longer in the catalogue; its requests cannot be delivered")
    return item


async def _retry(args: argparse.Namespace) -> int:
    settings, store = await _open(args)
    try:
        record = await store.get_request(args.request_id)
        if record is None:
            raise OutboxCommandError(f"no request {args.request_id} in the store")
        if record.status not in RETRYABLE:
            raise OutboxCommandError(
                f"request {record.id} is {record.status}: only dead-lettered or failed requests can be retried"
            )
        item = _catalogue_item(settings, record.item)
        if not item.deferrable:
            raise OutboxCommandError(
                f"{item.code} is handled while the applicant waits and is never delivered in the background; "
                "the window submits it again"
            )
        act = {"request_id": record.id, "item": record.item, "agency": record.agency, "by": args.by}
        where = await _record(settings, "outbox_retry", **act, previous_status=str(record.status), reason=args.reason)
        now = utcnow()
        error = {"code": "requeued", "reason": args.reason, "by": args.by, "previous": record.error}
        result = await store.requeue_request(
            record.id,
            from_statuses=RETRYABLE,
            error=error,
            due_at=now,
            expires_at=now + timedelta(hours=item.max_age_hours),
        )
        if result is not AdminResult.DONE:
            await _not_applied(settings, store, "outbox_retry", act, result)
    finally:
        await store.close()
    print(f"request {record.id} ({record.item}) re-queued: status deferred, due now; recorded in the {where}.")
    return 0


async def _dead_letter(args: argparse.Namespace) -> int:
    settings, store = await _open(args)
    try:
        record = await store.get_request(args.request_id)
        if record is None:
            raise OutboxCommandError(f"no request {args.request_id} in the store")
        if record.status not in QUEUED:
            callback = any(e.action == "callback" for e in await store.list_outbox(request_id=record.id))
            raise OutboxCommandError(
                f"request {record.id} is {record.status}: only accepted, deferred or pending requests can be "
                "dead-lettered"
                + (
                    f"; to stop its waiting callback, run 'onewindow outbox drop {record.id} --reason ...'"
                    if callback
                    else ""
                )
            )
        now = utcnow()
        if any(e.lease_until and e.lease_until >= now for e in await store.list_outbox(request_id=record.id)):
            raise OutboxCommandError(
                f"request {record.id} is being delivered right now; try again when that attempt is over"
            )
        act = {"request_id": record.id, "item": record.item, "agency": record.agency, "by": args.by}
        where = await _record(
            settings, "outbox_dead_letter", **act, previous_status=str(record.status), reason=args.reason
        )
        error = {
            "code": "dead_letter",
            "reason": f"given up by an operator: {args.reason}",
            "agency": record.agency,
            "attempts": record.attempts,
            "by": args.by,
            "previous": record.error,
        }
        result = await store.abandon_request(record.id, from_statuses=QUEUED, error=error, now=utcnow())
        if result is not AdminResult.DONE:
            await _not_applied(settings, store, "outbox_dead_letter", act, result)
        if record.callback_url:
            await store.schedule(
                record.id,
                "callback",
                due_at=now,
                expires_at=now + timedelta(hours=settings.outbox.callback_max_age_hours),
            )
    finally:
        await store.close()
    note = (
        " The agency already holds it (pending): it may still decide." if record.status is RequestStatus.PENDING else ""
    )
    print(f"request {record.id} ({record.item}) dead-lettered: {args.reason}; recorded in the {where}.{note}")
    return 0


async def _drop(args: argparse.Namespace) -> int:
    """Stop one waiting callback for good (the only row that can outlive its request's final status)."""
    if args.action != "callback":
        raise OutboxCommandError(
            f"a {args.action} row is the request's own delivery: give up on the request with "
            "'onewindow outbox dead-letter' instead (only a callback can be dropped)"
        )
    settings, store = await _open(args)
    try:
        record = await store.get_request(args.request_id)
        if record is None:
            raise OutboxCommandError(f"no request {args.request_id} in the store")
        rows = {e.action: e for e in await store.list_outbox(request_id=record.id)}
        entry = rows.get(args.action)
        if entry is None:
            waiting = f" (waiting: {', '.join(sorted(rows))})" if rows else ""
            raise OutboxCommandError(f"request {record.id} has no {args.action} waiting in the outbox{waiting}")
        if entry.lease_until and entry.lease_until >= utcnow():
            raise OutboxCommandError(
                f"the {args.action} of request {record.id} is being sent right now; try again when that attempt is over"
            )
        act = {
            "request_id": record.id,
            "action": args.action,
            "item": record.item,
            "agency": record.agency,
            "by": args.by,
        }
        where = await _record(
            settings, "outbox_drop", **act, status=str(record.status), attempts=entry.attempts, reason=args.reason
        )
        result = await store.drop_outbox_row(record.id, args.action, now=utcnow())
        if result is not AdminResult.DONE:
            await _not_applied(settings, store, "outbox_drop", act, result, missing="was sent or given up")
    finally:
        await store.close()
    print(
        f"the {args.action} of request {record.id} ({record.item}, {record.status}) dropped after "
        f"{entry.attempts} attempt(s): {args.reason}; recorded in the {where}. The caller is not called back; "
        f"it can still GET /v1/requests/{record.id}."
    )
    return 0


async def _not_applied(
    settings: Settings,
    store: Store,
    kind: str,
    act: dict[str, Any],
    result: AdminResult,
    *,
    missing: str | None = None,
) -> None:
    """A gateway changed the request between the check and the act: record that the act did not happen.

    ``missing`` says what ``NOT_FOUND`` means for an act on one outbox row (the row went meanwhile).
    """
    fresh = await store.get_request(act["request_id"])
    found = str(fresh.status) if fresh else "gone"
    await _record(settings, f"{kind}_not_applied", **act, found_status=found, result=str(result))
    if result is AdminResult.BUSY:
        raise OutboxCommandError(f"request {act['request_id']} is being delivered right now; nothing was changed")
    if result is AdminResult.NOT_FOUND and missing:
        raise OutboxCommandError(
            f"the {act['action']} of request {act['request_id']} {missing} meanwhile; nothing was changed"
        )
    raise OutboxCommandError(f"request {act['request_id']} became {found} meanwhile; nothing was changed")


def _run(handler: Any) -> Any:
    def command(args: argparse.Namespace) -> int:
        return asyncio.run(handler(args))

    return command


def register(subparsers: Any) -> None:
    """Add ``onewindow outbox ...`` to the ``onewindow`` parser."""
    outbox = subparsers.add_parser("outbox", help="inspect the outbox; retry or dead-letter a request, drop a callback")
    sub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--config", metavar="FILE", help="TOML configuration (default: $ONEWINDOW_CONFIG)")
        parser.set_defaults(func=_run(handler))
        return parser

    listing = command("list", "list outbox rows (or, with --dead, the dead letters)", _list)
    listing.add_argument("--dead", action="store_true", help="list dead-lettered requests instead")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = command("show", "show one request's status, error and outbox rows", _show)
    show.add_argument("request_id", metavar="REQUEST_ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    who = getpass.getuser()
    retry = command("retry", "put a dead-lettered or failed request back in the outbox, due now", _retry)
    retry.add_argument("request_id", metavar="REQUEST_ID")
    retry.add_argument("--reason", default="", help="why (recorded in the audit log)")
    retry.add_argument("--by", default=who, help=f"who is acting (default: {who})")
    dead = command("dead-letter", "give up on a queued request, with a reason", _dead_letter)
    dead.add_argument("request_id", metavar="REQUEST_ID")
    dead.add_argument("--reason", required=True, help="why (recorded on the request and in the audit log)")
    dead.add_argument("--by", default=who, help=f"who is acting (default: {who})")
    drop = command(
        "drop",
        "stop a callback still waiting in the outbox (e.g. to a wrong URL) for good, with a reason",
        _drop,
    )
    drop.add_argument("request_id", metavar="REQUEST_ID")
    drop.add_argument(
        "--action",
        default="callback",
        choices=("submit", "poll", "callback"),
        help="the outbox row to drop: only callback (submit and poll rows go with 'dead-letter')",
    )
    drop.add_argument("--reason", required=True, help="why (recorded in the audit log)")
    drop.add_argument("--by", default=who, help=f"who is acting (default: {who})")
