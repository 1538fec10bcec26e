"""X.509 for the district: the root (approval bureau) CA, seal certificates, the CRL.

Pure functions from keys and values to certificates; the registry decides
when to call them and where the results are stored.  The root signs with
the hash that matches its own curve (SHA-384 for a P-384 root, SHA-256 for
P-256), whatever the key type of the seal it certifies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from signing.errors import CertificateFormatError, KeyStoreError
from signing.keys.algorithms import key_type_of
from signing.model import Seal, SealStatus
from signing.pki.seal_info import SEAL_INFO_OID, SealInfo, decode_seal_info, encode_seal_info

_SEAL_INFO = x509.ObjectIdentifier(SEAL_INFO_OID)
_CRL_REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "ca_compromise": x509.ReasonFlags.ca_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
}
REASON_CODES = tuple(_CRL_REASONS)
#: Revocation reasons after which the seal's key may be in other hands, so its
#: claimed signing times prove nothing (see ``signing.verify.verifier``, REVOKED_NO_POE).
#: ``unspecified`` is among them: it does not rule a compromise out (RFC 5280
#: section 5.3.1 asks CAs not to use it at all), and it is the CLI's default.
COMPROMISE_REASON_CODES = frozenset({"key_compromise", "ca_compromise", "unspecified"})


def signature_hash(key: ec.EllipticCurvePrivateKey) -> hashes.SHA256 | hashes.SHA384:
    """The hash the root signs certificates and CRLs with: the one of its curve."""
    key_type = key_type_of(key)
    if key_type is None:
        raise KeyStoreError("the district root key must be ECDSA P-384 or P-256")
    algorithm = key_type.ecdsa.algorithm
    if not isinstance(algorithm, hashes.SHA256 | hashes.SHA384):  # pragma: no cover - both key types are
        raise KeyStoreError("the district root key's hash is not SHA-256 or SHA-384")
    return algorithm


def root_name(district: str, district_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, district_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, district),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{district_name} 电子印章根证书"),
        ]
    )


def build_root_certificate(
    key: ec.EllipticCurvePrivateKey,
    district: str,
    district_name: str,
    not_before: datetime,
    valid_days: int,
) -> x509.Certificate:
    """Self-signed CA that may sign seal certificates and CRLs only (pathlen 0)."""
    name = root_name(district, district_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, signature_hash(key))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def build_seal_certificate(
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    info: SealInfo,
    not_before: datetime,
    valid_days: int,
) -> x509.Certificate:
    """End-entity certificate naming the seal; its facts also in the SealInfo extension.

    Subject: CN = holder name, OU = holder office code, serialNumber = seal
    number, O and C copied from the root.  The extension is the
    authoritative, machine-readable copy (see ``signing.pki.seal_info``).
    """
    district_org = root_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(district_org)),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, info.office),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, info.number),
            x509.NameAttribute(NameOID.COMMON_NAME, info.holder_name),
        ]
    )
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    not_after = min(not_before + timedelta(days=valid_days), root_cert.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
        .add_extension(x509.UnrecognizedExtension(_SEAL_INFO, encode_seal_info(info)), critical=False)
        .sign(root_key, signature_hash(root_key))
    )


def seal_info_of(cert: x509.Certificate) -> SealInfo:
    """Read the SealInfo extension, or raise :class:`CertificateFormatError`."""
    try:
        ext = cert.extensions.get_extension_for_oid(_SEAL_INFO)
    except x509.ExtensionNotFound:
        raise CertificateFormatError("certificate carries no seal extension") from None
    value = ext.value
    if not isinstance(value, x509.UnrecognizedExtension):  # pragma: no cover - defensive
        raise CertificateFormatError("unexpected seal extension type")
    return decode_seal_info(value.value)


def issued_by(cert: x509.Certificate, root: x509.Certificate) -> bool:
    """True when ``root`` signed ``cert`` (names match and the signature verifies)."""
    if cert.issuer != root.subject:
        return False
    try:
        cert.verify_directly_issued_by(root)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def build_crl(
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    seals: Iterable[Seal],
    this_update: datetime,
    next_update_days: int,
) -> x509.CertificateRevocationList:
    """CRL of revoked seals (with reason) and suspended ones (certificateHold)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_cert.subject)
        .last_update(this_update)
        .next_update(this_update + timedelta(days=next_update_days))
    )
    for seal in seals:
        event = seal.status_at(this_update)
        if event is None or event.status is SealStatus.ACTIVE:
            continue
        reason = (
            x509.ReasonFlags.certificate_hold
            if event.status is SealStatus.SUSPENDED
            else _CRL_REASONS.get(event.reason_code, x509.ReasonFlags.unspecified)
        )
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(seal.certificate.serial_number)
            .revocation_date(event.at)
            .add_extension(x509.CRLReason(reason), critical=False)
            .build()
        )
    return builder.sign(root_key, signature_hash(root_key))


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lowercase hex."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
