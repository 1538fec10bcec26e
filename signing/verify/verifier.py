"""Offline verification of a sealed document against a trust bundle.

Returns a :class:`VerificationReport`, never a bare bool.  Steps, in the
order of ``docs/seals.md``: format, trust anchor (the bundle's root is
pinned), freshness of the revocation information (the bundle's
``next_update``), certificate chain (cached per ``x5c``), validity at the
signing time, revocation/suspension at the signing time, signing time not
in the future, scope, payload digest, signature, and the optional audit
proof.  When several steps fail, the verdict names the first in this
priority: FORMAT_FAILURE, HASH_FAILURE, SIG_CRYPTO_FAILURE,
NO_CERTIFICATE_CHAIN_FOUND, NOT_YET_VALID, EXPIRED, REVOKED,
REVOKED_NO_POE, SIG_CONSTRAINTS_FAILURE, TRY_LATER.

A bundle nobody pinned (:attr:`TrustBundle.anchor` None) never gives
TOTAL_PASSED: INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND, the chain does not
reach a trusted anchor.  A bundle past its ``next_update`` does not know
revocations made since it was issued: INDETERMINATE / TRY_LATER (EN 319
102-1: revocation information not fresh, a fresher one may decide), unless
the caller accepts it (``accept_stale_bundle``), which the verdict states.

The signing time ``sigT`` is the sealer's claim.  It is believed when the
seal was later revoked for a reason that leaves the key in the holder's
hands (superseded, cessation of operation, affiliation changed), but not
after a revocation that means someone else may hold the key
(``signing.pki.certificates.COMPROMISE_REASON_CODES``): then a signature claimed before
the revocation needs a proof of existence (POE, ETSI EN 319 102-1) from
before it -- the audit checker's ``poe_time`` -- or the verdict is
INDETERMINATE / REVOKED_NO_POE.

The algorithm comes from the seal certificate's key, never from the
header: a P-384 key verifies only as ES384 and a P-256 key only as ES256,
and a header whose ``alg`` is not the one the key implies (or a signature
of the wrong length for it) is FORMAT_FAILURE: such a token does not
conform to RFC 7518 section 3.4, whoever made it.

HASH_FAILURE versus SIG_CRYPTO_FAILURE: the signed header carries
``ow_jcs_sha256``, the SHA-256 of the canonical payload.  If the document
no longer hashes to it, the *content* changed (HASH_FAILURE); if it does
but the signature fails, the seal block itself was altered or damaged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from signing.errors import CertificateFormatError, JwsFormatError
from signing.jose.jcs import canonicalize
from signing.jose.jws import b64url, parse_detached
from signing.keys.algorithms import KeyType, key_type_for_alg, key_type_of
from signing.model import Seal, format_time, parse_time
from signing.pki.certificates import seal_info_of
from signing.sealing import SEAL_FORMAT, SEAL_TYP
from signing.verify.report import INDICATION_OF, Check, Indication, SubIndication, TrustFacts, VerificationReport
from signing.verify.revocation import AuditChecker, AuditEvidence, Evidence, audit_evidence, check_status
from signing.verify.trust import TrustBundle

__all__ = [
    "CLOCK_SKEW",
    "AuditChecker",
    "AuditEvidence",
    "Chain",
    "Checks",
    "check_trust",
    "check_validity",
    "format_failure",
    "seal_chain",
    "verify_document",
]

CLOCK_SKEW = timedelta(minutes=5)
_PRIORITY = (
    SubIndication.HASH_FAILURE,
    SubIndication.SIG_CRYPTO_FAILURE,
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    SubIndication.NOT_YET_VALID,
    SubIndication.EXPIRED,
    SubIndication.REVOKED,
    SubIndication.REVOKED_NO_POE,
    SubIndication.SIG_CONSTRAINTS_FAILURE,
    SubIndication.TRY_LATER,
)
_STRING_FIELDS = ("kid", "sigT", "ow_kind", "ow_item", "ow_request_id", "ow_jcs_sha256")


class _Malformed(ValueError):
    """Internal: the document is not a well-formed sealed document."""


@dataclass(frozen=True, slots=True)
class Chain:
    """Cached outcome of validating one ``x5c`` against one trust bundle."""

    seal: Seal | None
    public_key: ec.EllipticCurvePublicKey
    key_type: KeyType  # from the certificate's key: decides the JWS alg
    certificate: x509.Certificate
    problem: str  # empty when the chain is good


def seal_chain(trust: TrustBundle, x5c: tuple[str, ...]) -> Chain:
    """Validate ``x5c`` once per bundle: the result cannot change while the bundle lives."""
    cached: Chain | None = trust.chain_cache.get(x5c)
    if cached is not None:
        return cached
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(x5c[0], validate=True))
    except (binascii.Error, ValueError):
        raise _Malformed("x5c[0] is not a base64 DER certificate") from None
    key = cert.public_key()
    key_type = key_type_of(key)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key_type is None:
        raise _Malformed("seal certificate key is not ECDSA P-384 or P-256")
    seal, problem = trust.by_certificate.get(x5c[0]), ""
    if seal is None:
        problem = "certificate is not in the district seal registry (foreign or unknown seal)"
    elif len(x5c) > 1 and x5c[1] != trust.root_b64:
        problem = "x5c names an issuer other than the district root"
    else:
        try:
            info = seal_info_of(cert)
        except CertificateFormatError as exc:
            problem = str(exc)
        else:
            facts = (seal.number, seal.kind.value, seal.office, seal.holder_name, seal.scope)
            if (info.number, info.kind, info.office, info.holder_name, info.scope) != facts:
                problem = "certificate seal extension disagrees with the registry"
    result = Chain(seal if not problem else None, key, key_type, cert, problem)
    if len(trust.chain_cache) < 4096:
        trust.chain_cache[x5c] = result
    return result


@dataclass(frozen=True, slots=True)
class _Sealed:
    """A well-formed sealed document, taken apart: what every later step judges."""

    block: dict[str, Any]
    header_b64: str
    header: dict[str, Any]
    signature: bytes
    signed_at: datetime
    chain: Chain
    payload: bytes  # the canonical bytes of the document without its seal block


def _parse(document: Any, trust: TrustBundle) -> _Sealed:
    """Take the document apart; :class:`_Malformed` (FORMAT_FAILURE) when it is not a sealed document."""
    if not isinstance(document, dict):
        raise _Malformed("document is not a JSON object")
    block = document.get("seal")
    if not isinstance(block, dict) or block.get("format") != SEAL_FORMAT:
        raise _Malformed(f"no seal block of format {SEAL_FORMAT}")
    try:
        header_b64, header, signature = parse_detached(
            block.get("jws"),  # type: ignore[arg-type]
            trust.header_cache,
        )
    except JwsFormatError as exc:
        raise _Malformed(f"jws: {exc}") from None
    signed_at = _check_header(header, block)
    chain = seal_chain(trust, tuple(header["x5c"]))
    _check_algorithm(header["alg"], signature, chain.key_type)
    try:
        payload = canonicalize({k: v for k, v in document.items() if k != "seal"})
    except ValueError as exc:
        raise _Malformed(str(exc)) from None
    return _Sealed(block, header_b64, header, signature, signed_at, chain, payload)


def _check_header(header: dict[str, Any], block: dict[str, Any]) -> datetime:
    """The protected header has every member a seal needs; returns its signing time."""
    if key_type_for_alg(header.get("alg")) is None or header.get("typ") != SEAL_TYP:
        raise _Malformed(f"header must say alg ES384 or ES256 and typ {SEAL_TYP}")
    if "crit" in header:
        raise _Malformed("header lists critical extensions this verifier does not know")
    for name in _STRING_FIELDS:
        if not isinstance(header.get(name), str):
            raise _Malformed(f"header field {name} is missing or not a string")
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise _Malformed("header x5c must be a non-empty list of certificates")
    if block.get("number") != header["kid"]:
        raise _Malformed("seal block number differs from the signed kid")
    try:
        return parse_time(header["sigT"])
    except ValueError:
        raise _Malformed("sigT is not an RFC 3339 time with offset") from None


def _check_algorithm(alg: str, signature: bytes, key_type: KeyType) -> None:
    """The key decides the algorithm; a header may only repeat it (RFC 7518 section 3.4)."""
    if alg != key_type.alg:
        raise _Malformed(
            f"header alg {alg} does not match the seal certificate's {key_type.nist_name} key, "
            f"which signs {key_type.alg} only"
        )
    if len(signature) != key_type.signature_size:
        raise _Malformed(f"{key_type.alg} signature must be {key_type.signature_size} bytes")


class Checks:
    """The checks made so far, and the sub-indications of those that failed."""

    def __init__(self) -> None:
        self.checks: list[Check] = [Check("format", True)]
        self.failed: set[SubIndication] = set()

    def record(self, name: str, ok: bool, sub: SubIndication, detail: str = "") -> None:
        """A check made: failing it means ``sub``."""
        self.checks.append(Check(name, ok, detail))
        if not ok:
            self.failed.add(sub)

    def skip(self, name: str, detail: str) -> None:
        """A check that could not be made (neither passed nor failed)."""
        self.checks.append(Check(name, None, detail))

    def verdict(self) -> tuple[Indication, SubIndication | None]:
        """TOTAL_PASSED, or the indication of the first failure in priority order."""
        sub = next((s for s in _PRIORITY if s in self.failed), None)
        return (INDICATION_OF[sub] if sub else Indication.TOTAL_PASSED), sub


def check_trust(checks: Checks, trust: TrustBundle, validated_at: datetime, accept_stale: bool) -> TrustFacts:
    """The root is pinned, and the bundle's revocation information is fresh at the validation time."""
    if trust.anchor is not None:
        checks.record("trust_anchor", True, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, trust.anchor.detail)
    else:
        detail = "the trust bundle's root is not pinned: give --root-fingerprint or pin it (onewindow trust pin)"
        checks.record("trust_anchor", False, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, detail)
    next_update, issued = trust.next_update, format_time(trust.issued_at)
    stale = next_update is not None and validated_at > next_update
    if next_update is None:
        checks.record("revocation_freshness", True, SubIndication.TRY_LATER, "the verifier's own registry, read now")
    elif not stale:
        checks.record("revocation_freshness", True, SubIndication.TRY_LATER, f"fresh until {format_time(next_update)}")
    elif accept_stale:
        detail = (
            f"past its next update {format_time(next_update)}, accepted as asked; revocations after {issued} unknown"
        )
        checks.record("revocation_freshness", True, SubIndication.TRY_LATER, detail)
    else:
        detail = (
            f"the trust bundle of {issued} was due for renewal at {format_time(next_update)}: revocations since "
            "are not known; get a fresh bundle (or accept this one with --accept-stale-bundle)"
        )
        checks.record("revocation_freshness", False, SubIndication.TRY_LATER, detail)
    return _facts(trust, stale_accepted=stale and accept_stale)


