"""What the seal commands share: the registry directory, times as arguments, JSON on stdout."""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from signing.model import parse_time

PKI_ENV = "ONEWINDOW_PKI_DIR"
DEFAULT_PKI = "var/pki"


def pki_dir(args: argparse.Namespace) -> Path:
    """The registry directory: ``--pki``, else ``$ONEWINDOW_PKI_DIR``, else ``var/pki``."""
    return Path(getattr(args, "pki", None) or os.environ.get(PKI_ENV) or DEFAULT_PKI)


def open_registry(args: argparse.Namespace) -> Any:
    """The seal registry the command names (imported late: ``--help`` needs no registry code)."""
    from signing.registry.seal_registry import SealRegistry

    return SealRegistry.open(pki_dir(args))


def rfc3339_time(text: str) -> datetime:
    """An argparse type: an RFC 3339 time with offset."""
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time with offset") from None


def print_json(data: Any) -> None:
    """``data`` as indented JSON, Chinese left readable."""
    print(json.dumps(data, ensure_ascii=False, indent=2))
