"""A small secret sealed under a passphrase: AES-256-GCM under a key derived with scrypt.

Used where the gateway must keep a secret it cannot turn into a PKCS#8 key
file: the district audit secret inside a backup, and callers' HMAC signing
secrets in the store. The document is JSON naming its format, the scrypt
parameters and salt, so it opens with the parameters it was written with.
``context`` is authenticated but not stored: a sealed secret copied to
another place (another caller's key row) does not open there.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from signing.errors import KeyStoreError
from signing.keys.passphrase import Passphrase
from signing.keys.pkcs8 import SCRYPT_DEFAULT, Kdf


def _key(passphrase: Passphrase, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.reveal())


def seal(secret: bytes, passphrase: Passphrase, *, fmt: str, context: bytes = b"", kdf: Kdf = SCRYPT_DEFAULT) -> bytes:
    """``secret`` sealed under ``passphrase`` as a small JSON document of format ``fmt``."""
    salt, nonce = os.urandom(16), os.urandom(12)
    n, r, p = kdf.cost, kdf.block_size, kdf.parallel
    box = AESGCM(_key(passphrase, salt, n, r, p)).encrypt(nonce, secret, fmt.encode() + context)
    doc = {
        "format": fmt,
        "kdf": {"name": "scrypt", "n": n, "r": r, "p": p, "salt": _b64(salt)},
        "alg": "A256GCM",
        "nonce": _b64(nonce),
        "ciphertext": _b64(box),
    }
    return json.dumps(doc, indent=2).encode("utf-8") + b"\n"


def unseal(data: bytes, passphrase: Passphrase, *, fmt: str, context: bytes = b"") -> bytes:
    """The secret back; :class:`KeyStoreError` when malformed (``malformed: ...``) or the passphrase is wrong."""
    try:
        doc = json.loads(data)
        kdf: Any = doc["kdf"]
        if doc["format"] != fmt or doc["alg"] != "A256GCM" or kdf["name"] != "scrypt":
            raise ValueError("not a sealed secret of this format")
        n, r, p = (kdf[k] for k in ("n", "r", "p"))
        if not all(type(v) is int for v in (n, r, p)) or not (2**10 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError("scrypt parameters out of range")
        key = _key(passphrase, base64.b64decode(kdf["salt"], validate=True), n, r, p)
        nonce, box = base64.b64decode(doc["nonce"], validate=True), base64.b64decode(doc["ciphertext"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyStoreError(f"malformed: {exc}") from None
    try:
        return AESGCM(key).decrypt(nonce, box, fmt.encode() + context)
    except InvalidTag:
        raise KeyStoreError("wrong passphrase, or sealed for another place") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
