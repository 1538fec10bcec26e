"""Seal private keys: the passphrase, encrypted PKCS#8 files, the Signer protocol.

Keys are ECDSA P-384 (``ES384``, the default) or P-256 (``ES256``); see
``signing.algorithms`` for why and for what each implies.  Private keys
only touch the disk as passphrase-encrypted PKCS#8; the passphrase comes
from the environment or a file and is never logged or shown in a ``repr``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signing.algorithms import DEFAULT_KEY_TYPE, KeyType, key_type_of
from signing.errors import KeyStoreError, PassphraseError

PASSPHRASE_ENV = "ONEWINDOW_SEAL_PASSPHRASE"
PASSPHRASE_FILE_ENV = "ONEWINDOW_SEAL_PASSPHRASE_FILE"
#: The district root key's own passphrase (optional; the seal passphrase otherwise).
ROOT_PASSPHRASE_ENV = "ONEWINDOW_ROOT_PASSPHRASE"
ROOT_PASSPHRASE_FILE_ENV = "ONEWINDOW_ROOT_PASSPHRASE_FILE"
MIN_PASSPHRASE_LENGTH = 8


class Passphrase:
    """A secret that refuses to be printed; ``reveal()`` is the only way in."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def reveal(self) -> bytes:
        return self._secret

    def __repr__(self) -> str:
        return "Passphrase(<redacted>)"

    __str__ = __repr__


def load_passphrase(environ: Mapping[str, str] | None = None) -> Passphrase:
    """Read the seal keys' passphrase: ``$ONEWINDOW_SEAL_PASSPHRASE_FILE`` first, then the variable."""
    env = os.environ if environ is None else environ
    secret = _read_secret(env, PASSPHRASE_FILE_ENV, PASSPHRASE_ENV, "seal key")
    if secret is None:
        raise PassphraseError(f"no seal key passphrase: set {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV}")
    return secret


def load_root_passphrase(environ: Mapping[str, str] | None = None) -> Passphrase:
    """Read the district root key's passphrase.

    ``$ONEWINDOW_ROOT_PASSPHRASE_FILE``, then ``$ONEWINDOW_ROOT_PASSPHRASE``;
    without either, the seal passphrase (:func:`load_passphrase`), which is
    how registries made before the root had a passphrase of its own work.
    A separate root passphrase means that whoever learns the seal passphrase
    (every gateway host needs it) still cannot issue seals.
    """
    env = os.environ if environ is None else environ
    secret = _read_secret(env, ROOT_PASSPHRASE_FILE_ENV, ROOT_PASSPHRASE_ENV, "root key")
    if secret is not None:
        return secret
    secret = _read_secret(env, PASSPHRASE_FILE_ENV, PASSPHRASE_ENV, "seal key")  # too short: that error stands
    if secret is None:
        raise PassphraseError(
            f"no district root key passphrase: set {ROOT_PASSPHRASE_ENV} or {ROOT_PASSPHRASE_FILE_ENV} "
            f"(or, for a registry whose root shares the seal passphrase, {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV})"
        )
    return secret


def _read_secret(env: Mapping[str, str], file_var: str, var: str, what: str) -> Passphrase | None:
    """The secret from the file named by ``file_var``, else from ``var``; None when neither is set."""
    path = env.get(file_var)
    if path:
        try:
            secret = Path(path).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise PassphraseError(f"cannot read passphrase file named by {file_var}: {exc.strerror}") from None
    elif env.get(var):
        secret = env[var].encode("utf-8")
    else:
        return None
    if len(secret) < MIN_PASSPHRASE_LENGTH:
        raise PassphraseError(f"{what} passphrase must be at least {MIN_PASSPHRASE_LENGTH} bytes")
    return Passphrase(secret)


def generate_private_key(key_type: KeyType = DEFAULT_KEY_TYPE) -> ec.EllipticCurvePrivateKey:
    return key_type.generate()


def encrypt_private_key(key: ec.EllipticCurvePrivateKey, passphrase: Passphrase) -> bytes:
    """PEM of encrypted PKCS#8 (``BestAvailableEncryption``)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.reveal()),
    )


def decrypt_private_key(pem: bytes, passphrase: Passphrase, *, what: str = "seal key") -> ec.EllipticCurvePrivateKey:
    """Load an encrypted PKCS#8 key; a wrong passphrase is a :class:`PassphraseError`."""
    if b"ENCRYPTED PRIVATE KEY" not in pem:
        raise KeyStoreError("refusing a private key that is not encrypted PKCS#8")
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase.reveal())
    except (ValueError, TypeError):
        raise PassphraseError(f"cannot decrypt the {what}: wrong passphrase?") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key_type_of(key) is None:
        raise KeyStoreError("seal keys must be ECDSA P-384 or P-256")
    return key


@runtime_checkable
class Signer(Protocol):
    """What sealing needs from a key, wherever the key lives."""

    algorithm: str  # the JWS alg of the key: "ES384" or "ES256"

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with the key's algorithm; return the JWS signature (R || S)."""
        ...

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public key, to check it matches the seal certificate."""
        ...


@runtime_checkable
class DigestSigner(Signer, Protocol):
    """A signer that also signs a digest the caller made with the key's own hash.

    Sealing uses it to hash each seal's static header (``x5c`` and all) once
    and resume from that state per document; the signature is the same
    ECDSA signature over the same signing input.  Both signers here offer it.
    """

    key_type: KeyType

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign ``digest`` (the key type's hash of the data); return ``R || S``."""
        ...


class FileSigner:
    """A key decrypted from an encrypted PKCS#8 file into memory; its curve picks the alg."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        key_type = key_type_of(key)
        if key_type is None:
            raise KeyStoreError("seal keys must be ECDSA P-384 or P-256")
        self._key = key
        self.key_type = key_type
        self.algorithm = key_type.alg

    @classmethod
    def from_file(cls, path: Path, passphrase: Passphrase) -> FileSigner:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"cannot read seal key {path}: {exc.strerror}") from None
        return cls(decrypt_private_key(pem, passphrase))

    def sign(self, data: bytes) -> bytes:
        return self.key_type.sign(self._key, data)

    def sign_digest(self, digest: bytes) -> bytes:
        return self.key_type.sign_digest(self._key, digest)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def __repr__(self) -> str:
        return "FileSigner(<private key>)"


def same_public_key(a: ec.EllipticCurvePublicKey, b: ec.EllipticCurvePublicKey) -> bool:
    point = serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    return a.public_bytes(*point) == b.public_bytes(*point)
