"""Mutual TLS: the caller a connection's district client certificate names.

The handshake has already checked that the certificate chains to the client
CA and is within its dates (:mod:`gateway.tls.context`). Per request this
module checks what only the district's own records know, reading the TLS
register again whenever it changes (a revocation counts from the next
request, without a restart):

* the certificate is a client certificate (``clientAuth``) naming exactly one
  caller (``urn:onewindow:caller:<id>``, parsed, never prefix-matched);
* the register lists it -- same serial and same SHA-256 -- as a client
  certificate of that very caller, and it is not revoked there;
* the caller is configured.

Any other certificate is refused with ``401 client-certificate-refused``,
audited as ``client_certificate.refused`` (the reason and the certificate's
digest, nothing a person typed) and counted in
``onewindow_client_certificate_refusals``. A connection without a
certificate (``client_certificates = "optional"``) identifies nobody here:
the caller's other methods decide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from prometheus_client import Counter

from gateway.callers.model import Caller, callers_by_id
from gateway.problems import CLIENT_CERTIFICATE_REFUSED, ProblemError
from signing.pki.certificates import fingerprint
from signing.pki.tls_certificates import caller_of, has_purpose
from signing.registry.tls_register import TlsRegister

_DETAILS = {
    "unreadable": ("the certificate cannot be read", "证书无法解析"),
    "not_client_certificate": ("the certificate is not a client certificate (no clientAuth)", "该证书不是客户端证书"),
    "names_no_caller": ("the certificate names no caller", "该证书未载明调用方"),
    "not_issued": ("the district did not issue this certificate", "该证书不在本区签发记录中"),
    "revoked": ("the district revoked this certificate", "该证书已被吊销"),
    "expired": ("the certificate is outside its validity period", "该证书不在有效期内"),
    "unknown_caller": ("the caller this certificate names is not configured", "该证书载明的调用方未配置"),
}


def peer_certificate(request: web.Request) -> bytes | None:
    """The DER client certificate of the request's TLS connection, or None (plain HTTP, or none was shown)."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return der or None


class ClientCertificates:
    """Authenticates callers by the district client certificate of their connection (the ``mtls`` method)."""

    name = "mtls"

    def __init__(self, gateway: Any, register: TlsRegister, *, now: Callable[[], datetime] | None = None) -> None:
        self._gateway = gateway  # its settings change on SIGHUP: callers are read from it on every request
        self.register = register
        self._now = now or (lambda: datetime.now(UTC))
        self._callers: tuple[object, Mapping[str, Caller]] | None = None
        self.refusals = Counter(
            "onewindow_client_certificate_refusals",
            "Requests refused for their client certificate, by reason",
            ["reason"],
            registry=gateway.metrics.registry,
        )

    def _caller(self, caller_id: str) -> Caller | None:
        settings = self._gateway.settings
        if self._callers is None or self._callers[0] is not settings:
            self._callers = (settings, callers_by_id(settings.callers, settings))
        return self._callers[1].get(caller_id)

    async def authenticate(self, request: web.Request, body: bytes = b"") -> Caller | None:
        """The caller the connection's certificate names; None without one; a 401 problem for a bad one."""
        der = peer_certificate(request)
        if der is None:
            return None
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            await self._refuse("unreadable", None, None)
        claimed = caller_of(cert)
        reason = self._judge(cert, claimed)
        if reason is not None:
            await self._refuse(reason, cert, claimed)
        assert claimed is not None  # judged above
        caller = self._caller(claimed)
        if caller is None:
            await self._refuse("unknown_caller", cert, claimed)
        assert caller is not None
        return caller

    def _judge(self, cert: x509.Certificate, claimed: str | None) -> str | None:
        """Why the district does not accept ``cert`` for ``claimed`` (a reason code), or None when it does."""
        if not has_purpose(cert, ExtendedKeyUsageOID.CLIENT_AUTH):
            return "not_client_certificate"
        if claimed is None:
            return "names_no_caller"
        entry = self.register.status(cert)
        if entry is None or entry.kind != "client" or entry.subject != claimed:
            return "not_issued"
        state = entry.state(self._now())
        if state == "revoked":
            return "revoked"
        return None if state == "valid" else "expired"

    async def _refuse(self, reason: str, cert: x509.Certificate | None, claimed: str | None) -> None:
        self.refusals.labels(reason).inc()
        fields: dict[str, Any] = {"reason": reason}
        if cert is not None:
            fields["certificate_digest"] = f"sha256:{fingerprint(cert)}"
        if claimed is not None:
            fields["caller"] = claimed
        await self._gateway.events.emit("client_certificate.refused", **fields)
        en, zh = _DETAILS[reason]
        raise ProblemError(
            CLIENT_CERTIFICATE_REFUSED,
            f"The client certificate is refused: {en}.",
            f"客户端证书被拒绝：{zh}。",
            reason=reason,
        )
