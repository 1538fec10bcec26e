"""Encrypted PKCS#8 with a key-derivation function of today's strength.

``cryptography``'s ``BestAvailableEncryption`` writes PKCS#8 under PBKDF2
with 2,048 iterations: a stolen key file then falls to a GPU guessing
passphrases at millions a second. Key files here are PKCS#8
``EncryptedPrivateKeyInfo`` under PBES2 (RFC 8018) with **scrypt** (RFC 7914)
and AES-256-CBC -- standard structures that ``cryptography`` and the
``openssl`` command read back with no help from us. The scrypt parameters
are N = 2^14, r = 8, p = 5: one of OWASP's equivalent minimum settings
(the same work as N = 2^17, p = 1), chosen over that one because OpenSSL 3
refuses to spend more than 32 MiB on a PKCS#8 key and an operator must be
able to inspect a key file with ``openssl pkey``. A guess costs about a
fifth of a second. Only the writing is ours, because ``cryptography``
cannot choose the KDF of a PKCS#8 file; decrypting stays ``cryptography``'s.

:func:`kdf_of` reads which KDF protects a file, so that weaker files can be
re-encrypted (``onewindow seal rekey``; seal commands upgrade the root key as
they open it).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from signing.errors import KeyStoreError
from signing.keys.passphrase import Passphrase

_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_SCRYPT = "1.3.6.1.4.1.11591.4.11"
_AES256_CBC = "2.16.840.1.101.3.4.1.42"
_SEQUENCE, _INTEGER, _OCTETS, _OID = 0x30, 0x02, 0x04, 0x06


@dataclass(frozen=True)
class Kdf:
    """Which key-derivation function protects a key file, and how hard it is."""

    name: str  # "scrypt", "pbkdf2" or "unknown"
    cost: int  # scrypt's N, PBKDF2's iteration count
    block_size: int = 0  # scrypt's r
    parallel: int = 0  # scrypt's p

    @property
    def current(self) -> bool:
        """At least the work of what :func:`encrypt_pkcs8` writes today (scrypt's N * r * p)."""
        work = WRITE_KDF.cost * WRITE_KDF.block_size * WRITE_KDF.parallel
        return self.name == "scrypt" and self.cost * self.block_size * self.parallel >= work

    def __str__(self) -> str:
        if self.name == "scrypt":
            return f"scrypt N={self.cost} r={self.block_size} p={self.parallel}"
        return f"{self.name} ({self.cost} iterations)" if self.name == "pbkdf2" else self.name


#: The KDF key files are written with: see the module's docstring.
SCRYPT_DEFAULT = Kdf("scrypt", 2**14, 8, 5)
#: What :func:`encrypt_pkcs8` writes and :attr:`Kdf.current` measures against. Always
#: :data:`SCRYPT_DEFAULT` in a running gateway or command; the test suite lowers it
#: for the keys of its throw-away districts, so that a thousand gateway starts stay fast.
WRITE_KDF = SCRYPT_DEFAULT


def length(n: int) -> bytes:
    """A DER definite length."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element."""
    return bytes([tag]) + length(len(content)) + content


def _integer(n: int) -> bytes:
    return tlv(_INTEGER, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(_OID, bytes(body))


def encrypt_pkcs8(key: PrivateKeyTypes, passphrase: Passphrase, kdf: Kdf | None = None) -> bytes:
    """PEM of ``key`` as encrypted PKCS#8: PBES2 with scrypt (default :data:`WRITE_KDF`) and AES-256-CBC."""
    kdf = kdf or WRITE_KDF
    if kdf.name != "scrypt":
        raise KeyStoreError(f"key files are written with scrypt, not {kdf.name}")
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, iv = os.urandom(16), os.urandom(16)
    secret = hashlib.scrypt(
        passphrase.reveal(), salt=salt, n=kdf.cost, r=kdf.block_size, p=kdf.parallel, maxmem=2**31 - 1, dklen=32
    )
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    scrypt_params = tlv(
        _SEQUENCE,
        tlv(_OCTETS, salt) + _integer(kdf.cost) + _integer(kdf.block_size) + _integer(kdf.parallel) + _integer(32),
    )
    algorithm = tlv(
        _SEQUENCE,
        _oid(_PBES2)
        + tlv(
            _SEQUENCE,
            tlv(_SEQUENCE, _oid(_SCRYPT) + scrypt_params) + tlv(_SEQUENCE, _oid(_AES256_CBC) + tlv(_OCTETS, iv)),
        ),
    )
    der = tlv(_SEQUENCE, algorithm + tlv(_OCTETS, ciphertext))
    body = base64.encodebytes(der)
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + body + b"-----END ENCRYPTED PRIVATE KEY-----\n"


def _read(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, content, next offset) of the DER element at ``at``."""
    if at + 2 > len(data):
        raise ValueError("truncated")
    tag, size, at = data[at], data[at + 1], at + 2
    if size & 0x80:
        count = size & 0x7F
        if not 0 < count <= 4 or at + count > len(data):
            raise ValueError("bad length")
        size, at = int.from_bytes(data[at : at + count], "big"), at + count
    if at + size > len(data):
        raise ValueError("truncated")
    return tag, data[at : at + size], at + size


def _children(content: bytes) -> list[tuple[int, bytes]]:
    out, at = [], 0
    while at < len(content):
        tag, body, at = _read(content, at)
        out.append((tag, body))
    return out


def kdf_of(pem: bytes) -> Kdf:
    """The KDF of an encrypted PKCS#8 PEM; ``Kdf("unknown", 0)`` for anything else."""
    try:
        text = b"".join(line for line in pem.strip().splitlines() if not line.startswith(b"-----"))
        _, info, _ = _read(base64.b64decode(text), 0)
        (_, algorithm), _ = _children(info)
        (_, pbes2_oid), (_, params) = _children(algorithm)
        if pbes2_oid != _oid(_PBES2)[2:]:
            return Kdf("unknown", 0)
        (_, kdf_alg), _ = _children(params)
        (_, kdf_oid), (_, kdf_params) = _children(kdf_alg)
        values = _children(kdf_params)
        if kdf_oid == _oid(_SCRYPT)[2:]:
            n, r, p = (int.from_bytes(body, "big") for _, body in values[1:4])
            return Kdf("scrypt", n, r, p)
        if kdf_oid == _oid(_PBKDF2)[2:]:
            return Kdf("pbkdf2", int.from_bytes(values[1][1], "big"))
    except (ValueError, IndexError, TypeError):
        pass
    return Kdf("unknown", 0)
