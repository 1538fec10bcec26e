"""``onewindow verify FILE --trust BUNDLE``: is this sealed document genuine, offline.

Genuine only against a pinned district root: ``--root-fingerprint``, the
trust store (``--trust-store``, ``$ONEWINDOW_TRUST_STORE``, default
``~/.config/onewindow/trusted-roots.json``) or ``--trust-on-first-use``,
which records the root with a loud notice.  Without a pin the verdict is
INDETERMINATE and stderr says how to pin.  Every verdict shows the root
fingerprint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from signing.cli.arguments import print_json, rfc3339_time
from signing.errors import NotJsonError, SigningError


def cmd_verify(args: argparse.Namespace) -> int:
    from signing.verify.pinning import TrustStore, default_trust_store_path, how_to_pin
    from signing.verify.trust import load_trust_bundle

    store = TrustStore(Path(args.trust_store) if args.trust_store else default_trust_store_path())
    trust = load_trust_bundle(
        args.trust, root_fingerprint=args.root_fingerprint, trust_store=store, first_use=args.trust_on_first_use
    )
    if trust.recorded_pin is not None:
        pin = trust.recorded_pin
        print(
            f"NOTICE: trusting district {pin.district} ({pin.name}) root sha256 {pin.sha256} ON FIRST USE; "
            f"recorded in {store.path}. Compare it with the fingerprint the district bureau publishes now: if they "
            f"differ, remove it (onewindow trust unpin {pin.district} {pin.sha256}) and treat this verdict as void.",
            file=sys.stderr,
        )
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read {args.file}: {exc.strerror}") from None
    passed = _verify_printout(args, data, trust) if data[:5] == b"%PDF-" else _verify_json(args, data, trust)
    if trust.anchor is None:
        print(f"not genuine without a pin: {how_to_pin(trust.district, trust.root_fingerprint)}", file=sys.stderr)
    return 0 if passed else 1


def _judging(args: argparse.Namespace) -> dict[str, Any]:
    """How the verdict is reached, from the options: validation time, audit key, stale bundles."""
    return {
        "at": args.at,
        "audit_checker": _audit_checker(args.audit_key),
        "accept_stale_bundle": args.accept_stale_bundle,
    }


def _verify_json(args: argparse.Namespace, data: bytes, trust: Any) -> bool:
    """A sealed result (or the request resource carrying it)."""
    from signing.verify.reading import verify_text

    try:
        verified = verify_text(data, trust, **_judging(args))
    except NotJsonError as exc:
        raise SigningError(f"{args.file} is not JSON: {exc}") from None
    report = verified.report
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.render())
    return report.passed


def _verify_printout(args: argparse.Namespace, data: bytes, trust: Any) -> bool:
    """A printout: the PDF's verdict first, then the verdict on the sealed JSON it carries."""
    from signing.printout.verify_pdf import verify_printout

    result = verify_printout(data, trust, **_judging(args), tsa_roots=_tsa_roots(args.tsa_root))
    inner = result.document_report
    if args.json:
        print_json({"report": result.report.to_dict(), "document_report": inner.to_dict() if inner else None})
    else:
        print("打印件 PDF printout")
        print(result.report.render())
        if inner is not None:
            print("\n所附盖章 JSON 原件 The sealed JSON inside")
            print(inner.render())
    return result.report.passed


def _tsa_roots(paths: list[str] | None) -> tuple[bytes, ...]:
    """DER certificates from the ``--tsa-root`` PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    roots: list[bytes] = []
    for path in paths or ():
        try:
            roots += [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(Path(path).read_bytes())]
        except OSError as exc:
            raise SigningError(f"cannot read time-stamping authority root {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise SigningError(f"{path} holds no PEM certificate: {exc}") from None
    return tuple(roots)


def _audit_checker(path: str | None) -> Any:
    if not path:
        return None
    from signing.audit.checkpoint import load_public_key
    from signing.audit.document_proof import audit_checker

    try:
        return audit_checker(load_public_key(Path(path).read_bytes()))
    except OSError as exc:
        raise SigningError(f"cannot read audit key {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise SigningError(f"{path} is not an audit public key: {exc}") from None


def register(subparsers: Any) -> None:
    """Add ``verify`` to an argparse ``_SubParsersAction``."""
    p = subparsers.add_parser(
        "verify",
        help="verify a sealed document offline",
        description="Verify a sealed document (or a request resource carrying one), or a PDF printout, offline. "
        "Exit 0 only for "
        "TOTAL_PASSED, which needs the district root pinned: --root-fingerprint, the trust store, or "
        "--trust-on-first-use.",
    )
    p.add_argument("file", help="the sealed result, the request resource whose 'result' it is, or a printout (PDF)")
    p.add_argument("--trust", required=True, metavar="BUNDLE", help="district trust bundle")
    p.add_argument(
        "--root-fingerprint",
        metavar="SHA256",
        help="pin the district root for this run (the fingerprint the bureau publishes)",
    )
    p.add_argument(
        "--trust-store",
        metavar="FILE",
        help="file of pinned district roots (default $ONEWINDOW_TRUST_STORE or ~/.config/onewindow/trusted-roots.json)",
    )
    p.add_argument(
        "--trust-on-first-use",
        action="store_true",
        help="if the trust store knows no root for this district, trust this bundle's and record it (loud notice)",
    )
    p.add_argument(
        "--accept-stale-bundle",
        action="store_true",
        help="judge with a bundle past its next_update as if fresh (the verdict says so) instead of TRY_LATER",
    )
    p.add_argument("--at", type=rfc3339_time, help="validation time (default now)")
    p.add_argument(
        "--audit-key",
        metavar="PEM",
        help="district audit public key: also check the document's audit-log inclusion proof, if it carries one",
    )
    p.add_argument(
        "--tsa-root",
        action="append",
        metavar="PEM",
        help="for a printout: a trusted time-stamping authority root (repeatable); its time-stamp is then a proof of "
        "existence",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_verify)
