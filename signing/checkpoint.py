"""Signed checkpoints of the audit log and the offline proof files built on them.

A checkpoint commits to the log at one size: origin (log id), tree size, root
hash, time. Its signed bytes are a small text note in the spirit of the
C2SP/transparency-dev checkpoint format (see docs/audit.md, "Proofs and
checkpoints"), so a third party can check one with any SHA-256 and signature
library.

The audit key is **Ed25519** by default: signatures are deterministic (no
per-signature nonce, so a weak random source on a service-centre server cannot
leak the key), small (64 bytes), fast to verify, and the algorithm signed
notes use. **ECDSA P-256 (ES256)** is accepted as well, because it is what most
PKCS#11 tokens and HSMs of a district PKI offer; anything with ``sign(data)``
and ``public_key()`` (:class:`CheckpointSigner`) can sign.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from signing.merkle import HASH_SIZE, ProofError, check_consistency, root_from_inclusion_proof
from signing.merkle import leaf_hash as compute_leaf_hash

AuditPublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
AuditPrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey

CHECKPOINT_FORMAT = "onewindow-checkpoint/v1"
INCLUSION_FORMAT = "onewindow-inclusion-proof/v1"
CONSISTENCY_FORMAT = "onewindow-consistency-proof/v1"
ED25519, ES256 = "Ed25519", "ES256"

_MAX_SIZE = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TIMESTAMP = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_LOG_ID = re.compile(r"[\x21-\x7e]{1,255}")


class Problem(StrEnum):
    """Why a checkpoint or proof did not verify."""

    MALFORMED = "malformed"
    UNSUPPORTED_KEY = "unsupported-key"
    KEY_MISMATCH = "key-mismatch"
    BAD_SIGNATURE = "bad-signature"
    WRONG_LOG = "wrong-log"
    LEAF_MISMATCH = "leaf-mismatch"
    BAD_PROOF = "bad-proof"
    WRONG_ROOT = "wrong-root"
    INCONSISTENT = "inconsistent"


class CheckpointFormatError(ValueError):
    """Bytes or JSON that are not a well-formed checkpoint or proof file."""


class CheckpointSigner(Protocol):
    """What can sign checkpoints: a software key or e.g. a PKCS#11 token.

    The same shape as the seal signers (``signing.keys.Signer``), so a token
    signer can sign checkpoints too. ``sign`` returns the raw signature over
    ``data``: 64 bytes for Ed25519; for ES256 (ECDSA P-256, SHA-256) the
    64-byte ``r || s`` big-endian form that JWS and PKCS#11 ``CKM_ECDSA``
    produce (not DER).
    """

    def public_key(self) -> AuditPublicKey: ...

    def sign(self, data: bytes) -> bytes: ...


class SoftwareSigner:
    """A :class:`CheckpointSigner` over a ``cryptography`` private key."""

    def __init__(self, private_key: AuditPrivateKey) -> None:
        self._key = private_key
        algorithm_for(private_key.public_key())

    def public_key(self) -> AuditPublicKey:
        """The key's public half."""
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` in the raw form :class:`CheckpointSigner` documents."""
        if isinstance(self._key, Ed25519PrivateKey):
            return self._key.sign(data)
        r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def algorithm_for(public_key: object) -> str:
    """``"Ed25519"`` or ``"ES256"``; ``ValueError`` for any other key type."""
    if isinstance(public_key, Ed25519PublicKey):
        return ED25519
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
        public_key.curve, ec.SECP256R1
    ):
        return ES256
    raise ValueError("audit keys must be Ed25519 or ECDSA P-256")


def key_id(public_key: AuditPublicKey) -> str:
    """Hex SHA-256 of the key's DER SubjectPublicKeyInfo: names the key unambiguously."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def public_key_pem(public_key: AuditPublicKey) -> str:
    """PEM text of an audit public key (to publish, or embed in proof files)."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(pem: bytes | str) -> AuditPublicKey:
    """Load an audit public key from PEM; ``ValueError`` if unreadable or unsupported."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from exc
    if isinstance(key, Ed25519PublicKey | ec.EllipticCurvePublicKey):
        algorithm_for(key)
        return key
    raise ValueError("audit keys must be Ed25519 or ECDSA P-256")


def timestamp_ms(when: datetime | None = None) -> int:
    """Milliseconds since the Unix epoch (UTC) for ``when`` (default: now), exactly."""
    when = when or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return (when - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class Checkpoint:
    """The log's state at ``tree_size`` leaves, as the audit key signs it."""

    log_id: str
    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    previous_size: int | None = None

    def __post_init__(self) -> None:
        if not _LOG_ID.fullmatch(self.log_id):
            raise CheckpointFormatError("log id must be 1-255 printable ASCII, no spaces")
        if not 0 <= self.tree_size <= _MAX_SIZE:
            raise CheckpointFormatError("tree size must be in 0..2^63-1")
        if not 0 <= self.timestamp_ms <= _MAX_TIMESTAMP:
            raise CheckpointFormatError("timestamp must be between 1970 and 9999 (UTC)")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointFormatError("root hash must be 32 bytes")
        if self.previous_size is not None and not 0 <= self.previous_size <= self.tree_size:
            raise CheckpointFormatError("previous size must be in 0..tree size")

    @property
    def issued_at(self) -> datetime:
        """The timestamp as an aware UTC datetime."""
        return _EPOCH + timedelta(milliseconds=self.timestamp_ms)

    def encode(self) -> bytes:
        """The exact bytes that are signed (docs/audit.md gives the grammar)."""
        lines = [
            self.log_id,
            str(self.tree_size),
            base64.b64encode(self.root_hash).decode("ascii"),
            f"timestamp {self.timestamp_ms}",
        ]
        if self.previous_size is not None:
            lines.append(f"previous {self.previous_size}")
        return ("\n".join(lines) + "\n").encode("ascii")


def parse_checkpoint(body: bytes) -> Checkpoint:
    """Strictly parse :meth:`Checkpoint.encode` output; only the canonical form passes."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CheckpointFormatError("checkpoint is not ASCII text") from exc
    lines = text.split("\n")
    if lines[-1] != "" or len(lines) not in (5, 6):
        raise CheckpointFormatError("checkpoint must be 4 or 5 newline-terminated lines")
    origin, size, root, stamp, *rest = lines[:-1]
    try:
        root_hash = base64.b64decode(root, validate=True)
    except binascii.Error as exc:
        raise CheckpointFormatError("root line is not base64") from exc
    cp = Checkpoint(
        log_id=origin,
        tree_size=_decimal(size, "tree size"),
        root_hash=root_hash,
        timestamp_ms=_decimal(_keyword(stamp, "timestamp"), "timestamp"),
        previous_size=_decimal(_keyword(rest[0], "previous"), "previous") if rest else None,
    )
    if cp.encode() != body:
        raise CheckpointFormatError("checkpoint is not in canonical form")
    return cp


def _keyword(line: str, keyword: str) -> str:
    if not line.startswith(keyword + " "):
        raise CheckpointFormatError(f"expected a {keyword!r} line, got {line[:40]!r}")
    return line[len(keyword) + 1 :]


def _decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise CheckpointFormatError(f"{what} is not a canonical decimal")
    return int(text)


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with the audit key's signature over :meth:`Checkpoint.encode`."""

    checkpoint: Checkpoint
    algorithm: str
    key_id: str
    signature: bytes

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form; the ``checkpoint`` member is the signed text itself."""
        return {
            "format": CHECKPOINT_FORMAT,
            "checkpoint": self.checkpoint.encode().decode("ascii"),
            "algorithm": self.algorithm,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, doc: object) -> SignedCheckpoint:
        """Inverse of :meth:`to_dict`; :class:`CheckpointFormatError` when malformed."""
        if not isinstance(doc, Mapping) or doc.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointFormatError(f"not a {CHECKPOINT_FORMAT} object")
        body, alg, kid, sig = (
            _str(doc, name) for name in ("checkpoint", "algorithm", "key_id", "signature")
        )
        if alg not in (ED25519, ES256):
            raise CheckpointFormatError(f"unknown signature algorithm {alg!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", kid):
            raise CheckpointFormatError("key_id must be 64 lowercase hex digits")
        return cls(parse_checkpoint(body.encode("utf-8")), alg, kid, _b64(sig, "signature"))


def sign_checkpoint(
    checkpoint: Checkpoint, signer: AuditPrivateKey | CheckpointSigner
) -> SignedCheckpoint:
    """Sign ``checkpoint``; the signature is checked before it is returned.

    The self-check catches a misbehaving external signer (say, an HSM
    returning DER instead of ``r || s``) before a bad checkpoint is stored.
    """
    if isinstance(signer, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        signer = SoftwareSigner(signer)
    public_key = signer.public_key()
    signed = SignedCheckpoint(
        checkpoint,
        algorithm_for(public_key),
        key_id(public_key),
        signer.sign(checkpoint.encode()),
    )
    if not verify_checkpoint(signed, public_key).ok:
        raise ValueError("the signer produced a signature that does not verify")
    return signed


@dataclass(frozen=True)
class CheckpointVerification:
    """Outcome of :func:`verify_checkpoint`; truthy only when ``ok``."""

    ok: bool
    problem: Problem | None
    reason: str
    checkpoint: Checkpoint | None = None

    def __bool__(self) -> bool:
        return self.ok


def verify_checkpoint(
    signed: SignedCheckpoint, public_key: AuditPublicKey, *, log_id: str | None = None
) -> CheckpointVerification:
    """Check ``signed`` against the trusted audit key (and, if given, the expected log)."""
    cp = signed.checkpoint
    try:
        alg = algorithm_for(public_key)
    except ValueError as exc:
        return CheckpointVerification(False, Problem.UNSUPPORTED_KEY, str(exc))
    if signed.algorithm != alg or signed.key_id != key_id(public_key):
        return CheckpointVerification(
            False,
            Problem.KEY_MISMATCH,
            f"checkpoint was signed by key {signed.key_id[:16]}… ({signed.algorithm}), "
            f"not the given key {key_id(public_key)[:16]}… ({alg})",
        )
    if not _signature_valid(public_key, cp.encode(), signed.signature):
        return CheckpointVerification(False, Problem.BAD_SIGNATURE, "checkpoint signature is bad")
    if log_id is not None and cp.log_id != log_id:
        return CheckpointVerification(
            False, Problem.WRONG_LOG, f"checkpoint is for log {cp.log_id!r}, not {log_id!r}"
        )
    return CheckpointVerification(
        True, None, f"checkpoint of {cp.log_id} at size {cp.tree_size}", cp
    )


def _signature_valid(public_key: AuditPublicKey, data: bytes, signature: bytes) -> bool:
    try:
        if isinstance(public_key, Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            if len(signature) != 64:
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# --- proof files -------------------------------------------------------------


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
        return ProofCheck(
            False, kind, Problem.LEAF_MISMATCH, "leaf_hash is not the hash of the entry", cp
        )
    try:
        root = root_from_inclusion_proof(leaf, index, size, proof)
    except ProofError as exc:
        return ProofCheck(False, kind, Problem.BAD_PROOF, str(exc), cp)
    if root != cp.root_hash:
        return ProofCheck(
            False, kind, Problem.WRONG_ROOT, "proof does not lead to the checkpoint's root", cp
        )
    return ProofCheck(
        True, kind, None, f"entry {index} is in {cp.log_id} at size {cp.tree_size}", cp
    )


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
        return ProofCheck(
            False, kind, Problem.MALFORMED, "old checkpoint is larger than the new one", n, o
        )
    try:
        check_consistency(o.tree_size, n.tree_size, o.root_hash, n.root_hash, proof)
    except ProofError as exc:
        return ProofCheck(False, kind, Problem.INCONSISTENT, str(exc), n, o)
    return ProofCheck(
        True, kind, None, f"{n.log_id} at size {n.tree_size} extends size {o.tree_size}", n, o
    )


def _key_problem(
    kind: str, embedded: AuditPublicKey | None, trusted: AuditPublicKey
) -> ProofCheck | None:
    if embedded is not None and key_id(embedded) != key_id(trusted):
        return ProofCheck(
            False,
            kind,
            Problem.KEY_MISMATCH,
            "the file's embedded public key is not the given audit key",
        )
    return None


def _signature_problem(
    kind: str, trusted: AuditPublicKey, signed: SignedCheckpoint
) -> ProofCheck | None:
    verdict = verify_checkpoint(signed, trusted)
    if not verdict.ok:
        return ProofCheck(False, kind, verdict.problem, verdict.reason)
    return None


def _str(doc: Mapping[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise CheckpointFormatError(f"{name} must be a string")
    return value


def _int(doc: Mapping[str, Any], name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_SIZE:
        raise CheckpointFormatError(f"{name} must be a non-negative integer")
    return value


def _b64(text: str, name: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise CheckpointFormatError(f"{name} is not base64") from exc


def _hex_hash(text: str, name: str) -> bytes:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise CheckpointFormatError(f"{name} must be 64 hex digits")
    return bytes.fromhex(text)


def _hashes(doc: Mapping[str, Any]) -> list[bytes]:
    value = doc.get("proof")
    if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
        raise CheckpointFormatError("proof must be a list of hex strings")
    return [_hex_hash(h, "proof hash") for h in value]
