"""``onewindow call ITEM --data FILE --caller ID``: sign a request as an intake system does, send it, print the answer.

For integrators trying the API and for operators checking a caller's key:
the envelope from FILE (its ``item`` set to ITEM), an ``Idempotency-Key``,
a Content-Digest and an RFC 9421 signature made with the caller's key file
(:mod:`gateway.callers.signing_client`). The answer's JSON goes to standard
output; a 4xx or 5xx answer also ends the command with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from gateway.callers.signing_client import read_key_file, sign
from gateway.config import load_settings
from gateway.errors import CommandError

DEFAULT_KEY_DIR = Path("var/caller-keys")


def _envelope(item: str, path: Path) -> bytes:
    try:
        envelope = json.loads(path.read_bytes())
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CommandError(f"{path} is not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise CommandError(f"{path} must hold a JSON object (the request envelope)")
    if envelope.setdefault("item", item) != item:
        raise CommandError(f"{path} is a request for {envelope['item']!r}, not {item!r}")
    return json.dumps(envelope, ensure_ascii=False).encode("utf-8")


def send(url: str, body: bytes, headers: dict[str, str], timeout_s: float = 60.0) -> tuple[int, bytes]:
    """POST ``body`` with ``headers``; the status and the answer's bytes, whatever the status."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError) as exc:
        raise CommandError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None


def cmd_call(args: argparse.Namespace) -> int:
    base = (args.url or load_settings(args.config).public_url).rstrip("/")
    key_path = Path(args.key_file) if args.key_file else DEFAULT_KEY_DIR / f"{args.caller}.json"
    key = read_key_file(key_path, key_id=args.key_id)
    if key.caller and key.caller != args.caller:
        raise CommandError(f"{key_path} is a key of caller {key.caller!r}, not {args.caller!r}")
    body = _envelope(args.item, Path(args.data))
    url = f"{base}/v1/requests"
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": args.idempotency_key or str(uuid.uuid4()),
        **sign("POST", url, body, key),
    }
    status, answer = send(url, body, headers)
    shown: Any
    try:
        shown = json.loads(answer)
    except ValueError:
        shown = answer.decode("utf-8", "replace")
    print(json.dumps({"status": status, "body": shown}, ensure_ascii=False, indent=2))
    if status >= 400:
        print(f"onewindow: the gateway answered {status}", file=sys.stderr)
        return 1
    return 0


def register(sub: Any) -> None:
    """Add ``call`` to the ``onewindow`` command."""
    call = sub.add_parser(
        "call",
        help="sign and send a request as an intake system, print the answer",
        description="Sign a request (RFC 9421, with the caller's key file) and send it to POST /v1/requests.",
    )
    call.add_argument("item", metavar="ITEM", help="the item code, e.g. tax.payment-record")
    call.add_argument("--data", metavar="FILE", required=True, help="the request envelope (JSON)")
    call.add_argument("--caller", metavar="ID", required=True, help="the caller the key belongs to")
    call.add_argument(
        "--key-file",
        metavar="FILE",
        help=f"from 'onewindow caller add-key --out', or an Ed25519 PEM key (default: {DEFAULT_KEY_DIR}/ID.json)",
    )
    call.add_argument("--key-id", metavar="KEYID", help="the key id, for a PEM key file")
    call.add_argument("--url", metavar="URL", help="the gateway (default: server.public_url of the configuration)")
    call.add_argument("--idempotency-key", metavar="KEY", help="default: a new random one")
    call.add_argument("--config", metavar="FILE", help="TOML configuration (default: $ONEWINDOW_CONFIG)")
    call.set_defaults(func=cmd_call)
