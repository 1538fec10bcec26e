"""``onewindow audit ...``: verify the audit log, prove from it, export it, tell a request's story, recover, reconcile.

Exit codes (every command): 0 valid / done, 1 a problem was detected (or
there is nothing yet to prove it with), 2 bad input, with a one-line message.
``check-proof`` is ``signing``'s offline checker, the same one security staff
run with only ``onewindow-signing`` installed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from gateway.cli.audit.console import EXIT_BAD_INPUT
from gateway.errors import OperatorError
from signing.errors import SigningError


def _command(handler: Any) -> Any:
    """Run an async handler; turn bad input into one line on stderr and exit 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(asyncio.run(handler(args)))
        except (OperatorError, SigningError) as exc:
            print(f"onewindow audit: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``audit`` and its subcommands to the ``onewindow`` parser."""
    from gateway.cli.audit import commands
    from gateway.cli.audit.reconcile import add_reconcile_command
    from signing.cli.audit import add_check_proof_command

    audit = subparsers.add_parser(
        "audit", help="the tamper-evident audit log: verify, prove, export, show, recover, reconcile"
    )
    sub = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)

    def leaf(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument(
            "--config", metavar="FILE", help="TOML configuration (default: $ONEWINDOW_CONFIG or the sample)"
        )
        parser.set_defaults(func=_command(handler))
        return parser

    p = leaf("verify", commands.verify, "recompute the tree, check every checkpoint, name the first bad entry")
    p.add_argument("--from", dest="start", metavar="CHECKPOINT", help="start at a checkpoint: a tree size, or a file")
    p.add_argument("--bundle", metavar="FILE", help="verify an export bundle offline (no database)")
    p.add_argument("--key", metavar="PUBKEY.pem", help="the district audit public key to trust")
    p.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = leaf("prove", commands.prove, "inclusion proof of one entry against the latest checkpoint (JSON)")
    p.add_argument("entry", type=int, metavar="ENTRY", help="the entry's sequence number (see 'audit show')")
    p.add_argument("--out", metavar="FILE", help="write the proof here instead of stdout")

    p = leaf("consistency", commands.consistency, "consistency proof between two checkpoints (JSON)")
    p.add_argument("old", type=int, metavar="OLD", help="tree size of the older checkpoint")
    p.add_argument("new", type=int, metavar="NEW", help="tree size of the newer checkpoint")
    p.add_argument("--out", metavar="FILE", help="write the proof here instead of stdout")

    p = leaf("export", commands.export, "write a self-contained bundle that verifies offline")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--from", dest="start", type=int, default=0, help="first entry (rounded down to a checkpoint)")
    p.add_argument("--to", dest="end", type=int, help="end (rounded up to a checkpoint; default the latest)")

    p = leaf("show", commands.show, "the whole story of one request, in order")
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--payload-key", metavar="FILE", help="decrypt the kept raw payloads with this key")

    p = leaf("export-key", commands.export_key, "write the district audit public key (PEM) for verifiers")
    p.add_argument("file", metavar="FILE")

    leaf("init-key", commands.init_key, "create the district audit key and secret (once, beside the seal registry)")
    leaf("init-secret", commands.init_secret, "create the district audit secret (a district whose key predates it)")
    p = leaf(
        "rekey", commands.rekey, "re-encrypt the audit key under today's KDF (scrypt), optionally a new passphrase"
    )
    p.add_argument("--new-passphrase-file", metavar="FILE", help="also change the passphrase the key opens with")
    leaf("checkpoint", commands.checkpoint, "sign a checkpoint of the log as it stands now")

    p = leaf("recover", commands.recover_log, "set aside what the gateway did not write, record it, sign again")
    p.add_argument("--by", required=True, help="who is acting (recorded in the audit log)")
    p.add_argument("--reason", required=True, help="why, e.g. the incident number (recorded in the audit log)")
    add_reconcile_command(leaf)
    add_check_proof_command(sub)
