"""The seal commands on a gateway host: their acts also go straight into a gateway's audit log, with ``--config``.

The seal commands belong to ``signing`` (which knows nothing of the
gateway). Each change they make is recorded in the registry's own act log,
signed by the root (:mod:`signing.registry.acts`), so the bureau's machine
needs no store: run without ``--config`` (and without ``$ONEWINDOW_CONFIG``)
a seal command touches no store at all, and the gateways append its act to
their audit log when they pick the registry up
(:mod:`gateway.audit.registry_acts`). With ``--config`` -- an urgent
revocation on a gateway host, say -- the command also appends the
registry's acts that the configured store's log does not hold yet, at once;
the gateway then finds them there and does not append them again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from gateway.audit.registry_acts import append_registry_acts
from gateway.audit.setup import cli_instance, open_store
from gateway.config import Settings, load_settings

SEAL_ACTS = ("init-district", "issue", "revoke", "suspend", "reinstate")


def _pki_dir(args: argparse.Namespace) -> Path:
    from signing.cli.arguments import DEFAULT_PKI, PKI_ENV

    return Path(getattr(args, "pki", None) or os.environ.get(PKI_ENV) or DEFAULT_PKI)


async def log_registry_acts(settings: Settings, pki: Path) -> list[int]:
    """Append the acts of the registry at ``pki`` that the configured store's audit log lacks; their entries."""
    from signing import SealRegistry
    from signing.registry.acts import check_acts

    registry = SealRegistry.open(pki)
    checks = check_acts(registry.acts(), registry.root_certificate, registry.district["code"])
    refused = [check for check in checks if not check.ok]
    if refused:
        raise RuntimeError(f"the registry's act log does not hold: {refused[0].problem} ('onewindow seal acts')")
    async with open_store(settings, writing=True) as (_, audit):
        return await append_registry_acts(audit, checks, instance=cli_instance())


def _logged(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from signing import SigningError

        try:
            code = func(args)
        except SigningError as exc:  # refused, as signing's own command line reports it: nothing was recorded
            print(f"onewindow: {exc}", file=sys.stderr)
            return 2
        config = args.config or os.environ.get("ONEWINDOW_CONFIG")
        if code != 0 or not config:
            return code
        if not (args.config or os.environ.get("ONEWINDOW_CONFIG")):
            return 0  # the bureau's machine: no gateway store to write to (and none must be created there)
        try:
            settings = load_settings(config)
            if settings.audit.enabled:
                entries = asyncio.run(log_registry_acts(settings, _pki_dir(args)))
                print(f"audit log of {settings.source}: {len(entries)} registry act(s) appended")
        except Exception as exc:
            print(
                f"onewindow: the seal command succeeded and its act is in the registry, but it was not appended "
                f"to the audit log of {config}: {exc} (the gateway appends it when it picks the registry up)",
                file=sys.stderr,
            )
            return 1
        return 0

    return run


def audit_seal_commands(subparsers: argparse._SubParsersAction) -> None:
    """After ``signing.cli.main.register(subparsers)``: ``--config`` on every seal change, to log its act now."""
    seal = subparsers.choices.get("seal")
    if seal is None:
        return
    for action in seal._subparsers._group_actions if seal._subparsers else ():
        for name, parser in getattr(action, "choices", {}).items():
            func = parser.get_default("func")
            if name not in SEAL_ACTS or func is None:
                continue
            parser.set_defaults(func=_logged(func))
            parser.add_argument(
                "--config",
                metavar="FILE",
                help="also append the act to this gateway's audit log now (default: $ONEWINDOW_CONFIG; "
                "without either, no store is touched: gateways log the act when they pick the registry up)",
            )
