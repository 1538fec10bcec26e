"""Callers' request-signing keys: made, sealed, listed, retired, and found again to verify with.

Keys live in the store (table ``caller_keys``, migration 0007), not in the
configuration or a file: every gateway sharing the store sees a key the
moment ``onewindow caller add-key`` commits it, and stops accepting it the
moment ``retire-key`` does, with no restart or reload, and a backup carries
them. An Ed25519 public key is kept as PEM, in the clear; an HMAC secret is
kept sealed under the district's seal passphrase (scrypt, AES-256-GCM:
:mod:`signing.keys.sealed`, as the backup seals the audit secret), bound to
its caller and key id, so a copy of the database or a backup alone reveals
no secret. A gateway unseals a secret once, on first use, and keeps it in
memory.

A caller holds at most two keys that are not retired: the one in use and
its successor during a rotation.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.config import Settings
from gateway.errors import CommandError, StartupError
from gateway.store import Store, StoredCallerKey, utcnow
from signing.errors import KeyStoreError, SigningError
from signing.keys import pkcs8, sealed
from signing.keys.passphrase import Passphrase, load_passphrase

ALGORITHMS = ("hmac-sha256", "ed25519")
MAX_ACTIVE_KEYS = 2  # the key in use and its successor
SEALED_FORMAT = "onewindow-caller-secret/1"
HMAC_SECRET_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")

VerificationKey = bytes | Ed25519PublicKey


def _context(caller_id: str, key_id: str) -> bytes:
    return f"\n{caller_id}\n{key_id}\nhmac-sha256".encode()


def new_key_id(caller_id: str) -> str:
    """A fresh key id: the caller's id and a random suffix (the ``keyid`` a signature names)."""
    return f"{caller_id}.{secrets.token_hex(4)}"


def is_key_id(text: str) -> bool:
    """Whether ``text`` could be a key id this gateway made."""
    return bool(_KEY_ID.match(text))


def district_passphrase(settings: Settings) -> Passphrase:
    """The seal-key passphrase, found the way the sealer finds it (``pki.passphrase_file``, else the environment)."""
    if settings.pki_passphrase_file:
        path = Path(settings.pki_passphrase_file)
        try:
            return Passphrase(path.read_bytes().rstrip(b"\r\n"))
        except OSError as exc:
            raise StartupError(f"cannot read pki.passphrase_file {path}: {exc.strerror}") from None
    try:
        return load_passphrase()
    except SigningError as exc:
        raise StartupError(f"cannot read the seal-key passphrase: {exc}") from None


def hmac_key(caller_id: str, passphrase: Passphrase) -> tuple[StoredCallerKey, bytes]:
    """A new HMAC-SHA256 key for ``caller_id``: the row to store (secret sealed) and the secret, to give once."""
    secret = secrets.token_bytes(HMAC_SECRET_BYTES)
    return sealed_hmac_key(caller_id, new_key_id(caller_id), secret, passphrase), secret


def sealed_hmac_key(caller_id: str, key_id: str, secret: bytes, passphrase: Passphrase) -> StoredCallerKey:
    """The row that keeps ``secret`` as ``caller_id``'s key ``key_id``, sealed under ``passphrase``."""
    box = sealed.seal(secret, passphrase, fmt=SEALED_FORMAT, context=_context(caller_id, key_id), kdf=pkcs8.WRITE_KDF)
    return StoredCallerKey(key_id, caller_id, "hmac-sha256", None, box.decode("ascii"), utcnow())


def ed25519_key(caller_id: str, public_pem: bytes) -> StoredCallerKey:
    """The row for the caller's own Ed25519 public key (PEM); :class:`CommandError` for anything else."""
    try:
        public = serialization.load_pem_public_key(public_pem)
    except (ValueError, TypeError):
        raise CommandError("the public key file is not a PEM public key ('openssl pkey -pubout')") from None
    if not isinstance(public, Ed25519PublicKey):
        raise CommandError(f"the public key is a {type(public).__name__.removesuffix('PublicKey')} key, not Ed25519")
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return StoredCallerKey(new_key_id(caller_id), caller_id, "ed25519", pem.decode("ascii"), None, utcnow())


def fingerprint(key: StoredCallerKey) -> str:
    """SHA-256 of an Ed25519 key's raw public bytes (what the caller compares); secrets have none to show."""
    if key.public_key is None:
        return "-"
    public = serialization.load_pem_public_key(key.public_key.encode("ascii"))
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode("ascii")


def unseal_secret(key: StoredCallerKey, passphrase: Passphrase) -> bytes:
    """An HMAC key's secret; :class:`KeyStoreError` when the passphrase is wrong or the row was moved or altered."""
    assert key.sealed_secret is not None
    return sealed.unseal(
        key.sealed_secret.encode("ascii"), passphrase, fmt=SEALED_FORMAT, context=_context(key.caller_id, key.key_id)
    )


@dataclass(frozen=True)
class InUse:
    """A key that may verify signatures now, and what verifies with it."""

    stored: StoredCallerKey
    key: VerificationKey


class KeyRing:
    """The keys signatures are verified with, read from the store at each use (no restart to add or retire one)."""

    CACHE_LIMIT = 4096

    def __init__(self, store: Store, passphrase: Callable[[], Passphrase]) -> None:
        self.store = store
        self._passphrase = passphrase
        self._opened: dict[tuple[str, str], VerificationKey] = {}

    async def in_use(self, key_id: str) -> InUse | None:
        """The key ``key_id`` unless unknown or retired; a secret that cannot be unsealed is None too (logged)."""
        if not is_key_id(key_id):
            return None
        stored = await self.store.caller_key(key_id)
        if stored is None or stored.retired_at is not None:
            return None
        material = stored.public_key if stored.alg == "ed25519" else stored.sealed_secret
        if material is None:
            return None
        cached = self._opened.get((key_id, material))
        if cached is None:
            cached = await asyncio.to_thread(self._open, stored)
            if len(self._opened) >= self.CACHE_LIMIT:
                self._opened.clear()
            self._opened[(key_id, material)] = cached
        return InUse(stored, cached)

    def _open(self, stored: StoredCallerKey) -> VerificationKey:
        if stored.alg == "ed25519":
            assert stored.public_key is not None
            public = serialization.load_pem_public_key(stored.public_key.encode("ascii"))
            if not isinstance(public, Ed25519PublicKey):
                raise KeyStoreError(f"caller key {stored.key_id}: not an Ed25519 public key")
            return public
        return unseal_secret(stored, self._passphrase())
