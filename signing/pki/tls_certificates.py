"""TLS certificates from the district root: a client profile naming an intake caller, and a server profile.

The district root that certifies seals also certifies who may open a TLS
connection to the gateway, so a district runs one PKI. The two profiles are
kept apart from the seal profile on purpose: a TLS certificate carries the
``digitalSignature`` key usage only (never ``contentCommitment``, the seal's
non-repudiation) and an extended key usage of ``clientAuth`` or
``serverAuth``; a seal certificate carries no extended key usage and its
SealInfo extension, so neither can pass for the other where the gateway
reads it.

A client certificate names its caller twice: ``CN`` (for people reading
it) and a SAN URI ``urn:onewindow:caller:<caller id>``, which is what the
gateway reads (:func:`caller_of`), parsed part by part.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.pki.certificates import signature_hash

CALLER_URN = ("urn", "onewindow", "caller")
MAX_CALLER_ID = 64


def caller_urn(caller_id: str) -> str:
    """The SAN URI that names ``caller_id`` in a client certificate."""
    check_caller_id(caller_id)
    return ":".join((*CALLER_URN, caller_id))


def check_caller_id(caller_id: str) -> str:
    """A caller id as certificates may carry it: 1-64 visible ASCII characters, no colon; ValueError otherwise."""
    if not (0 < len(caller_id) <= MAX_CALLER_ID and all("\x21" <= c <= "\x7e" for c in caller_id)) or ":" in caller_id:
        raise ValueError(f"caller id {caller_id[:80]!r} must be 1-64 visible ASCII characters without ':'")
    return caller_id


def _usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _build(
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    subject: x509.Name,
    names: Sequence[x509.GeneralName],
    purpose: x509.ObjectIdentifier,
    not_before: datetime,
    valid_days: int,
) -> x509.Certificate:
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
        .add_extension(_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
        .add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
        .sign(root_key, signature_hash(root_key))
    )


def _district_org(root_cert: x509.Certificate) -> str:
    return str(root_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value)


def build_client_certificate(
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    caller_id: str,
    not_before: datetime,
    valid_days: int,
) -> x509.Certificate:
    """A client certificate for intake caller ``caller_id`` (clientAuth, the caller URN in the SAN)."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _district_org(root_cert)),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "onewindow intake caller"),
            x509.NameAttribute(NameOID.COMMON_NAME, check_caller_id(caller_id)),
        ]
    )
    names = [x509.UniformResourceIdentifier(caller_urn(caller_id))]
    return _build(
        root_key, root_cert, public_key, subject, names, ExtendedKeyUsageOID.CLIENT_AUTH, not_before, valid_days
    )


def host_name(host: str) -> x509.GeneralName:
    """``host`` as a SAN entry: an IP address when it parses as one, else a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if not host or not all(0 < len(label) <= 63 and label.replace("-", "").isalnum() for label in labels):
        raise ValueError(f"{host[:80]!r} is neither an IP address nor a DNS name")
    if not host.isascii():
        raise ValueError(f"{host[:80]!r}: give an internationalised name in its xn-- form")
    return x509.DNSName(host.lower().rstrip("."))


def build_server_certificate(
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    hosts: Sequence[str],
    not_before: datetime,
    valid_days: int,
) -> x509.Certificate:
    """A server certificate for the gateway at ``hosts`` (serverAuth, each host in the SAN)."""
    if not hosts:
        raise ValueError("a server certificate names at least one host")
    names = [host_name(h) for h in hosts]
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _district_org(root_cert)),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "onewindow gateway"),
            x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
        ]
    )
    return _build(
        root_key, root_cert, public_key, subject, names, ExtendedKeyUsageOID.SERVER_AUTH, not_before, valid_days
    )


def has_purpose(cert: x509.Certificate, purpose: x509.ObjectIdentifier) -> bool:
    """Whether ``cert``'s extended key usage names ``purpose`` (a certificate without one names nothing)."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return purpose in usage


def caller_of(cert: x509.Certificate) -> str | None:
    """The caller id a client certificate names (its one ``urn:onewindow:caller:`` SAN URI), or None.

    The URI is split at its colons and each part compared: a prefix match
    would let ``urn:onewindow:caller:a:b`` or ``urn:onewindow:callers:x`` through.
    Two caller URIs in one certificate name nobody.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    found: list[str] = []
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        parts = uri.split(":")
        if len(parts) == 4 and tuple(p.lower() for p in parts[:3]) == CALLER_URN:
            try:
                found.append(check_caller_id(parts[3]))
            except ValueError:
                return None
    return found[0] if len(found) == 1 else None
