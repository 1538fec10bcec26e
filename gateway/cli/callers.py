"""``onewindow caller ...``: credentials for intake callers."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.intake.callers import new_api_key


def cmd_caller_new_key(args: argparse.Namespace) -> int:
    """``onewindow caller new-key``: a new API key, and the digest the configuration holds instead."""
    key, digest = new_api_key()
    print(f"API key (give it to the intake system once; it is not stored): {key}")
    print(f'api_key_sha256 = "{digest}"   # put this in the caller\'s [[callers]] table')
    return 0


def register(sub: Any) -> None:
    """Add ``caller new-key`` to the ``onewindow`` command."""
    caller = sub.add_parser("caller", help="manage intake callers")
    caller_sub = caller.add_subparsers(dest="caller_command", required=True, metavar="COMMAND")
    caller_sub.add_parser("new-key", help="make a new API key and the digest to configure").set_defaults(
        func=cmd_caller_new_key
    )
