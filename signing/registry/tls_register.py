"""The district's TLS certificates: every client and server certificate the root issued, and which are revoked.

Kept next to the seal registry, in ``<pki dir>/tls/certificates.json``
(written atomically, under the registry's lock): the bureau issues and
revokes on the machine that holds the root key, and the register travels to
the gateways with the rest of the PKI directory. A running gateway reads
it again whenever the file changes (:meth:`TlsRegister.status`, the same
cheap stamp the seal registry uses), so a revocation takes effect on the
next request, without a restart.

A certificate counts only if it is in the register: a certificate the root
signed that the register does not list (a seal certificate, one from a lost
copy of the register) is refused like a revoked one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signing.errors import RegistryError
from signing.fsutil import atomic_write, exclusive_lock
from signing.jose import ijson
from signing.keys.passphrase import Passphrase
from signing.model import format_time, parse_time
from signing.pki.certificates import fingerprint
from signing.pki.tls_certificates import build_client_certificate, build_server_certificate, check_caller_id
from signing.registry.seal_registry import SealRegistry

REGISTER_FORMAT = "onewindow-tls-certificates/1"
REGISTER_FILE = "tls/certificates.json"
KINDS = ("client", "server")
MAX_VALID_DAYS = 825  # what browsers accept for a server certificate; clients are renewed as often


@dataclass(frozen=True)
class TlsCertificate:
    """One issued TLS certificate as the register lists it."""

    serial: str  # lowercase hex, as `openssl x509 -serial` prints it (case aside)
    kind: str  # client | server
    subject: str  # the caller id of a client certificate; the hosts of a server one, comma separated
    sha256: str
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "serial": self.serial,
            "kind": self.kind,
            "subject": self.subject,
            "sha256": self.sha256,
            "not_before": format_time(self.not_before),
            "not_after": format_time(self.not_after),
        }
        if self.revoked_at is not None:
            data.update(revoked_at=format_time(self.revoked_at), reason=self.reason)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TlsCertificate:
        revoked = data.get("revoked_at")
        return cls(
            serial=str(data["serial"]),
            kind=str(data["kind"]),
            subject=str(data["subject"]),
            sha256=str(data["sha256"]),
            not_before=parse_time(data["not_before"]),
            not_after=parse_time(data["not_after"]),
            revoked_at=parse_time(revoked) if revoked else None,
            reason=str(data.get("reason", "")),
        )

    def state(self, at: datetime) -> str:
        """``valid``, ``revoked``, ``expired`` or ``not_yet_valid`` at ``at``."""
        if self.revoked_at is not None and self.revoked_at <= at:
            return "revoked"
        if at < self.not_before:
            return "not_yet_valid"
        return "expired" if at > self.not_after else "valid"


@dataclass(frozen=True)
class Issued:
    """A freshly issued certificate with its private key (PEM, unencrypted: given to its holder once)."""

    entry: TlsCertificate
    certificate_pem: bytes
    key_pem: bytes


def serial_hex(cert: x509.Certificate) -> str:
    """The register's spelling of a certificate's serial number."""
    return format(cert.serial_number, "x")


def parse_serial(text: str) -> str:
    """A serial as typed by an operator (hex, colons allowed, ``0x`` or not) in the register's spelling."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "")
    try:
        return format(int(cleaned, 16), "x")
    except ValueError:
        raise RegistryError(f"{text[:80]!r} is not a certificate serial number (hex)") from None


