"""The seal commands, each successful one recorded as an ``admin.seal.*`` audit entry.

The seal commands belong to ``signing`` (which knows nothing of the
gateway); :func:`audit_seal_commands` wraps them in the gateway's command
line so that each successful one is followed by its entry in the configured
store's audit log (:func:`gateway.audit.admin.record_admin_act`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.audit.admin import record_admin_act
from gateway.config import load_settings

SEAL_ACTS = {
    "init-district": "admin.seal.district_created",
    "issue": "admin.seal.issued",
    "revoke": "admin.seal.revoked",
    "suspend": "admin.seal.suspended",
    "reinstate": "admin.seal.reinstated",
}


def _pki_dir(args: argparse.Namespace) -> Path:
    from signing.cli.seal import DEFAULT_PKI, PKI_ENV

    return Path(getattr(args, "pki", None) or os.environ.get(PKI_ENV) or DEFAULT_PKI)


def _seal_numbers(args: argparse.Namespace) -> set[str]:
    from signing import SealRegistry, SigningError

    try:
        return {seal.number for seal in SealRegistry.open(_pki_dir(args)).seals()}
    except (SigningError, OSError):
        return set()


def _act_fields(command: str, args: argparse.Namespace, before: set[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {"pki": str(_pki_dir(args))}
    if command == "issue":
        issued = sorted(_seal_numbers(args) - before)
        fields.update(
            seal_number=issued[0] if len(issued) == 1 else issued,
            office=args.office,
            seal_kind=args.kind,
            scope=list(args.items or []),
        )
    elif command == "init-district":
        fields.update(district=args.district)
    else:
        fields.update(seal_number=args.number, reason=getattr(args, "reason", None))
        if getattr(args, "code", None):
            fields["reason_code"] = args.code
        if getattr(args, "at", None):
            fields["effective_at"] = args.at
    return fields


def _audited(command: str, func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from signing import SigningError

        before = _seal_numbers(args) if command == "issue" else set()
        try:
            code = func(args)
        except SigningError as exc:  # refused, as signing's own command line reports it: nothing to log
            print(f"onewindow: {exc}", file=sys.stderr)
            return 2
        if code != 0:
            return code
        if not (args.config or os.environ.get("ONEWINDOW_CONFIG")):
            return 0  # the bureau's machine: no gateway store to write to (and none must be created there)
        try:
            settings = load_settings(args.config)
            if settings.audit.enabled:
                asyncio.run(record_admin_act(settings, SEAL_ACTS[command], **_act_fields(command, args, before)))
        except Exception as exc:
            print(f"onewindow: the seal command succeeded, but its audit entry was not written: {exc}", file=sys.stderr)
            return 1
        return 0

    return run


def audit_seal_commands(subparsers: argparse._SubParsersAction) -> None:
    """After ``signing.cli.main.register(subparsers)``: log every successful seal change as an admin act."""
    seal = subparsers.choices.get("seal")
    if seal is None:
        return
    for action in seal._subparsers._group_actions if seal._subparsers else ():
        for name, parser in getattr(action, "choices", {}).items():
            func = parser.get_default("func")
            if name not in SEAL_ACTS or func is None:
                continue
            parser.set_defaults(func=_audited(name, func))
            parser.add_argument(
                "--config", metavar="FILE", help="gateway configuration whose audit log records this act"
            )
