"""``onewindow audit check-proof``: check an audit proof file offline.

Lives in ``signing`` so security staff can check proofs with this package
alone. The gateway's CLI adds its own ``audit`` subcommands to the same
parser via :func:`add_check_proof_command`; a stand-alone tool uses
:func:`register_audit_offline`. Each command stores its handler as
``func`` (``args.func(args) -> exit code``).

Exit codes: 0 the proof is valid, 1 it is not, 2 bad input (unreadable or
malformed file or key), each with a one-line message.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from signing.audit.checkpoint import AuditPublicKey, Problem, key_id, load_public_key
from signing.audit.proof_files import ProofCheck, check_proof_file, embedded_public_key
from signing.errors import CheckpointFormatError, IJsonError, NotJsonError
from signing.jose import ijson

EXIT_VALID, EXIT_INVALID, EXIT_BAD_INPUT = 0, 1, 2


class _BadInput(Exception):
    """Input that cannot be checked at all (exit 2)."""


def register_audit_offline(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add an ``audit`` command to ``subparsers``; return its own subparsers."""
    audit = subparsers.add_parser(
        "audit", help="check the tamper-evident audit log", description=(__doc__ or "").split("\n")[0]
    )
    audit_subparsers = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    add_check_proof_command(audit_subparsers)
    return audit_subparsers


def add_check_proof_command(
    audit_subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``check-proof FILE [--key PUBKEY.pem]`` to an existing ``audit`` parser."""
    parser = audit_subparsers.add_parser(
        "check-proof",
        help="check an inclusion or consistency proof file offline",
        description=(
            "Check an audit-log inclusion or consistency proof against the district audit "
            "key. Exit 0 valid, 1 invalid, 2 bad input."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="proof file (JSON); '-' reads stdin")
    parser.add_argument(
        "--key",
        metavar="PUBKEY.pem",
        help="the district audit public key; must match the key embedded in FILE, if any",
    )
    parser.set_defaults(func=run_check_proof)
    return parser


def run_check_proof(args: argparse.Namespace) -> int:
    """Handler of ``audit check-proof``: print one verdict line, return the exit code."""
    try:
        doc = _load_json(args.file)
        trusted, pinned = _resolve_key(doc, args.key)
    except _BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = check_proof_file(doc, trusted)
    if result.problem is Problem.MALFORMED:
        print(f"error: malformed proof file: {result.reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not result.ok:
        print(f"INVALID ({result.problem}): {result.reason}")
        return EXIT_INVALID
    print(_valid_line(result, trusted, pinned))
    return EXIT_VALID


def _load_json(path: str) -> Any:
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _BadInput(f"cannot read {path}: {exc}") from exc
    try:
        return ijson.loads(text)  # two readers must never see two different proofs: duplicates refused
    except NotJsonError as exc:
        raise _BadInput(f"{path} is not valid JSON: {exc}") from None
    except IJsonError as exc:
        raise _BadInput(f"{path} is not I-JSON (RFC 7493): {exc}") from None


def _resolve_key(doc: Any, key_path: str | None) -> tuple[AuditPublicKey, bool]:
    """The key to trust and whether the user pinned it with ``--key``."""
    try:
        embedded = embedded_public_key(doc) if isinstance(doc, dict) else None
    except CheckpointFormatError as exc:
        raise _BadInput(str(exc)) from exc
    if key_path is None:
        if embedded is None:
            raise _BadInput("no audit public key in the file: pass --key PUBKEY.pem")
        return embedded, False
    try:
        with open(key_path, "rb") as handle:
            return load_public_key(handle.read()), True
    except OSError as exc:
        raise _BadInput(f"cannot read {key_path}: {exc}") from exc
    except ValueError as exc:
        raise _BadInput(f"{key_path}: {exc}") from exc


def _valid_line(result: ProofCheck, trusted: AuditPublicKey, pinned: bool) -> str:
    line = f"VALID {result.kind}: {result.reason}"
    if result.checkpoint is not None:
        issued = result.checkpoint.issued_at.isoformat(timespec="milliseconds")
        line += f"; checkpoint of {issued.replace('+00:00', 'Z')}"
    line += f", key {key_id(trusted)}"
    if not pinned:
        line += " (the key embedded in the file: compare it with the district's, or pass --key)"
    return line