def _facts(trust: TrustBundle, *, stale_accepted: bool = False) -> TrustFacts:
    return TrustFacts(trust.root_fingerprint, trust.anchor, trust.issued_at, trust.next_update, stale_accepted)


def format_failure(trust: TrustBundle, detail: str, at: datetime | None = None) -> VerificationReport:
    """TOTAL_FAILED / FORMAT_FAILURE: not a well-formed sealed document (``detail`` says why)."""
    return VerificationReport(
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
        (Check("format", False, detail),),
        validated_at=(at or datetime.now(UTC)).astimezone(UTC),
        trust=_facts(trust),
    )


def check_validity(checks: Checks, cert: x509.Certificate, signed_at: datetime) -> None:
    """The seal certificate was valid at the signing time."""
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if signed_at < not_before:
        when = f"sealed {format_time(signed_at)}, certificate valid from {format_time(not_before)}"
        checks.record("validity_period", False, SubIndication.NOT_YET_VALID, when)
    elif signed_at > not_after:
        when = f"sealed {format_time(signed_at)}, certificate expired {format_time(not_after)}"
        checks.record("validity_period", False, SubIndication.EXPIRED, when)
    else:
        checks.record("validity_period", True, SubIndication.EXPIRED)


def _check_scope(checks: Checks, seal: Seal, header: dict[str, Any], document: dict[str, Any]) -> None:
    """The seal may seal this item, as the kind it claims, and the document is about that item."""
    item = header["ow_item"]
    doc_item = document.get("item", item)
    ok = seal.covers(item) and header["ow_kind"] == seal.kind.value and doc_item == item
    detail = "" if ok else f"seal {seal.number} may not seal {item} (document item {doc_item})"
    checks.record("scope", ok, SubIndication.SIG_CONSTRAINTS_FAILURE, detail)


