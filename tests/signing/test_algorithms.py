"""The two seal key types: what each implies, and that nothing else is accepted."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.errors import KeyStoreError
from signing.keys.algorithms import (
    DEFAULT_KEY_TYPE,
    ES256,
    ES384,
    KEY_TYPES,
    KeyType,
    key_type_for_alg,
    key_type_named,
    key_type_of,
)
from signing.keys.passphrase import Passphrase
from signing.keys.signers import FileSigner, decrypt_private_key, encrypt_private_key

DATA = b"eyJhbGciOiJFUzM4NCJ9.eyJpdGVtIjoidGF4LnBheW1lbnQtcmVjb3JkIn0"


def test_es384_is_the_default_and_both_are_named_as_jose_and_nist_name_them() -> None:
    assert DEFAULT_KEY_TYPE is ES384 and list(KEY_TYPES) == ["es384", "es256"]
    assert (ES384.alg, ES384.nist_name, ES384.hash_name, ES384.signature_size) == (
        "ES384",
        "P-384",
        "sha384",
        96,
    )
    assert (ES256.alg, ES256.nist_name, ES256.hash_name, ES256.signature_size) == (
        "ES256",
        "P-256",
        "sha256",
        64,
    )
    assert key_type_named("ES256") is ES256 and key_type_named(ES384) is ES384
    assert key_type_for_alg("ES384") is ES384 and key_type_for_alg("ES512") is None
    assert key_type_for_alg(None) is None
    with pytest.raises(ValueError, match="es384, es256"):
        key_type_named("es512")


@pytest.mark.parametrize("kt", [ES384, ES256], ids=["es384", "es256"])
def test_ec_params_der_is_the_curve_oid_inside_the_public_key_info(kt: KeyType) -> None:
    key = kt.generate()
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kt.ec_params_der in spki and key.curve.name == kt.curve_name
    assert key_type_of(key) is kt and key_type_of(key.public_key()) is kt


@pytest.mark.parametrize("kt", [ES384, ES256], ids=["es384", "es256"])
def test_signatures_round_trip_whole_or_prehashed_and_nothing_else_verifies(kt: KeyType) -> None:
    other = ES256 if kt is ES384 else ES384
    key = kt.generate()
    public = key.public_key()
    signature = kt.sign(key, DATA)
    digest = hashlib.new(kt.hash_name, DATA).digest()
    by_digest = kt.sign_digest(key, digest)
    assert len(signature) == len(by_digest) == kt.signature_size
    assert kt.verify(public, signature, DATA) and kt.verify(public, by_digest, DATA)
    assert kt.verify_digest(public, signature, digest)
    assert not kt.verify(public, signature, DATA + b".")
    assert not kt.verify(public, signature[:-1], DATA)
    assert not kt.verify_digest(public, signature, digest[:-1])  # a digest of the wrong hash
    assert not kt.verify(other.generate().public_key(), signature, DATA)
    assert not other.verify(public, signature, DATA)  # the key's type, not the caller's, decides
    signer = FileSigner(key)
    assert signer.algorithm == kt.alg and kt.verify(public, signer.sign_digest(digest), DATA)


def test_other_curves_and_key_types_are_refused() -> None:
    p521 = ec.generate_private_key(ec.SECP521R1())
    assert key_type_of(p521) is None and key_type_of(Ed25519PrivateKey.generate()) is None
    with pytest.raises(KeyStoreError, match="P-384 or P-256"):
        FileSigner(p521)
    secret = Passphrase(b"long enough secret")
    with pytest.raises(KeyStoreError, match="P-384 or P-256"):
        decrypt_private_key(encrypt_private_key(p521, secret), secret)
