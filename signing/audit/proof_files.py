"""Offline proof files: an entry's inclusion in, or a log's growth between, signed checkpoints.

A proof file is a small JSON document that carries everything a third
party needs besides the trusted audit key: the signed checkpoint(s), the
RFC 9162 audit path, and the entry or its leaf hash (docs/audit.md,
"Proofs and checkpoints").  Checking one returns a :class:`ProofCheck` with
the reason, never a bare bool.  Split from ``signing.audit.checkpoint``, which
still re-exports these names.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signing.audit.checkpoint import (
    _MAX_SIZE,
    AuditPublicKey,
    Checkpoint,
    Problem,
    SignedCheckpoint,
    _b64,
    _str,
    key_id,
    load_public_key,
    public_key_pem,
    verify_checkpoint,
)
from signing.audit.merkle import check_consistency, root_from_inclusion_proof
from signing.audit.merkle import leaf_hash as compute_leaf_hash
from signing.errors import CheckpointFormatError, ProofError

INCLUSION_FORMAT = "onewindow-inclusion-proof/v1"
CONSISTENCY_FORMAT = "onewindow-consistency-proof/v1"


@dataclass(frozen=True)
class ProofCheck:
    """Outcome of checking a proof file; truthy only when ``ok``."""

    ok: bool
    kind: str
    problem: Problem | None
    reason: str
    checkpoint: Checkpoint | None = None
    old_checkpoint: Checkpoint | None = None

    def __bool__(self) -> bool:
        return self.ok


def build_inclusion_proof_file(
    checkpoint: SignedCheckpoint,
    leaf_index: int,
    proof: Sequence[bytes],
    *,
    entry: bytes | None = None,
    leaf_hash: bytes | None = None,
    public_key: AuditPublicKey | None = None,
) -> dict[str, Any]:
    """The JSON document proving one entry (or leaf hash) is in ``checkpoint``'s tree."""
    if entry is None and leaf_hash is None:
        raise ValueError("give the entry, its leaf hash, or both")
    doc: dict[str, Any] = {
        "format": INCLUSION_FORMAT,
        "leaf_index": leaf_index,
        "tree_size": checkpoint.checkpoint.tree_size,
    }
    if entry is not None:
        doc["entry"] = base64.b64encode(entry).decode("ascii")
    if leaf_hash is not None:
        doc["leaf_hash"] = leaf_hash.hex()
    doc["proof"] = [h.hex() for h in proof]
    doc["checkpoint"] = checkpoint.to_dict()
    if public_key is not None:
        doc["public_key"] = public_key_pem(public_key)
    return doc


def build_consistency_proof_file(
    old: SignedCheckpoint,
    new: SignedCheckpoint,
    proof: Sequence[bytes],
    *,
    public_key: AuditPublicKey | None = None,
) -> dict[str, Any]:
    """The JSON document proving ``new``'s log is an append-only extension of ``old``'s."""
    doc: dict[str, Any] = {
        "format": CONSISTENCY_FORMAT,
        "old_checkpoint": old.to_dict(),
        "new_checkpoint": new.to_dict(),
        "proof": [h.hex() for h in proof],
    }
    if public_key is not None:
        doc["public_key"] = public_key_pem(public_key)
    return doc


def embedded_public_key(doc: Mapping[str, Any]) -> AuditPublicKey | None:
    """The audit key a proof file carries, if any (``CheckpointFormatError`` if unreadable)."""
    if "public_key" not in doc:
        return None
    try:
        return load_public_key(_str(doc, "public_key"))
    except ValueError as exc:
        raise CheckpointFormatError(f"embedded public key: {exc}") from exc


def check_proof_file(doc: object, public_key: AuditPublicKey) -> ProofCheck:
    """Dispatch on the document's ``format`` member."""
    fmt = doc.get("format") if isinstance(doc, Mapping) else None
    if fmt == INCLUSION_FORMAT:
        return check_inclusion_proof_file(doc, public_key)
    if fmt == CONSISTENCY_FORMAT:
        return check_consistency_proof_file(doc, public_key)
    return ProofCheck(False, "unknown", Problem.MALFORMED, "not a Onewindow audit proof file")


