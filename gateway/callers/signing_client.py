"""Signing a request the way an intake system does: what ``onewindow call`` and the tests send.

The caller's side of :mod:`gateway.callers.signatures`, with the same
library: a Content-Digest of the body (sha-256), then a signature labelled
``sig1`` over ``@method``, ``@target-uri`` and ``content-digest``, with
``created``, a fresh random ``nonce``, ``keyid`` and ``alg``.

A key file is the JSON ``onewindow caller add-key --out`` writes --
``{"caller", "key_id", "alg", "secret"}`` (base64) for an HMAC key, or
``"private_key"`` (PEM) for an Ed25519 one -- or an Ed25519 private key PEM
alone, with the key id given separately.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver

from gateway.callers.signatures import ALGORITHMS
from gateway.errors import CommandError

COVERED = ("@method", "@target-uri", "content-digest")
LABEL = "sig1"


@dataclass(frozen=True, repr=False)
class SigningKey:
    """A caller's key, as the caller holds it (never printed)."""

    key_id: str
    alg: str
    material: bytes | Ed25519PrivateKey
    caller: str = ""

    def __repr__(self) -> str:
        return f"SigningKey({self.key_id}, {self.alg})"


@dataclass
class _Outgoing:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def sign(
    method: str,
    url: str,
    body: bytes,
    key: SigningKey,
    *,
    created: datetime | None = None,
    nonce: str | None = None,
    covered: Sequence[str] = COVERED,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The Content-Digest, Signature-Input and Signature headers for one request (``url`` absolute, encoded).

    ``headers`` are the other headers the request will carry, for ``covered`` to name some of them
    (``idempotency-key``); they come back with the signature's.
    """
    message = _Outgoing(method.upper(), url, dict(headers or {}))
    signer = HTTPMessageSigner(
        signature_algorithm=ALGORITHMS[key.alg],
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={key.key_id: key.material}),
    )
    signer.sign(
        message,
        key_id=key.key_id,
        created=created,
        nonce=nonce or secrets.token_urlsafe(18),
        label=LABEL,
        covered_component_ids=covered,
        body=body if "content-digest" in covered else None,  # the library covers the digest it adds
    )
    return message.headers


def key_file_text(key_id: str, caller: str, alg: str, material: bytes | Ed25519PrivateKey) -> str:
    """The JSON key file for ``onewindow call --key-file`` (keep it like a password: mode 0600)."""
    doc: dict[str, Any] = {"caller": caller, "key_id": key_id, "alg": alg}
    if isinstance(material, Ed25519PrivateKey):
        pem = material.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        doc["private_key"] = pem.decode("ascii")
    else:
        doc["secret"] = base64.b64encode(material).decode("ascii")
    return json.dumps(doc, indent=2) + "\n"


def read_key_file(path: Path, *, key_id: str | None = None) -> SigningKey:
    """A key file (JSON from ``add-key --out``, or an Ed25519 private key PEM with ``key_id``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read the key file {path}: {exc.strerror}") from None
    if data.lstrip().startswith(b"-----BEGIN"):
        if not key_id:
            raise CommandError(f"{path} is a PEM key: give its key id with --key-id")
        return SigningKey(key_id, "ed25519", _ed25519(data, path))
    try:
        doc = json.loads(data)
        alg, kid = doc["alg"], key_id or doc["key_id"]
        if alg == "hmac-sha256":
            return SigningKey(kid, alg, base64.b64decode(doc["secret"], validate=True), doc.get("caller", ""))
        if alg == "ed25519":
            return SigningKey(kid, alg, _ed25519(doc["private_key"].encode("ascii"), path), doc.get("caller", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    raise CommandError(f"{path} is not a key file of 'onewindow caller add-key --out' nor an Ed25519 PEM key")


def _ed25519(pem: bytes, path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise CommandError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CommandError(f"{path}: not an Ed25519 private key")
    return key
