"""The seal key types: ECDSA P-384 (``ES384``, the default) and P-256 (``ES256``).

A key type ties together everything that must agree for one key: the curve,
the hash, the JWS ``alg`` (RFC 7518 section 3.4), the size of the ``R || S``
signature and the curve's DER OID for PKCS#11 ``CKA_EC_PARAMS``.  The
*key* decides the type, never a header: the verifier derives it from the
certificate's public key and only accepts the ``alg`` that key implies, so
a token cannot ask for a weaker hash than its key was made for.

SM2 (GB/T 38540 e-seals) is not offered: ``cryptography`` does not
implement it and JOSE has no registered ``alg`` for it (docs/seals.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

__all__ = [
    "DEFAULT_KEY_TYPE",
    "ES256",
    "ES384",
    "KEY_TYPES",
    "KeyType",
    "key_type_for_alg",
    "key_type_named",
    "key_type_of",
]


_ECDSA = {"sha256": ec.ECDSA(hashes.SHA256()), "sha384": ec.ECDSA(hashes.SHA384())}
_PREHASHED = {
    "sha256": ec.ECDSA(Prehashed(hashes.SHA256())),
    "sha384": ec.ECDSA(Prehashed(hashes.SHA384())),
}
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
}


@dataclass(frozen=True)
class KeyType:
    """One supported ECDSA key type and everything derived from it."""

    name: str  # as given to --key-type
    alg: str  # JWS "alg"
    curve_name: str  # as cryptography and OpenSSL name it
    nist_name: str  # as people name it
    hash_name: str  # hashlib name of the curve's hash
    coordinate_size: int  # bytes of R and of S
    ec_params_der: bytes  # DER OID of the named curve (PKCS#11 CKA_EC_PARAMS)

    @property
    def signature_size(self) -> int:
        """Length of the JWS signature ``R || S``."""
        return 2 * self.coordinate_size

    @property
    def ecdsa(self) -> ec.ECDSA:
        """The ``cryptography`` signature algorithm (ECDSA with the curve's hash)."""
        return _ECDSA[self.hash_name]

    def curve(self) -> ec.EllipticCurve:
        return _CURVES[self.curve_name]()

    def generate(self) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(self.curve())

    def sign(self, key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
        """Sign ``data``; return the JWS form ``R || S`` (fixed width, big-endian)."""
        return self._raw(key.sign(data, _ECDSA[self.hash_name]))

    def sign_digest(self, key: ec.EllipticCurvePrivateKey, digest: bytes) -> bytes:
        """:meth:`sign` for a digest of the data already made with this type's hash."""
        return self._raw(key.sign(digest, _PREHASHED[self.hash_name]))

    def verify(self, key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
        """Check a JWS ``R || S`` signature; False for a wrong length or a bad signature."""
        return self._verify(key, signature, data, _ECDSA[self.hash_name])

    def verify_digest(self, key: ec.EllipticCurvePublicKey, signature: bytes, digest: bytes) -> bool:
        """:meth:`verify` for a digest of the data already made with this type's hash."""
        return self._verify(key, signature, digest, _PREHASHED[self.hash_name])

    def _raw(self, der: bytes) -> bytes:
        r, s = decode_dss_signature(der)
        size = self.coordinate_size
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    def _verify(self, key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes, algorithm: ec.ECDSA) -> bool:
        size = self.coordinate_size
        if len(signature) != 2 * size or key.curve.name != self.curve_name:
            return False
        der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
        try:
            key.verify(der, data, algorithm)
        except (InvalidSignature, ValueError):  # ValueError: a digest of the wrong length
            return False
        return True


ES256 = KeyType("es256", "ES256", "secp256r1", "P-256", "sha256", 32, bytes.fromhex("06082a8648ce3d030107"))
ES384 = KeyType("es384", "ES384", "secp384r1", "P-384", "sha384", 48, bytes.fromhex("06052b81040022"))
#: By ``--key-type`` name; ES384 first, as the default.
KEY_TYPES: dict[str, KeyType] = {ES384.name: ES384, ES256.name: ES256}
DEFAULT_KEY_TYPE = ES384
_BY_ALG = {kt.alg: kt for kt in KEY_TYPES.values()}
_BY_CURVE = {kt.curve_name: kt for kt in KEY_TYPES.values()}


def key_type_named(name: str | KeyType) -> KeyType:
    """``"es384"`` -> :data:`ES384`; ``ValueError`` for anything unsupported."""
    if isinstance(name, KeyType):
        return name
    try:
        return KEY_TYPES[str(name).lower()]
    except KeyError:
        raise ValueError(f"key type {name!r} must be one of {', '.join(KEY_TYPES)}") from None


def key_type_for_alg(alg: object) -> KeyType | None:
    """The key type whose JWS ``alg`` is ``alg``, or None."""
    return _BY_ALG.get(alg) if isinstance(alg, str) else None


def key_type_of(key: object) -> KeyType | None:
    """The key type of an EC public or private key; None for any other key."""
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return _BY_CURVE.get(key.curve.name)
    return None
