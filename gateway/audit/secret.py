"""The district audit secret: the key behind the entry chain and the keyed request digests.

A 256-bit random secret kept beside the audit key in the PKI directory
(``<pki.dir>/audit/audit-secret.key``, 64 hex digits, mode 0600), never in
the database. Two keys are derived from it with HKDF-SHA-256, each under its
own purpose label, so neither use can stand in for the other:

* the **chain key** MACs every entry onto the one before it
  (:mod:`gateway.audit.chain`): someone who can write the database but not
  read this file cannot add an entry the gateway will sign;
* the **digest key** keys the request and result digests of entries
  (:class:`gateway.observability.events.PayloadDigests`), so equal
  envelopes do not look equal in the log and a guessed envelope cannot be
  confirmed without the secret.

Why a file of its own rather than bytes derived from the audit private key:
administrative commands (``onewindow outbox retry`` ...) append entries and
must extend the chain without the seal passphrase; the audit key may move
to a token (PKCS#11) from which no bytes can be derived; and a new audit key
must not change the chain or the digests. Every instance that shares a store
must hold the same file (docs/audit.md, "The district audit secret").
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.config import Settings
from gateway.errors import AuditKeyError

CHAIN_PURPOSE = b"onewindow audit entry chain v1"
DIGEST_PURPOSE = b"onewindow request digest v1"
_SECRET_BYTES = 32


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True, repr=False)
class AuditSecret:
    """The two keys derived from the district audit secret (never printed: ``repr`` shows the id only)."""

    chain_key: bytes
    digest_key: bytes
    secret_id: str

    @classmethod
    def from_bytes(cls, secret: bytes) -> AuditSecret:
        if len(secret) != _SECRET_BYTES:
            raise AuditKeyError("the audit secret must be 32 bytes")
        secret_id = hashlib.sha256(b"onewindow-audit-secret-id\n" + secret).hexdigest()[:16]
        return cls(_derive(secret, CHAIN_PURPOSE), _derive(secret, DIGEST_PURPOSE), secret_id)

    def __repr__(self) -> str:
        return f"AuditSecret(id={self.secret_id})"


def secret_path(settings: Settings) -> Path:
    """Where the district audit secret is: ``[audit] secret_file``, else beside the audit key."""
    if settings.audit.secret_file:
        return Path(settings.audit.secret_file)
    return Path(settings.pki_dir) / "audit" / "audit-secret.key"


def create_audit_secret(path: Path) -> AuditSecret:
    """Make a new secret at ``path`` -- never over an existing one, even when two processes race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(_SECRET_BYTES)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secret.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails if the file exists: a secret is never replaced in place
        except FileExistsError:
            raise AuditKeyError(f"an audit secret already exists at {path}; it is never replaced in place") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return AuditSecret.from_bytes(secret)


def read_audit_secret(path: Path) -> AuditSecret:
    """Read a secret file (64 hex digits); a clear error when it is missing, unreadable or not a secret."""
    try:
        text = path.read_bytes().strip()
    except FileNotFoundError:
        raise AuditKeyError(
            f"no audit secret at {path}: create it with 'onewindow audit init-secret', or copy the district's "
            "from another gateway instance (every instance sharing a store needs the same one)"
        ) from None
    except OSError as exc:
        raise AuditKeyError(f"cannot read the audit secret {path}: {exc.strerror}") from None
    try:
        secret = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        secret = b""
    if len(secret) != _SECRET_BYTES:
        raise AuditKeyError(f"{path} is not an audit secret (64 hex digits)")
    return AuditSecret.from_bytes(secret)


def load_audit_secret(settings: Settings) -> AuditSecret:
    """The configured district audit secret."""
    return read_audit_secret(secret_path(settings))


def ensure_audit_secret(settings: Settings) -> None:
    """At start-up: the secret must exist; the sample district gets one made on first start."""
    path = secret_path(settings)
    if path.exists() or not settings.pki_create_sample:
        return
    with contextlib.suppress(AuditKeyError):  # another process of the same start made it first: use theirs
        create_audit_secret(path)
