"""Signed checkpoints of the audit log.

A checkpoint commits to the log at one size: origin (log id), tree size, root
hash, time. Its signed bytes are a small text note in the spirit of the
C2SP/transparency-dev checkpoint format (see docs/audit.md, "Proofs and
checkpoints"), so a third party can check one with any SHA-256 and signature
library.

The offline proof files built on checkpoints (inclusion and consistency)
are in ``signing.audit.proof_files``, which builds on this module.

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
from collections.abc import Mapping
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

from signing.audit.merkle import HASH_SIZE
from signing.errors import CheckpointFormatError

AuditPublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
AuditPrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey

CHECKPOINT_FORMAT = "onewindow-checkpoint/v1"
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


class CheckpointSigner(Protocol):
    """What can sign checkpoints: a software key or e.g. a PKCS#11 token.

    The same shape as the seal signers (``signing.keys.signers.Signer``), so a token
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
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return ES256
    raise ValueError("audit keys must be Ed25519 or ECDSA P-256")


def key_id(public_key: AuditPublicKey) -> str:
    """Hex SHA-256 of the key's DER SubjectPublicKeyInfo: names the key unambiguously."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def public_key_pem(public_key: AuditPublicKey) -> str:
    """PEM text of an audit public key (to publish, or embed in proof files)."""
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )


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
        body, alg, kid, sig = (_str(doc, name) for name in ("checkpoint", "algorithm", "key_id", "signature"))
        if alg not in (ED25519, ES256):
            raise CheckpointFormatError(f"unknown signature algorithm {alg!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", kid):
            raise CheckpointFormatError("key_id must be 64 lowercase hex digits")
        return cls(parse_checkpoint(body.encode("utf-8")), alg, kid, _b64(sig, "signature"))


def sign_checkpoint(checkpoint: Checkpoint, signer: AuditPrivateKey | CheckpointSigner) -> SignedCheckpoint:
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
        return CheckpointVerification(False, Problem.WRONG_LOG, f"checkpoint is for log {cp.log_id!r}, not {log_id!r}")
    return CheckpointVerification(True, None, f"checkpoint of {cp.log_id} at size {cp.tree_size}", cp)


def _signature_valid(public_key: AuditPublicKey, data: bytes, signature: bytes) -> bool:
    try:
        if isinstance(public_key, Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            if len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _str(doc: Mapping[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise CheckpointFormatError(f"{name} must be a string")
    return value


def _b64(text: str, name: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise CheckpointFormatError(f"{name} is not base64") from exc
