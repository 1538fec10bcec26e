"""Check a sealed document's ``seal.audit_proof`` offline: it was logged, and when.

The seal signature does not cover ``audit_proof``; this proof stands on its
own. It is an inclusion proof file (``onewindow-inclusion-proof/v1``, see
docs/audit.md) whose ``entry`` is the ``result.sealed`` entry the gateway
appended when it sealed the document. It holds when:

1. the inclusion proof verifies against a checkpoint signed by the trusted
   district audit key (RFC 9162 path to the signed root);
2. the entry is well formed, says it is entry ``leaf_index`` and is of kind
   ``result.sealed``;
3. the entry's ``document_digest`` equals ``sha256:`` + hex SHA-256 of JCS(the
   document without ``seal``) -- the same bytes the seal signed;
4. the entry's request id and seal number are the document's.

Then the signed checkpoint's time is independent evidence that the document
existed, sealed, by then: its proof of existence (POE, ETSI EN 319 102-1),
:attr:`AuditProofCheck.poe_time`. ``signing.verify.verifier`` needs it to accept a
signature of a seal later revoked for key compromise (docs/seals.md,
"Revocation, key compromise and proof of existence").
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signing.audit.checkpoint import AuditPublicKey, Checkpoint
from signing.audit.entry import AuditEntry, document_digest, parse_entry
from signing.audit.proof_files import INCLUSION_FORMAT, check_inclusion_proof_file
from signing.errors import EntryFormatError

SEALED_KIND = "result.sealed"


@dataclass(frozen=True)
class AuditProofCheck:
    """Outcome of :func:`check_audit_proof`; truthy only when ``ok``.

    ``problem`` is one of the proof-file problems of ``signing.audit.checkpoint``
    (``bad-signature``, ``key-mismatch``, ``wrong-root`` ...), ``malformed``,
    or ``wrong-entry`` / ``document-mismatch`` for a valid proof of the wrong thing.
    """

    ok: bool
    problem: str | None
    reason: str
    checkpoint: Checkpoint | None = None
    leaf_index: int | None = None
    entry: AuditEntry | None = None

    def __bool__(self) -> bool:
        return self.ok

    @property
    def poe_time(self) -> datetime | None:
        """When the document is proven to have existed: the signed checkpoint's time; None unless ``ok``.

        The checkpoint signs the tree that holds the document's ``result.sealed``
        entry, so the document (its JCS digest, sealed with this seal number)
        existed no later than the checkpoint's timestamp.
        """
        return self.checkpoint.issued_at if self.ok and self.checkpoint is not None else None


def check_audit_proof(
    document: Mapping[str, Any], audit_proof: Any, audit_public_key: AuditPublicKey
) -> AuditProofCheck:
    """Judge ``audit_proof`` for the sealed ``document`` against the trusted audit key."""
    if not isinstance(audit_proof, Mapping) or audit_proof.get("format") != INCLUSION_FORMAT:
        return AuditProofCheck(False, "malformed", f"audit_proof must be a {INCLUSION_FORMAT} document")
    if not isinstance(audit_proof.get("entry"), str):
        return AuditProofCheck(False, "malformed", "audit_proof must carry the entry itself")
    inclusion = check_inclusion_proof_file(audit_proof, audit_public_key)
    if not inclusion.ok:
        return AuditProofCheck(False, str(inclusion.problem), inclusion.reason, inclusion.checkpoint)
    cp, index = inclusion.checkpoint, audit_proof["leaf_index"]
    if cp is None:  # pragma: no cover - a valid inclusion always names its checkpoint
        return AuditProofCheck(False, "malformed", "the proof names no checkpoint")
    try:
        entry = parse_entry(base64.b64decode(audit_proof["entry"], validate=True))
    except (binascii.Error, EntryFormatError) as exc:
        return AuditProofCheck(False, "malformed", f"the proven entry is not an audit entry: {exc}", cp, index)
    if entry.seq != index:
        return AuditProofCheck(False, "wrong-entry", f"the entry says it is entry {entry.seq}, not {index}", cp, index)
    if entry.kind != SEALED_KIND:
        return AuditProofCheck(
            False, "wrong-entry", f"the proven entry is {entry.kind!r}, not {SEALED_KIND!r}", cp, index
        )
    body = {k: v for k, v in document.items() if k != "seal"}
    try:
        expected = document_digest(body)
    except ValueError as exc:
        return AuditProofCheck(False, "malformed", f"the document cannot be canonicalized: {exc}", cp, index)
    if entry.fields.get("document_digest") != expected:
        return AuditProofCheck(
            False, "document-mismatch", "the logged document digest is not this document's", cp, index, entry
        )
    seal = document.get("seal")
    number = seal.get("number") if isinstance(seal, Mapping) else None
    if entry.request_id != document.get("request_id") or entry.fields.get("seal_number") != number:
        return AuditProofCheck(
            False, "document-mismatch", "the logged request id or seal number is not this document's", cp, index, entry
        )
    stamp = cp.issued_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return AuditProofCheck(
        True,
        None,
        f"logged as entry {index} of {cp.log_id}; signed checkpoint at size {cp.tree_size} of {stamp}",
        cp,
        index,
        entry,
    )


def audit_checker(audit_public_key: AuditPublicKey) -> Callable[[Any, Mapping[str, Any]], AuditProofCheck]:
    """The ``audit_checker`` hook of ``signing.verify.verifier.verify_document``: called ``(audit_proof, document)``."""

    def checker(audit_proof: Any, document: Mapping[str, Any]) -> AuditProofCheck:
        return check_audit_proof(document, audit_proof, audit_public_key)

    return checker
