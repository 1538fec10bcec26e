"""``onewindow verify FILE --trust BUNDLE``: is this sealed document genuine, offline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from signing.cli.arguments import print_json, rfc3339_time
from signing.errors import SigningError


def cmd_verify(args: argparse.Namespace) -> int:
    from signing.verify.trust import load_trust_bundle
    from signing.verify.verifier import verify_document

    trust = load_trust_bundle(args.trust, root_fingerprint=args.root_fingerprint)
    try:
        document = json.loads(Path(args.file).read_bytes())
    except OSError as exc:
        raise SigningError(f"cannot read {args.file}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SigningError(f"{args.file} is not JSON: {exc}") from None
    checker = None
    if args.audit_key:
        from signing.audit.checkpoint import load_public_key
        from signing.audit.document_proof import audit_checker

        try:
            checker = audit_checker(load_public_key(Path(args.audit_key).read_bytes()))
        except OSError as exc:
            raise SigningError(f"cannot read audit key {args.audit_key}: {exc.strerror}") from None
        except ValueError as exc:
            raise SigningError(f"{args.audit_key} is not an audit public key: {exc}") from None
    report = verify_document(document, trust, at=args.at, audit_checker=checker)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.render())
    return 0 if report.passed else 1


def register(subparsers: Any) -> None:
    """Add ``verify`` to an argparse ``_SubParsersAction``."""
    p = subparsers.add_parser(
        "verify",
        help="verify a sealed document offline",
        description="verify a sealed document offline",
    )
    p.add_argument("file")
    p.add_argument("--trust", required=True, metavar="BUNDLE", help="district trust bundle")
    p.add_argument(
        "--root-fingerprint",
        metavar="SHA256",
        help="pin the district root (as published by the bureau)",
    )
    p.add_argument("--at", type=rfc3339_time, help="validation time (default now)")
    p.add_argument(
        "--audit-key",
        metavar="PEM",
        help="district audit public key: also check the document's audit-log inclusion proof, if it carries one",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_verify)
