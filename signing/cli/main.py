"""The seal package's command line: ``seal ...``, the offline ``verify`` and ``audit check-proof``.

``register(subparsers)`` is the contract with the gateway's ``onewindow``
command: it adds the ``seal``, ``verify``, ``render`` and ``trust`` subcommands to an argparse
subparsers object, and every leaf sets ``func(args) -> int``.  ``main``
gives the same commands to security staff who installed only
``onewindow-signing``.  Exit codes: 0 success (for ``verify``: TOTAL_PASSED
only), 1 any other verdict, 2 bad input or a refused operation (one line
on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from signing.cli import render, seal, trust, verify
from signing.cli.render import LayoutSource
from signing.errors import SigningError


def register(subparsers: Any, *, layouts: LayoutSource | None = None) -> None:
    """Add ``seal``, ``verify``, ``render`` and ``trust`` to an argparse ``_SubParsersAction``.

    ``layouts`` maps an item code to its printout layout (the gateway passes its catalogue's).
    """
    seal.register(subparsers)
    verify.register(subparsers)
    render.register(subparsers, layouts)
    trust.register(subparsers)


def run(args: argparse.Namespace) -> int:
    """Call the chosen command; turn refusals into one line on stderr and exit 2."""
    try:
        return int(args.func(args))
    except SigningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``onewindow`` from ``onewindow-signing`` and of ``python -m signing``."""
    from signing.cli.audit import register_audit_offline

    parser = argparse.ArgumentParser(prog="onewindow", description="Onewindow seals and offline audit proofs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register(subparsers)
    register_audit_offline(subparsers)  # security staff check audit-log proofs with only onewindow-signing installed
    return run(parser.parse_args(argv))
