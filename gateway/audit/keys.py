"""The district audit key: Ed25519, kept like the seal keys, public half for verifiers.

The private key signs checkpoints and lives beside the seal registry
(``<pki.dir>/audit/audit-key.pem``), as passphrase-encrypted PKCS#8 under the
same passphrase as the seal keys (``pki.passphrase_file`` or
``$ONEWINDOW_SEAL_PASSPHRASE(_FILE)``). The public key sits next to it in
clear (``audit-key.pub.pem``) so verifying, proving and exporting need no
passphrase. The sample district gets one on first start; a real district
creates it once with ``onewindow audit init-key``.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.config import Settings
from gateway.errors import AuditKeyError
from signing import SigningError, load_passphrase
from signing.audit.checkpoint import AuditPublicKey, SoftwareSigner, load_public_key, public_key_pem
from signing.fsutil import atomic_write
from signing.keys.passphrase import Passphrase
from signing.keys.pkcs8 import encrypt_pkcs8

LOG_ID_PREFIX = "onewindow-audit/"


def key_path(settings: Settings) -> Path:
    """Where the encrypted private audit key is."""
    return Path(settings.audit.key_file) if settings.audit.key_file else Path(settings.pki_dir) / "audit/audit-key.pem"


def public_key_path(settings: Settings) -> Path:
    """The public half, next to the private key."""
    private = key_path(settings)
    return private.with_name(private.name.removesuffix(".pem") + ".pub.pem")


def passphrase(settings: Settings) -> Passphrase:
    """The seal-key passphrase, found the way the sealer finds it."""
    if settings.pki_passphrase_file:
        try:
            return Passphrase(Path(settings.pki_passphrase_file).read_bytes().rstrip(b"\r\n"))
        except OSError as exc:
            raise AuditKeyError(
                f"cannot read pki.passphrase_file {settings.pki_passphrase_file}: {exc.strerror}"
            ) from None
    try:
        return load_passphrase()
    except SigningError as exc:
        raise AuditKeyError(f"cannot read the key passphrase: {exc}") from None


def create_audit_key(path: Path, secret: Passphrase) -> AuditPublicKey:
    """Make a new Ed25519 audit key at ``path`` (never over an existing one); return its public key."""
    public_path = path.with_name(path.name.removesuffix(".pem") + ".pub.pem")
    if path.exists():
        raise AuditKeyError(f"an audit key already exists at {path}; it is never replaced in place")
    key = Ed25519PrivateKey.generate()
    pem = encrypt_pkcs8(key, secret)
    atomic_write(public_path, public_key_pem(key.public_key()).encode("ascii"))
    atomic_write(path, pem, mode=0o600)
    return key.public_key()


def load_signer(settings: Settings) -> SoftwareSigner:
    """Open the private audit key with the passphrase (a wrong one is a clear error)."""
    path = key_path(settings)
    try:
        pem = path.read_bytes()
    except OSError:
        raise AuditKeyError(f"no audit key at {path}: create it with 'onewindow audit init-key'") from None
    if b"ENCRYPTED PRIVATE KEY" not in pem:
        raise AuditKeyError(f"refusing the audit key at {path}: it is not encrypted PKCS#8")
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase(settings).reveal())
    except (ValueError, TypeError):
        raise AuditKeyError(f"cannot decrypt the audit key at {path}: wrong passphrase?") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"the audit key at {path} is not an Ed25519 key")
    return SoftwareSigner(key)


def load_audit_public_key(settings: Settings) -> AuditPublicKey:
    """The audit public key (from the ``.pub.pem`` file; no passphrase needed)."""
    path = public_key_path(settings)
    try:
        return load_public_key(path.read_bytes())
    except OSError:
        if key_path(settings).exists():
            return load_signer(settings).public_key()
        raise AuditKeyError(
            f"no audit key at {key_path(settings)}: create it with 'onewindow audit init-key'"
        ) from None
    except ValueError as exc:
        raise AuditKeyError(f"{path}: {exc}") from None


def ensure_audit_key(settings: Settings) -> None:
    """At start-up: the key must exist; the sample district gets one made on first start."""
    if key_path(settings).exists():
        return
    if not settings.pki_create_sample:
        raise AuditKeyError(
            f"no district audit key at {key_path(settings)}: create it with 'onewindow audit init-key' "
            "(or set [audit] enabled = false)"
        )
    create_audit_key(key_path(settings), passphrase(settings))


def log_id(settings: Settings) -> str:
    """The log's name in checkpoints: configured, else from the district code of the seal registry."""
    if settings.audit.log_id:
        return settings.audit.log_id
    registry = Path(settings.pki_dir) / "registry.json"
    try:
        code = json.loads(registry.read_text(encoding="utf-8"))["district"]["code"]
    except (OSError, ValueError, KeyError, TypeError):
        codes = sorted(settings.offices)
        code = codes[0][:6] if codes else "district"
    return f"{LOG_ID_PREFIX}{code}"
