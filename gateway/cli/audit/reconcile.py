"""``onewindow audit reconcile``: a store behind its witness given back its log, and what was lost listed.

Run it with the gateways stopped, after a restore made the gateway refuse to
serve (``audit.behind_witness``). It needs the district audit secret (to
chain the given-back entries) and the seal passphrase (it ends by signing a
checkpoint, which it publishes to the witness). ``--dry-run`` lists what it
would give back and what was lost, and changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.audit.keys import load_audit_public_key, load_signer, log_id
from gateway.audit.lost import LostRequest
from gateway.audit.reconcile import RECONCILED_KIND, ReconcileRefused, Reconciliation, plan, reconcile
from gateway.audit.recovery import RecoveryRefused
from gateway.audit.secret import secret_path
from gateway.audit.setup import cli_instance, open_store, optional_secret
from gateway.audit.witness import Witness, publish_to
from gateway.cli.audit.console import EXIT_OK, EXIT_PROBLEM, write_json
from gateway.config import load_settings
from gateway.errors import AuditInputError, WitnessError
from gateway.store import require_existing_store


async def reconcile_log(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    require_existing_store(settings.store_url)
    key, identity = load_audit_public_key(settings), log_id(settings)
    witness = Witness.for_settings(settings, key, identity)
    if witness is None:
        raise AuditInputError("no witness is configured ([witness] dir or url): there is nothing to reconcile with")
    if not args.dry_run and not (args.by and args.reason):
        raise AuditInputError("reconciling is an administrative act: say who (--by) and why (--reason), or --dry-run")
    signer = None if args.dry_run else load_signer(settings)  # the passphrase first: reconciling ends by signing
    if not args.dry_run and optional_secret(settings) is None:
        raise AuditInputError(f"no district audit secret at {secret_path(settings)}: reconciling needs the chain key")
    async with open_store(settings) as (store, audit):
        try:
            planned = await plan(audit, store, witness, key, identity)
            if planned is None:
                print("the store is not behind its witness: nothing to reconcile")
                return EXIT_OK
            if signer is not None:
                who = {"by": args.by, "reason": args.reason}
                planned = await reconcile(audit, planned, key, identity, fields=who, instance=cli_instance())
                signed = await audit.checkpoint(signer, identity)
                published = await publish_to(witness, audit)
        except (ReconcileRefused, RecoveryRefused, WitnessError) as exc:
            print(f"cannot reconcile: {exc}", file=sys.stderr)
            return EXIT_PROBLEM
    if args.json:
        write_json(planned.to_dict(), None)
        return EXIT_OK
    _report(planned)
    if signer is None:
        print("dry run: nothing was changed; run it again without --dry-run (with --by and --reason) to reconcile")
        return EXIT_OK
    size = signed.checkpoint.tree_size if signed else planned.seq + 1
    print(f"recorded as entry {planned.seq} ({RECONCILED_KIND}); signed checkpoint at size {size:,}, {published}")
    print("restart every gateway instance on this store: each checks the log against the witness again when it starts")
    return EXIT_OK


def _report(done: Reconciliation) -> None:
    witnessed = done.witnessed.checkpoint
    print(
        f"the store is behind its witness: its signed log ends at size {done.base:,}, the witness's at size "
        f"{witnessed.tree_size:,} ({witnessed.issued_at:%Y-%m-%dT%H:%M:%SZ})"
    )
    first = done.base + done.kept
    if witnessed.tree_size > first:
        print(
            f"{'gave' if done.seq >= 0 else 'gives'} back entries {first}..{witnessed.tree_size - 1} "
            f"({witnessed.tree_size - first:,}) from the witness: each hashes into its signed checkpoints"
        )
    if done.set_aside is not None:
        print(f"set aside the store's entries {done.set_aside[0]}..{done.set_aside[1]}: not the witness's (evidence)")
    _table(
        done.lost,
        f"lost requests ({len(done.lost)}): the store holds no row for them -- check each with its agency by its "
        "request id; a client retrying one with its Idempotency-Key gets it again under the same id",
    )
    _table(
        done.rolled_back,
        f"rolled back ({len(done.rolled_back)}): the store holds them as at the backup; the outbox delivers or polls "
        "them again under the same request id, and the agency answers with what it already did",
    )


def _table(requests: list[LostRequest], title: str) -> None:
    print(title)
    if not requests:
        return
    print(f"  {'REQUEST ID':<26}  {'ITEM':<28}  {'STATUS':<11}  {'AGENCY':<34}  {'ACCEPTED':<20}  LAST ENTRY")
    for r in requests:
        status = r.status if r.in_store is None else f"{r.status} ({r.in_store} in store)"
        called = f"{r.agency or '?'} ({'called: ' + (r.last_outcome or '?') if r.agency_called else 'not called'})"
        print(
            f"  {r.request_id:<26}  {r.item or '?':<28}  {status:<11}  {called:<34}  {_minute(r.accepted_at):<20}  "
            f"{_minute(r.last_seen_at)}  {r.caller or '?'} {r.office or ''}"
        )


def _minute(time: str | None) -> str:
    return "?" if not time else time[:19] + "Z"


def add_reconcile_command(leaf: Any) -> None:
    """Add ``audit reconcile`` (``leaf`` adds ``--config`` and the handler)."""
    p = leaf("reconcile", reconcile_log, "after a restore: give back the log from the witness, list what was lost")
    p.add_argument("--by", help="who is acting (recorded in the audit log)")
    p.add_argument("--reason", help="why, e.g. the incident number (recorded in the audit log)")
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be given back and what was lost; change nothing"
    )
    p.add_argument("--json", action="store_true", help="print the reconciliation as JSON")
