"""Signed requests in tests: a caller's key put in the gateway's store, requests signed with it and sent."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.callers.keys import MAX_ACTIVE_KEYS, ed25519_key, hmac_key
from gateway.callers.signing_client import SigningKey, sign
from signing.keys.passphrase import Passphrase
from tests.conftest import SAMPLE_PASSPHRASE


async def hmac_key_for(store: Any, caller: str = "fangzhen-window") -> SigningKey:
    """A new HMAC key of ``caller``, stored (sealed) as ``onewindow caller add-key`` stores it."""
    row, secret = hmac_key(caller, Passphrase(SAMPLE_PASSPHRASE))
    assert await store.add_caller_key(row, max_active=MAX_ACTIVE_KEYS)
    return SigningKey(row.key_id, "hmac-sha256", secret, caller)


async def ed25519_key_for(store: Any, caller: str = "fangzhen-window") -> SigningKey:
    """A new Ed25519 key pair of ``caller``; its public half stored."""
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    row = ed25519_key(caller, pem)
    assert await store.add_caller_key(row, max_active=MAX_ACTIVE_KEYS)
    return SigningKey(row.key_id, "ed25519", private, caller)


def body_of(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False).encode("utf-8")


async def post_signed(gw: Any, envelope: dict[str, Any], key: SigningKey, **headers: str) -> Any:
    """POST ``envelope`` to ``gw`` signed with ``key`` (extra ``headers`` added after signing)."""
    body = body_of(envelope)
    url = str(gw.client.make_url("/v1/requests"))
    signed = sign("POST", url, body, key)
    sent = {"Content-Type": "application/json", **signed, **headers}
    return await gw.client.post("/v1/requests", data=body, headers=sent)
