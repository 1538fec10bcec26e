"""What the seal commands share: times as arguments, JSON on stdout."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from signing.model import parse_time


def rfc3339_time(text: str) -> datetime:
    """An argparse type: an RFC 3339 time with offset."""
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time with offset") from None


def print_json(data: Any) -> None:
    """``data`` as indented JSON, Chinese left readable."""
    print(json.dumps(data, ensure_ascii=False, indent=2))
