"""Raw payloads kept encrypted beside their entries (AES-256-GCM), committed to inside them.

The entry itself holds only digests. When ``[audit] payload_key_file`` is set,
the raw request or result is encrypted and stored in the entry's row
*outside* the hashed bytes, while the entry holds a commitment to it::

    "payload": {"alg": "A256GCM", "key_id": "<16 hex>",
                "digest": "hmac-sha256:<the event's keyed digest of the plaintext>",
                "sha256": "<hex of nonce || ciphertext || tag>"}

So the ciphertext is integrity-protected by the Merkle tree (change one byte
and the commitment, hence ``audit verify``, says so), proofs stay small (the
ciphertext is not in the proven bytes), and a payload can be erased when its
retention ends without breaking the tree. An auditor holding the key
decrypts it and checks ``digest`` (keyed with the district audit secret, like
the event's own digest field: :class:`gateway.observability.events.PayloadDigests`;
entries from before keyed digests carry ``sha256:`` of the plaintext),
proving exactly what was sent; without the key the log still proves order
and integrity. The associated data binds each ciphertext to its event's kind
and request id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import PayloadKeyError
from gateway.observability.events import PayloadDigests, stable_json
from signing.audit.entry import PAYLOAD_ALGORITHM

_NONCE = 12


def _aad(kind: str, request_id: str | None) -> bytes:
    return f"onewindow-audit-payload/v1\n{kind}\n{request_id or ''}".encode()


class PayloadCipher:
    """Seals and opens raw payloads with one 256-bit key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise PayloadKeyError("the audit payload key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"onewindow-audit-payload-key\n" + key).hexdigest()[:16]

    @classmethod
    def from_file(cls, path: str | Path) -> PayloadCipher:
        """Read a key file: 64 hex digits, base64 of 32 bytes, or the 32 raw bytes."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise PayloadKeyError(f"cannot read the audit payload key {path}: {exc.strerror}") from None
        text = data.strip()
        for decode in (bytes.fromhex, lambda t: base64.b64decode(t, validate=True)):
            try:
                key = decode(text.decode("ascii"))
            except (ValueError, binascii.Error, UnicodeDecodeError):
                continue
            if len(key) == 32:
                return cls(key)
        if len(data) == 32:
            return cls(data)
        raise PayloadKeyError(f"{path}: not a 32-byte key (64 hex digits, base64, or raw)")

    @staticmethod
    def generate() -> str:
        """A fresh key as 64 hex digits (what ``audit init-key --payload-key`` writes)."""
        return os.urandom(32).hex()

    def seal(self, kind: str, request_id: str | None, raw: Any, *, digest: str | None) -> tuple[dict[str, str], bytes]:
        """``(commitment for the entry, nonce || ciphertext || tag for the row)``; ``digest`` is the keyed one."""
        if digest is None:
            raise PayloadKeyError("a kept payload needs its keyed digest (the district audit secret is not loaded)")
        plaintext = stable_json(raw)
        nonce = os.urandom(_NONCE)
        blob = nonce + self._aead.encrypt(nonce, plaintext, _aad(kind, request_id))
        commitment = {
            "alg": PAYLOAD_ALGORITHM,
            "key_id": self.key_id,
            "digest": digest,
            "sha256": hashlib.sha256(blob).hexdigest(),
        }
        return commitment, blob

    def open(
        self,
        kind: str,
        request_id: str | None,
        blob: bytes,
        commitment: dict[str, str],
        digests: PayloadDigests | None = None,
    ) -> bytes:
        """Decrypt a payload and check it against the entry's commitment; ``PayloadKeyError`` if not.

        A keyed digest is checked with ``digests`` (the district audit
        secret); without it, only the ciphertext commitment and the AEAD tag are.
        """
        if commitment.get("key_id") != self.key_id:
            raise PayloadKeyError(f"payload was sealed with key {commitment.get('key_id')}, not {self.key_id}")
        if hashlib.sha256(blob).hexdigest() != commitment.get("sha256"):
            raise PayloadKeyError("the stored ciphertext is not the one the entry commits to")
        try:
            plaintext = self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], _aad(kind, request_id))
        except InvalidTag:
            raise PayloadKeyError("the payload does not decrypt with this key") from None
        claimed = commitment.get("digest", "")
        if claimed.startswith("hmac-sha256:"):
            expected = digests(plaintext, request_id=request_id) if digests is not None else None
        else:
            expected = "sha256:" + hashlib.sha256(plaintext).hexdigest()
        if expected is not None and not hmac.compare_digest(expected, claimed):
            raise PayloadKeyError("the decrypted payload does not match the entry's digest")
        return plaintext