def _check_integrity(checks: Checks, sealed: _Sealed, trust: TrustBundle) -> None:
    """The content hashes to what was sealed, and the signature over it verifies."""
    digest_ok = b64url(hashlib.sha256(sealed.payload).digest()) == sealed.header["ow_jcs_sha256"]
    detail = "" if digest_ok else "document content differs from what was sealed"
    checks.record("payload_digest", digest_ok, SubIndication.HASH_FAILURE, detail)
    key_type = sealed.chain.key_type
    digest = trust.header_cache.signing_input_digest(sealed.header_b64, sealed.payload, key_type.hash_name)
    signature_ok = key_type.verify_digest(sealed.chain.public_key, sealed.signature, digest)
    checks.record("signature", signature_ok, SubIndication.SIG_CRYPTO_FAILURE)


def _check_audit_proof(checks: Checks, block: dict[str, Any], evidence: Evidence) -> None:
    """The optional audit-log inclusion proof, when the document carries one."""
    if "audit_proof" not in block:
        return
    if not evidence.ran:
        checks.skip("audit_proof", "present but not checked: give the district audit key (--audit-key)")
    else:
        checks.record("audit_proof", evidence.ok, SubIndication.SIG_CONSTRAINTS_FAILURE, evidence.detail)


def verify_document(
    document: dict[str, Any],
    trust: TrustBundle,
    *,
    at: datetime | None = None,
    audit_checker: AuditChecker | None = None,
    accept_stale_bundle: bool = False,
) -> VerificationReport:
    """Judge a sealed document; ``at`` is the validation time (default now).

    ``accept_stale_bundle``: judge with a bundle past its ``next_update``
    as if it were fresh (the verdict says so) instead of TRY_LATER.
    """
    validated_at = (at or datetime.now(UTC)).astimezone(UTC)
    try:
        sealed = _parse(document, trust)
    except (_Malformed, ValueError) as exc:
        return format_failure(trust, str(exc), validated_at)
    header, signed_at, seal = sealed.header, sealed.signed_at, sealed.chain.seal
    checks = Checks()
    facts = check_trust(checks, trust, validated_at, accept_stale_bundle)
    checks.record("certificate_chain", seal is not None, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, sealed.chain.problem)
    check_validity(checks, sealed.chain.certificate, signed_at)
    evidence = audit_evidence(sealed.block, document, audit_checker)
    revocation_note = None
    if seal is not None:
        revocation_note = check_status(seal, signed_at, validated_at, checks.record, evidence)
        _check_scope(checks, seal, header, document)
    else:
        checks.skip("revocation_status", "not checked: seal not in the registry")
        checks.skip("scope", "not checked: seal not in the registry")
    future = signed_at > validated_at + CLOCK_SKEW
    detail = "signing time lies in the future" if future else ""
    checks.record("signing_time", not future, SubIndication.SIG_CONSTRAINTS_FAILURE, detail)
    _check_integrity(checks, sealed, trust)
    _check_audit_proof(checks, sealed.block, evidence)
    notes = []
    if trust.issued_at < signed_at:
        notes.append(f"revocation status known up to {format_time(trust.issued_at)} (trust bundle date)")
    indication, sub = checks.verdict()
    return VerificationReport(
        indication,
        sub,
        tuple(checks.checks),
        seal_number=header["kid"],
        holder_office=seal.office if seal else None,
        holder_name=seal.holder_name if seal else None,
        kind=seal.kind if seal else None,
        item=header["ow_item"],
        request_id=header["ow_request_id"],
        signed_at=signed_at,
        validated_at=validated_at,
        revocation_note=revocation_note,
        notes=tuple(notes),
        trust=facts,
    )
