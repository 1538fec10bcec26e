"""Seal private keys as software: encrypted PKCS#8 files, and the Signer protocol every key meets.

Keys are ECDSA P-384 (``ES384``, the default) or P-256 (``ES256``); see
:mod:`signing.keys.algorithms` for why and for what each implies.  Private
keys only touch the disk as passphrase-encrypted PKCS#8
(:mod:`signing.keys.passphrase`); a key in a token signs through
:mod:`signing.keys.pkcs11` behind the same protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from signing.errors import KeyStoreError, PassphraseError
from signing.fsutil import atomic_write
from signing.keys.algorithms import DEFAULT_KEY_TYPE, KeyType, key_type_of
from signing.keys.passphrase import Passphrase
from signing.keys.pkcs8 import encrypt_pkcs8, kdf_of


def generate_private_key(key_type: KeyType = DEFAULT_KEY_TYPE) -> ec.EllipticCurvePrivateKey:
    return key_type.generate()


def encrypt_private_key(key: ec.EllipticCurvePrivateKey, passphrase: Passphrase) -> bytes:
    """PEM of encrypted PKCS#8 under scrypt (:func:`signing.keys.pkcs8.encrypt_pkcs8`)."""
    return encrypt_pkcs8(key, passphrase)


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

    #: The signature is made here, in a fraction of a millisecond of CPU: a caller may make it where it
    #: stands (the gateway signs on its event loop). A signer without this attribute, or with it false
    #: (a token), may take its device's time, and is called from a thread of its own.
    in_memory = True

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


def upgrade_key_file(path: Path, pem: bytes, key: PrivateKeyTypes, passphrase: Passphrase) -> bool:
    """Re-encrypt a key file whose KDF is weaker than today's; True if it was rewritten.

    Called where a command already holds the decrypted key and the
    passphrase (the seal commands open the root key), so upgrading costs no
    extra secret. The file is replaced atomically, mode 0600.
    """
    if kdf_of(pem).current:
        return False
    atomic_write(path, encrypt_pkcs8(key, passphrase), mode=0o600)
    return True


def same_public_key(a: ec.EllipticCurvePublicKey, b: ec.EllipticCurvePublicKey) -> bool:
    point = serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    return a.public_bytes(*point) == b.public_bytes(*point)
