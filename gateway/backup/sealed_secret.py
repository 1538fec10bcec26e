"""The district audit secret in a backup: encrypted under the seal passphrase, never in clear.

The audit secret is what makes write access to the database insufficient to
add an audit entry (docs/audit.md, "The district audit secret"), and a
backup holds the database. So the archive carries the secret sealed:
AES-256-GCM under a key derived with scrypt (N = 2^14, r = 8, p = 5, as for
the key files) from the seal passphrase, which the gateway needs anyway and
which is never in a backup. Whoever holds the archive alone learns nothing
of the secret.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from gateway.errors import BackupError
from signing.jose import ijson
from signing.keys.passphrase import Passphrase

FORMAT = "onewindow-sealed-secret/1"
_N, _R, _P = 2**14, 8, 5


def _key(passphrase: Passphrase, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.reveal())


def seal(secret: bytes, passphrase: Passphrase) -> bytes:
    """``secret`` (the file's bytes) sealed under ``passphrase``, as a small JSON document."""
    salt, nonce = os.urandom(16), os.urandom(12)
    box = AESGCM(_key(passphrase, salt, _N, _R, _P)).encrypt(nonce, secret, FORMAT.encode())
    doc = {
        "format": FORMAT,
        "kdf": {"name": "scrypt", "n": _N, "r": _R, "p": _P, "salt": _b64(salt)},
        "alg": "A256GCM",
        "nonce": _b64(nonce),
        "ciphertext": _b64(box),
    }
    return json.dumps(doc, indent=2).encode("utf-8") + b"\n"


def unseal(data: bytes, passphrase: Passphrase) -> bytes:
    """The secret back; :class:`BackupError` when the document is malformed or the passphrase is wrong."""
    try:
        doc = ijson.loads(data)
        kdf: Any = doc["kdf"]
        if doc["format"] != FORMAT or doc["alg"] != "A256GCM" or kdf["name"] != "scrypt":
            raise ValueError("not a sealed secret of this format")
        n, r, p = (kdf[k] for k in ("n", "r", "p"))
        if not all(type(v) is int for v in (n, r, p)) or not (2**10 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError("scrypt parameters out of range")
        key = _key(passphrase, base64.b64decode(kdf["salt"], validate=True), n, r, p)
        nonce, box = base64.b64decode(doc["nonce"], validate=True), base64.b64decode(doc["ciphertext"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"the archive's sealed audit secret is malformed: {exc}") from None
    try:
        return AESGCM(key).decrypt(nonce, box, FORMAT.encode())
    except InvalidTag:
        raise BackupError("cannot open the archive's audit secret: wrong seal passphrase?") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
