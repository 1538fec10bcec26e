"""``onewindow trust pin|unpin|list``: the verifier's store of pinned district roots.

Pin a district's root once, after comparing its fingerprint with the one
the bureau publishes; ``onewindow verify`` then trusts bundles of that
district with that root and refuses bundles with any other.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from signing.cli.arguments import print_json


def _store(args: argparse.Namespace) -> Any:
    from signing.verify.pinning import TrustStore, default_trust_store_path

    return TrustStore(Path(args.trust_store) if args.trust_store else default_trust_store_path())


def cmd_pin(args: argparse.Namespace) -> int:
    store = _store(args)
    root = store.pin(args.district, args.name or "", args.fingerprint)
    print(f"district {root.district}: root {root.sha256} pinned in {store.path}")
    return 0


def cmd_unpin(args: argparse.Namespace) -> int:
    store = _store(args)
    if not store.unpin(args.district, args.fingerprint):
        print(f"district {args.district}: that root was not pinned in {store.path}")
        return 1
    print(f"district {args.district}: root unpinned from {store.path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    roots = store.all_roots()
    if args.json:
        print_json([{"district": root.district, **root.to_dict()} for root in roots])
        return 0
    print(f"trust store {store.path}: {len(roots)} pinned root(s)")
    for root in roots:
        how = "trusted on first use" if root.how == "first_use" else "pinned"
        print(f"{root.district}  {root.sha256}  {how} {root.pinned_at}  {root.name}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``trust`` and its subcommands to an argparse ``_SubParsersAction``."""
    trust = subparsers.add_parser("trust", help="pinned district roots for offline verification")
    group = trust.add_subparsers(dest="trust_command", metavar="COMMAND", required=True)
    for name, func, text in (
        ("pin", cmd_pin, "trust a district root (compare its fingerprint with the bureau's first)"),
        ("unpin", cmd_unpin, "stop trusting a district root"),
        ("list", cmd_list, "list the pinned district roots"),
    ):
        p = group.add_parser(name, help=text, description=text)
        p.add_argument(
            "--trust-store",
            metavar="FILE",
            help="default $ONEWINDOW_TRUST_STORE or ~/.config/onewindow/trusted-roots.json",
        )
        p.set_defaults(func=func)
        if name == "list":
            p.add_argument("--json", action="store_true")
        else:
            p.add_argument("district", help="6-digit district code, e.g. 370303")
            p.add_argument("fingerprint", metavar="SHA256", help="root certificate SHA-256 (hex, colons allowed)")
        if name == "pin":
            p.add_argument("--name", help="district name, for the list")
