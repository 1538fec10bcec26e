"""ES384 / ES256 with a key that never leaves a PKCS#11 token (HSM, smart card, SoftHSM2).

``python-pkcs11`` is an optional dependency (extra ``pkcs11``); importing
this module without it raises :class:`KeyStoreError` with the install hint.
The token PIN comes from ``ONEWINDOW_PKCS11_PIN`` or the file named by
``ONEWINDOW_PKCS11_PIN_FILE`` and is never stored in the registry.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signing.errors import KeyStoreError
from signing.keys.algorithms import DEFAULT_KEY_TYPE, key_type_of
from signing.keys.algorithms import KeyType as SealKeyType  # pkcs11 has its own KeyType

try:
    import pkcs11
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11.util.ec import encode_ec_public_key
except ImportError:  # pragma: no cover - exercised only without the extra
    pkcs11 = None  # type: ignore[assignment]

PIN_ENV = "ONEWINDOW_PKCS11_PIN"
PIN_FILE_ENV = "ONEWINDOW_PKCS11_PIN_FILE"
_LIBS: dict[str, Any] = {}
_LIBS_LOCK = threading.Lock()


def _require() -> None:
    if pkcs11 is None:
        raise KeyStoreError("PKCS#11 keys need python-pkcs11: pip install 'onewindow-signing[pkcs11]'")


def load_pin(environ: Mapping[str, str] | None = None) -> str:
    """The user PIN of the token, from the file variable first, then the PIN variable."""
    env = os.environ if environ is None else environ
    if env.get(PIN_FILE_ENV):
        try:
            return Path(env[PIN_FILE_ENV]).read_text("utf-8").strip()
        except OSError as exc:
            raise KeyStoreError(f"cannot read {PIN_FILE_ENV}: {exc.strerror}") from None
    if env.get(PIN_ENV):
        return env[PIN_ENV]
    raise KeyStoreError(f"no PKCS#11 PIN: set {PIN_ENV} or {PIN_FILE_ENV}")


@dataclass(frozen=True)
class TokenRef:
    """Where a seal key lives: module path, token label and key label (the seal number)."""

    module: str
    token: str
    label: str

    def to_dict(self) -> dict[str, str]:
        return {
            "backend": "pkcs11",
            "module": self.module,
            "token": self.token,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> TokenRef:
        return cls(data["module"], data["token"], data["label"])


def _open_session(ref: TokenRef, pin: str, *, rw: bool) -> Any:
    _require()
    with _LIBS_LOCK:  # a PKCS#11 module may be initialised once per process
        lib = _LIBS.get(ref.module)
        if lib is None:
            try:
                lib = _LIBS[ref.module] = pkcs11.lib(ref.module)
            except Exception as exc:
                raise KeyStoreError(f"cannot load PKCS#11 module {ref.module}: {exc}") from None
    try:
        token = lib.get_token(token_label=ref.token)
        try:
            return token.open(rw=rw, user_pin=pin)
        except pkcs11.exceptions.UserAlreadyLoggedIn:
            # PKCS#11 login is per application: another open session already logged in.
            return token.open(rw=rw)
    except pkcs11.exceptions.PinIncorrect:
        raise KeyStoreError(f"PKCS#11 token {ref.token!r}: wrong PIN") from None
    except pkcs11.exceptions.PKCS11Error as exc:
        raise KeyStoreError(f"PKCS#11 token {ref.token!r}: {type(exc).__name__}") from None


def _public_key(pkcs11_public: Any) -> tuple[ec.EllipticCurvePublicKey, SealKeyType]:
    key = serialization.load_der_public_key(encode_ec_public_key(pkcs11_public))
    key_type = key_type_of(key)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key_type is None:
        raise KeyStoreError("token key is not an ECDSA P-384 or P-256 key")
    return key, key_type


def generate_token_key(ref: TokenRef, pin: str, key_type: SealKeyType = DEFAULT_KEY_TYPE) -> ec.EllipticCurvePublicKey:
    """Create a non-extractable key pair of ``key_type`` on the token, labelled ``ref.label``.

    The curve is named by its DER OID in ``CKA_EC_PARAMS`` (what PKCS#11
    v2.40 section 2.3.3 asks tokens to accept).
    """
    session = _open_session(ref, pin, rw=True)
    try:
        if list(session.get_objects({Attribute.LABEL: ref.label, Attribute.CLASS: ObjectClass.PRIVATE_KEY})):
            raise KeyStoreError(f"token {ref.token!r} already holds a key labelled {ref.label!r}")
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: key_type.ec_params_der},
            local=True,
        )
        public, _private = params.generate_keypair(
            store=True,
            label=ref.label,
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
        )
        return _public_key(public)[0]
    finally:
        session.close()


class Pkcs11Signer:
    """Signs on the token with ``CKM_ECDSA`` over a digest made here.

    Plain ``CKM_ECDSA`` is used because every token has it (SoftHSM2 lacks
    some hash-and-sign mechanisms); the digest is the key's own hash
    (SHA-384 for P-384, SHA-256 for P-256) and the token returns ``R || S``
    already.  One session per signer, guarded by a lock: sessions are not
    thread-safe.
    """

    in_memory = False  # the token signs, in its own time (a USB token: tens of milliseconds)

    def __init__(self, ref: TokenRef, pin: str) -> None:
        self.ref = ref
        self._session = _open_session(ref, pin, rw=False)
        self._lock = threading.Lock()
        try:
            self._private = self._session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC, label=ref.label)
            self._public, self.key_type = _public_key(
                self._session.get_key(ObjectClass.PUBLIC_KEY, KeyType.EC, label=ref.label)
            )
        except (pkcs11.exceptions.PKCS11Error, KeyStoreError) as exc:
            self._session.close()
            detail = str(exc) if isinstance(exc, KeyStoreError) else type(exc).__name__
            raise KeyStoreError(f"no usable key {ref.label!r} on token {ref.token!r}: {detail}") from None
        self.algorithm = self.key_type.alg
        self._hash = self.key_type.hash_name
        self._digest_size = hashlib.new(self._hash).digest_size

    def sign(self, data: bytes) -> bytes:
        return self.sign_digest(hashlib.new(self._hash, data).digest())

    def sign_digest(self, digest: bytes) -> bytes:
        """``CKM_ECDSA`` over ``digest``, which must be the key type's hash of the data."""
        if len(digest) != self._digest_size:
            raise KeyStoreError(f"{self.algorithm} signs a {self.key_type.hash_name} digest")
        with self._lock:
            signature = bytes(self._private.sign(digest, mechanism=Mechanism.ECDSA))
        if len(signature) != self.key_type.signature_size:
            raise KeyStoreError(f"token returned a {len(signature)}-byte signature for {self.algorithm}")
        return signature

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"Pkcs11Signer(token={self.ref.token!r}, label={self.ref.label!r})"