class TlsRegister:
    """The TLS certificates of the district PKI in ``directory`` (the seal registry's directory)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / REGISTER_FILE
        self._seen: tuple[int, int, int] | None = None
        self._by_serial: dict[str, TlsCertificate] = {}

    # -- reading ---------------------------------------------------------
    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return info.st_ino, info.st_mtime_ns, info.st_size

    def _read(self) -> list[dict[str, Any]]:
        try:
            data = ijson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise RegistryError(f"TLS certificate register {self.path} is unreadable: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != REGISTER_FORMAT:
            raise RegistryError(f"{self.path} is not a TLS certificate register ({REGISTER_FORMAT})")
        rows = data.get("certificates", [])
        if not isinstance(rows, list):
            raise RegistryError(f"{self.path}: 'certificates' must be a list")
        return rows

    def certificates(self) -> list[TlsCertificate]:
        """Every certificate ever issued, oldest first; the file is read again only when it changed."""
        stamp = self._stamp()
        if stamp != self._seen or stamp is None:
            rows = [TlsCertificate.from_dict(row) for row in self._read()]
            self._by_serial, self._seen = {c.serial: c for c in rows}, stamp
        return list(self._by_serial.values())

    def status(self, cert: x509.Certificate) -> TlsCertificate | None:
        """The register's entry for ``cert`` (same serial *and* same fingerprint), or None when it is not listed."""
        self.certificates()
        entry = self._by_serial.get(serial_hex(cert))
        return entry if entry is not None and entry.sha256 == fingerprint(cert) else None

    # -- changing --------------------------------------------------------
    def _write(self, rows: Sequence[TlsCertificate]) -> None:
        data = {"format": REGISTER_FORMAT, "certificates": [row.to_dict() for row in rows]}
        atomic_write(self.path, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))

    def _issue(
        self,
        registry: SealRegistry,
        root_passphrase: Passphrase,
        kind: str,
        subject: str,
        build: Any,
        valid_days: int,
        now: datetime | None,
    ) -> Issued:
        if not 1 <= valid_days <= MAX_VALID_DAYS:
            raise RegistryError(f"valid days must be between 1 and {MAX_VALID_DAYS}")
        key = ec.generate_private_key(ec.SECP256R1())
        start = (now or datetime.now(UTC)).astimezone(UTC)
        with exclusive_lock(self.directory / "registry.lock"):
            rows = [TlsCertificate.from_dict(row) for row in self._read()]
            root_key = registry.root_key(root_passphrase)
            cert = build(root_key, registry.root_certificate, key.public_key(), start, valid_days)
            entry = TlsCertificate(
                serial_hex(cert), kind, subject, fingerprint(cert), cert.not_valid_before_utc, cert.not_valid_after_utc
            )
            self._write([*rows, entry])
        return Issued(
            entry,
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )

    def issue_client(
        self,
        registry: SealRegistry,
        caller_id: str,
        *,
        root_passphrase: Passphrase,
        valid_days: int = 365,
        now: datetime | None = None,
    ) -> Issued:
        """A client certificate (and its new P-256 key) for intake caller ``caller_id``."""
        try:
            check_caller_id(caller_id)
        except ValueError as exc:
            raise RegistryError(str(exc)) from None

        def build(root_key: Any, root: x509.Certificate, public: Any, start: datetime, days: int) -> x509.Certificate:
            return build_client_certificate(root_key, root, public, caller_id, start, days)

        return self._issue(registry, root_passphrase, "client", caller_id, build, valid_days, now)

    def issue_server(
        self,
        registry: SealRegistry,
        hosts: Sequence[str],
        *,
        root_passphrase: Passphrase,
        valid_days: int = 365,
        now: datetime | None = None,
    ) -> Issued:
        """A server certificate (and its new P-256 key) for the gateway at ``hosts``."""

        def build(root_key: Any, root: x509.Certificate, public: Any, start: datetime, days: int) -> x509.Certificate:
            try:
                return build_server_certificate(root_key, root, public, list(hosts), start, days)
            except ValueError as exc:
                raise RegistryError(str(exc)) from None

        return self._issue(registry, root_passphrase, "server", ",".join(hosts), build, valid_days, now)

    def revoke(self, serial_or_caller: str, *, reason: str = "", now: datetime | None = None) -> list[TlsCertificate]:
        """Revoke one certificate by serial, or every unrevoked client certificate of a caller; returns them.

        Needs no root key: a revocation never waits for the bureau's machine.
        """
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        with exclusive_lock(self.directory / "registry.lock"):
            rows = [TlsCertificate.from_dict(row) for row in self._read()]
            by_caller = [r for r in rows if r.kind == "client" and r.subject == serial_or_caller]
            if by_caller:
                chosen = {r.serial for r in by_caller if r.revoked_at is None}
            else:
                try:
                    serial = parse_serial(serial_or_caller)
                except RegistryError:
                    raise RegistryError(
                        f"no client certificate of a caller {serial_or_caller[:80]!r}, and it is no serial number"
                    ) from None
                if serial not in {r.serial for r in rows}:
                    raise RegistryError(f"no TLS certificate with serial {serial} in {self.path}")
                chosen = {r.serial for r in rows if r.serial == serial and r.revoked_at is None}
            revoked = [
                TlsCertificate(**{**r.__dict__, "revoked_at": moment, "reason": reason or "unspecified"})
                if r.serial in chosen
                else r
                for r in rows
            ]
            if chosen:
                self._write(revoked)
        return [r for r in revoked if r.serial in chosen]
