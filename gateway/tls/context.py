"""The SSL context the gateway listens with (stdlib :mod:`ssl`), built from ``[server]``'s TLS keys.

TLS 1.2 at least. With ``client_certificates`` ``optional`` or ``required``
the server asks every connection for a certificate and OpenSSL checks it
against the client CA during the handshake: a certificate from any other
CA, an expired one, or (``required``) none at all ends the handshake. What
the handshake cannot know -- whether the district revoked the certificate
since, and which caller it names -- is judged per request
(:mod:`gateway.tls.identity`).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from gateway.config import Settings, TlsSettings
from gateway.errors import StartupError
from signing.errors import SigningError
from signing.registry.tls_register import TlsRegister

ROOT_CERTIFICATE = "root/root-cert.pem"  # in the seal registry's directory


def client_ca_file(tls: TlsSettings, pki_dir: str) -> Path:
    """The file of the CA client certificates must chain to: ``client_ca``, else the district root."""
    return Path(tls.client_ca) if tls.client_ca else Path(pki_dir) / ROOT_CERTIFICATE


def server_context(tls: TlsSettings, pki_dir: str) -> ssl.SSLContext | None:
    """The listener's context, or None for plain HTTP; :class:`StartupError` naming the file that is wrong."""
    if not tls.enabled:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.certificate, tls.key)
    except FileNotFoundError as exc:
        raise StartupError(f"server.tls_certificate/tls_key: {exc.filename}: no such file") from None
    except (ssl.SSLError, OSError) as exc:
        raise StartupError(
            f"server.tls_certificate/tls_key: {tls.certificate} and {tls.key} are not a certificate and "
            f"its own unencrypted key ({exc})"
        ) from None
    if tls.client_certificates == "off":
        context.verify_mode = ssl.CERT_NONE
        return context
    ca = client_ca_file(tls, pki_dir)
    try:
        context.load_verify_locations(cafile=str(ca))
    except (ssl.SSLError, OSError) as exc:
        raise StartupError(f"server.client_ca: cannot read the client CA {ca} ({exc})") from None
    context.verify_mode = ssl.CERT_REQUIRED if tls.client_certificates == "required" else ssl.CERT_OPTIONAL
    return context


def check_tls(settings: Settings) -> None:
    """What ``serve`` and ``check-config`` check of TLS: the certificate, key and client CA, and the register."""
    server_context(settings.tls, settings.pki_dir)
    if settings.tls.client_certificates == "off":
        return
    try:
        TlsRegister(settings.pki_dir).certificates()
    except SigningError as exc:
        raise StartupError(f"cannot read the district's TLS certificate register: {exc}") from None