def check_inclusion_proof_file(doc: object, public_key: AuditPublicKey) -> ProofCheck:
    """Verify an inclusion proof file end to end against the trusted audit key."""
    kind = "inclusion"
    try:
        if not isinstance(doc, Mapping) or doc.get("format") != INCLUSION_FORMAT:
            raise CheckpointFormatError(f"not a {INCLUSION_FORMAT} document")
        signed = SignedCheckpoint.from_dict(doc.get("checkpoint"))
        index, size = _int(doc, "leaf_index"), _int(doc, "tree_size")
        proof = _hashes(doc)
        entry = _b64(_str(doc, "entry"), "entry") if "entry" in doc else None
        given_leaf = _hex_hash(_str(doc, "leaf_hash"), "leaf_hash") if "leaf_hash" in doc else None
        if entry is None and given_leaf is None:
            raise CheckpointFormatError("needs an entry or a leaf_hash")
        embedded = embedded_public_key(doc)
    except CheckpointFormatError as exc:
        return ProofCheck(False, kind, Problem.MALFORMED, str(exc))
    failed = _key_problem(kind, embedded, public_key)
    if failed is None:
        failed = _signature_problem(kind, public_key, signed)
    if failed is not None:
        return failed
    cp = signed.checkpoint
    if size != cp.tree_size:
        return ProofCheck(
            False,
            kind,
            Problem.BAD_PROOF,
            f"tree_size {size} is not the signed checkpoint's {cp.tree_size}",
            cp,
        )
    leaf = compute_leaf_hash(entry) if entry is not None else given_leaf or b""
    if given_leaf is not None and given_leaf != leaf:
        return ProofCheck(False, kind, Problem.LEAF_MISMATCH, "leaf_hash is not the hash of the entry", cp)
    try:
        root = root_from_inclusion_proof(leaf, index, size, proof)
    except ProofError as exc:
        return ProofCheck(False, kind, Problem.BAD_PROOF, str(exc), cp)
    if root != cp.root_hash:
        return ProofCheck(False, kind, Problem.WRONG_ROOT, "proof does not lead to the checkpoint's root", cp)
    return ProofCheck(True, kind, None, f"entry {index} is in {cp.log_id} at size {cp.tree_size}", cp)


def check_consistency_proof_file(doc: object, public_key: AuditPublicKey) -> ProofCheck:
    """Verify a consistency proof file: both checkpoints signed, same log, append-only."""
    kind = "consistency"
    try:
        if not isinstance(doc, Mapping) or doc.get("format") != CONSISTENCY_FORMAT:
            raise CheckpointFormatError(f"not a {CONSISTENCY_FORMAT} document")
        old = SignedCheckpoint.from_dict(doc.get("old_checkpoint"))
        new = SignedCheckpoint.from_dict(doc.get("new_checkpoint"))
        proof = _hashes(doc)
        embedded = embedded_public_key(doc)
    except CheckpointFormatError as exc:
        return ProofCheck(False, kind, Problem.MALFORMED, str(exc))
    failed = _key_problem(kind, embedded, public_key)
    if failed is not None:
        return failed
    for label, signed in (("old", old), ("new", new)):
        failed = _signature_problem(kind, public_key, signed)
        if failed is not None:
            return ProofCheck(False, kind, failed.problem, f"{label} {failed.reason}")
    o, n = old.checkpoint, new.checkpoint
    if o.log_id != n.log_id:
        return ProofCheck(
            False,
            kind,
            Problem.WRONG_LOG,
            f"checkpoints are of different logs: {o.log_id} and {n.log_id}",
            n,
            o,
        )
    if o.tree_size > n.tree_size:
        return ProofCheck(False, kind, Problem.MALFORMED, "old checkpoint is larger than the new one", n, o)
    try:
        check_consistency(o.tree_size, n.tree_size, o.root_hash, n.root_hash, proof)
    except ProofError as exc:
        return ProofCheck(False, kind, Problem.INCONSISTENT, str(exc), n, o)
    return ProofCheck(True, kind, None, f"{n.log_id} at size {n.tree_size} extends size {o.tree_size}", n, o)


def _key_problem(kind: str, embedded: AuditPublicKey | None, trusted: AuditPublicKey) -> ProofCheck | None:
    if embedded is not None and key_id(embedded) != key_id(trusted):
        return ProofCheck(
            False,
            kind,
            Problem.KEY_MISMATCH,
            "the file's embedded public key is not the given audit key",
        )
    return None


def _signature_problem(kind: str, trusted: AuditPublicKey, signed: SignedCheckpoint) -> ProofCheck | None:
    verdict = verify_checkpoint(signed, trusted)
    if not verdict.ok:
        return ProofCheck(False, kind, verdict.problem, verdict.reason)
    return None


def _int(doc: Mapping[str, Any], name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_SIZE:
        raise CheckpointFormatError(f"{name} must be a non-negative integer")
    return value


def _hex_hash(text: str, name: str) -> bytes:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise CheckpointFormatError(f"{name} must be 64 hex digits")
    return bytes.fromhex(text)


def _hashes(doc: Mapping[str, Any]) -> list[bytes]:
    value = doc.get("proof")
    if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
        raise CheckpointFormatError("proof must be a list of hex strings")
    return [_hex_hash(h, "proof hash") for h in value]
