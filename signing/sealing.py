"""Seal a result document: JCS payload, detached compact JWS, the ``seal`` block.

Output shape (``docs/seals.md`` is the normative description)::

    {...the document..., "seal": {"format": "onewindow-seal/1",
                                  "number": "370303-SP-0001",
                                  "jws": "<b64url(header)>..<b64url(R||S)>",
                                  "audit_proof": {...}}}      # optional, unsigned

The header is a per-seal static part (``alg``, ``typ``, ``kid``, ``x5c``,
``x5t#S256``, ``ow_kind``), padded with spaces to a multiple of 3 bytes,
then the per-document fields.  The static part and its base64url are
built once per seal, because sealing sits on every request's path and the
``x5c`` chain is most of the header; the padding makes its base64url a
literal prefix of every header's (``signing.jose.jws``), which the verifier's
header cache relies on; and the signing input starts with that prefix, so
the hash state after it is kept too and resumed for each document (the
signature is the same ECDSA over the same bytes, minus rehashing ~4 KB).
"""

from __future__ import annotations

import base64
import hashlib
import json
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from signing.errors import SealingError
from signing.jose.jcs import canonicalize
from signing.jose.jws import b64url, b64url_bytes
from signing.keys.algorithms import key_type_for_alg
from signing.keys.signers import Signer, same_public_key
from signing.model import Seal, format_time

SEAL_FORMAT = "onewindow-seal/1"
SEAL_TYP = "onewindow-seal+jws"
#: Where the per-document part of a seal header starts (after the padding).
DYNAMIC_MARKER = b',"sigT":'
_MARKER = DYNAMIC_MARKER.decode()
_json_str = json.encoder.encode_basestring  # JSON string literal, non-ASCII kept
_checked_signers: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class _StaticHeader:
    """What every header of one seal shares, prepared once per seal."""

    raw: bytes  # the static members, padded with spaces to a multiple of 3 bytes
    b64: bytes  # its base64url: a literal prefix of every header's base64url
    b64_text: str  # the same, as text for the compact serialization
    alg: str
    midstate: Any  # hashlib object of the alg's hash, fed ``b64``: resumed per document


@lru_cache(maxsize=256)
def _static_header(number: str, kind: str, alg: str, cert_der: bytes, chain: tuple[bytes, ...]) -> _StaticHeader:
    key_type = key_type_for_alg(alg)
    if key_type is None:  # pragma: no cover - alg comes from Seal.key_type
        raise SealingError(f"seal {number}: unsupported algorithm {alg}")
    x5c = [base64.b64encode(der).decode("ascii") for der in (cert_der, *chain)]
    thumbprint = b64url(hashlib.sha256(cert_der).digest())
    text = (
        f'{{"alg":"{key_type.alg}","typ":"{SEAL_TYP}","kid":{_json_str(number)},'
        f'"x5c":{json.dumps(x5c)},"x5t#S256":"{thumbprint}","ow_kind":"{kind}"'
    ).encode()
    text += b" " * (-len(text) % 3)  # JSON whitespace: base64 groups end with it
    encoded = b64url_bytes(text)
    midstate = hashlib.new(key_type.hash_name, encoded)
    return _StaticHeader(text, encoded, encoded.decode("ascii"), key_type.alg, midstate)


def _seal_static_header(seal: Seal) -> _StaticHeader:
    if not seal.chain:
        raise SealingError(f"seal {seal.number} carries no issuer chain; load it from the registry")
    return _static_header(seal.number, seal.kind.value, seal.key_type.alg, seal.certificate_der, seal.chain)


def _dynamic_header(item: str, request_id: str, signed_at: datetime, payload_sha256: bytes) -> bytes:
    return (
        f'{_MARKER}"{format_time(signed_at)}","ow_item":{_json_str(item)},'
        f'"ow_request_id":{_json_str(request_id)},"ow_jcs_sha256":"{b64url(payload_sha256)}"}}'
    ).encode()


def protected_header(seal: Seal, *, item: str, request_id: str, signed_at: datetime, payload: bytes) -> bytes:
    """The JWS protected header for ``payload`` (the JCS bytes of the document)."""
    payload_sha256 = hashlib.sha256(payload).digest()
    return _seal_static_header(seal).raw + _dynamic_header(item, request_id, signed_at, payload_sha256)


@dataclass(frozen=True, slots=True)
class SealedDocument:
    """A sealed document, with the SHA-256 of the canonical bytes its seal signed (``ow_jcs_sha256``).

    Whoever records what was sealed (an audit entry's ``document_digest``)
    takes the digest from here instead of canonicalising the document again.
    """

    document: dict[str, Any]
    jcs_sha256: bytes

    @property
    def digest(self) -> str:
        """``sha256:<hex>``: what :func:`signing.audit.entry.document_digest` gives for ``document``."""
        return "sha256:" + self.jcs_sha256.hex()


