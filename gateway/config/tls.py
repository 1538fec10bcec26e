"""TLS for the gateway's own listener (``[server]``): its certificate, and whether callers must show one.

With ``tls_certificate`` and ``tls_key`` set, the gateway listens with TLS
only. ``client_certificates`` decides what a caller's certificate means:

* ``off`` -- none is asked for; callers authenticate by the other methods;
* ``optional`` -- one is asked for; a caller may show one issued by the
  district root (``client_ca``, default the seal registry's root) and is then
  that certificate's caller, or show none and use another method;
* ``required`` -- a connection without a certificate from ``client_ca`` fails
  its handshake.

Either way a certificate that does not chain to ``client_ca`` fails the
handshake; a revoked or unlisted one is refused per request
(:mod:`gateway.tls.identity`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.config.values import get_value
from gateway.errors import ConfigError

CLIENT_CERTIFICATE_MODES = ("off", "optional", "required")


@dataclass(frozen=True)
class TlsSettings:
    """The ``tls_*`` and ``client_*`` keys of ``[server]``."""

    certificate: str = ""  # PEM file: the server certificate (and any intermediates); empty: plain HTTP
    key: str = ""  # PEM file: its private key, unencrypted, readable by the gateway's user only
    client_ca: str = ""  # PEM file of the CA client certificates must chain to; empty: <pki.dir>/root/root-cert.pem
    client_certificates: str = "off"  # off | optional | required

    @property
    def enabled(self) -> bool:
        """Whether the listener speaks TLS."""
        return bool(self.certificate)


TLS_KEYS = frozenset({"tls_certificate", "tls_key", "client_ca", "client_certificates"})


def parse_tls_settings(server: Mapping[str, Any]) -> TlsSettings:
    """The TLS keys of the ``[server]`` table, checked together."""
    settings = TlsSettings(
        certificate=get_value(server, "tls_certificate", str, "server", ""),
        key=get_value(server, "tls_key", str, "server", ""),
        client_ca=get_value(server, "client_ca", str, "server", ""),
        client_certificates=get_value(server, "client_certificates", str, "server", "off"),
    )
    if settings.client_certificates not in CLIENT_CERTIFICATE_MODES:
        raise ConfigError(f"server.client_certificates: must be one of {', '.join(CLIENT_CERTIFICATE_MODES)}")
    if bool(settings.certificate) != bool(settings.key):
        raise ConfigError("server.tls_certificate and server.tls_key: set both (TLS) or neither (plain HTTP)")
    if settings.client_certificates != "off" and not settings.enabled:
        raise ConfigError(
            "server.client_certificates: client certificates need TLS: set server.tls_certificate and server.tls_key"
        )
    return settings
