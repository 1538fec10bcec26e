"""Build genuine audit-log inclusion proofs for sealed documents, without a gateway.

The proof is what ``GET /v1/requests/{id}/audit-proof`` hands out: the
``result.sealed`` entry naming the document's digest and seal number, its
RFC 9162 inclusion path, and a checkpoint signed by the audit key at a time
the test chooses (the proof-of-existence time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.audit.checkpoint import Checkpoint, sign_checkpoint, timestamp_ms
from signing.audit.entry import document_digest
from signing.audit.merkle import InMemoryTree, leaf_hash
from signing.audit.proof_files import build_inclusion_proof_file
from signing.jose.jcs import canonicalize
from signing.model import format_time

LOG_ID = "onewindow-audit/370303"


def _entry(seq: int, kind: str, fields: dict[str, Any], request_id: str | None, at: datetime) -> bytes:
    entry: dict[str, Any] = {
        "fields": fields,
        "instance": "test-gateway",
        "kind": kind,
        "seq": seq,
        "time": format_time(at),
        "v": 1,
    }
    if request_id is not None:
        entry["request_id"] = request_id
    return canonicalize(entry)


def audit_proof_for(document: dict[str, Any], key: Ed25519PrivateKey, *, checkpoint_at: datetime) -> dict[str, Any]:
    """An inclusion proof of ``document``'s ``result.sealed`` entry, under a checkpoint signed at ``checkpoint_at``."""
    request_id = document.get("request_id")
    entries = [
        _entry(0, "configuration.loaded", {}, None, checkpoint_at),
        _entry(1, "request.accepted", {"item": document.get("item")}, request_id, checkpoint_at),
        _entry(
            2,
            "result.sealed",
            {"document_digest": document_digest(document), "seal_number": document["seal"]["number"]},
            request_id,
            checkpoint_at,
        ),
        _entry(3, "response.sent", {"status": 201}, request_id, checkpoint_at),
    ]
    tree = InMemoryTree(leaf_hash(e) for e in entries)
    checkpoint = Checkpoint(LOG_ID, tree.size, tree.root(), timestamp_ms(checkpoint_at))
    signed = sign_checkpoint(checkpoint, key)
    return build_inclusion_proof_file(signed, 2, tree.inclusion_proof(2), entry=entries[2], public_key=key.public_key())


def with_audit_proof(document: dict[str, Any], proof: dict[str, Any]) -> dict[str, Any]:
    """The sealed document with ``seal.audit_proof`` filled (the seal does not sign it)."""
    return {**document, "seal": {**document["seal"], "audit_proof": proof}}