def _sign(signer: Signer, static: _StaticHeader, dynamic_b64: bytes, payload: bytes) -> str:
    """The compact detached JWS; resumes the static header's hash state when it can."""
    payload_b64 = b64url_bytes(payload)
    sign_digest = getattr(signer, "sign_digest", None)
    if sign_digest is not None and signer.algorithm == static.alg:
        state = static.midstate.copy()
        state.update(dynamic_b64)
        state.update(b".")
        state.update(payload_b64)
        signature = sign_digest(state.digest())
    else:
        signature = signer.sign(static.b64 + dynamic_b64 + b"." + payload_b64)
    return f"{static.b64_text}{dynamic_b64.decode('ascii')}..{b64url(signature)}"


def sign_document(
    document: dict[str, Any],
    signer: Signer,
    seal: Seal,
    *,
    item: str,
    request_id: str,
    signed_at: datetime | None = None,
    audit_proof: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Seal without the policy checks of :func:`seal_document`.

    For callers that have already decided (and for producing test vectors
    of mis-sealed documents); everything else should call ``seal_document``.
    """
    return sign_and_digest(
        document, signer, seal, item=item, request_id=request_id, signed_at=signed_at, audit_proof=audit_proof
    ).document


def sign_and_digest(
    document: dict[str, Any],
    signer: Signer,
    seal: Seal,
    *,
    item: str,
    request_id: str,
    signed_at: datetime | None = None,
    audit_proof: dict[str, Any] | None = None,
) -> SealedDocument:
    """:func:`sign_document`, with the digest of the canonical bytes it signed."""
    if not isinstance(document, dict):
        raise SealingError("only a JSON object can be sealed")
    if "seal" in document:
        raise SealingError("document already carries a seal block")
    if not isinstance(item, str) or not item or not isinstance(request_id, str) or not request_id:
        raise SealingError("item and request_id must be non-empty strings")
    moment = (signed_at or datetime.now(UTC)).astimezone(UTC)
    payload = canonicalize(document)
    payload_sha256 = hashlib.sha256(payload).digest()
    static = _seal_static_header(seal)
    dynamic_b64 = b64url_bytes(_dynamic_header(item, request_id, moment, payload_sha256))
    block: dict[str, Any] = {
        "format": SEAL_FORMAT,
        "number": seal.number,
        "jws": _sign(signer, static, dynamic_b64, payload),
    }
    if audit_proof is not None:
        block["audit_proof"] = audit_proof
    return SealedDocument({**document, "seal": block}, payload_sha256)


def seal_document(
    document: dict[str, Any],
    signer: Signer,
    seal: Seal,
    *,
    item: str,
    request_id: str,
    signed_at: datetime | None = None,
    audit_proof: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return ``document`` plus a ``seal`` block signed by ``signer`` as ``seal``.

    Refuses (``SealingError``) when the seal does not cover ``item``, is not
    active or outside its validity at the signing time, or when ``signer``
    does not hold the seal's key: a refused seal is better than a sealed
    document that fails verification later.
    """
    return seal_and_digest(
        document, signer, seal, item=item, request_id=request_id, signed_at=signed_at, audit_proof=audit_proof
    ).document


def seal_and_digest(
    document: dict[str, Any],
    signer: Signer,
    seal: Seal,
    *,
    item: str,
    request_id: str,
    signed_at: datetime | None = None,
    audit_proof: dict[str, Any] | None = None,
) -> SealedDocument:
    """:func:`seal_document`, with the digest of the canonical bytes the seal signed."""
    moment = (signed_at or datetime.now(UTC)).astimezone(UTC)
    if not seal.covers(item):
        raise SealingError(f"seal {seal.number} does not cover item {item}")
    if not seal.usable_at(moment):
        event = seal.status_at(moment)
        state = event.status.value if event else "not yet issued"
        raise SealingError(
            f"seal {seal.number} cannot seal at {format_time(moment)} "
            f"(status {state}, valid {format_time(seal.not_before)}..{format_time(seal.not_after)})"
        )
    _check_signer(signer, seal)
    return sign_and_digest(
        document,
        signer,
        seal,
        item=item,
        request_id=request_id,
        signed_at=moment,
        audit_proof=audit_proof,
    )


def _check_signer(signer: Signer, seal: Seal) -> None:
    """Compare the signer's key with the certificate once per (signer, seal)."""
    try:
        seen = _checked_signers.setdefault(signer, set())
    except TypeError:  # signer not weak-referenceable: check every time
        seen = set()
    if seal.fingerprint in seen:
        return
    cert_key = seal.certificate.public_key()
    if not isinstance(cert_key, ec.EllipticCurvePublicKey) or not same_public_key(signer.public_key(), cert_key):
        raise SealingError(f"signer does not hold the key of seal {seal.number}")
    seen.add(seal.fingerprint)
