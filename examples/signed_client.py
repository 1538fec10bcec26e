#!/usr/bin/env python3
"""Send a signed request to Onewindow: Python's standard library, plus ``cryptography`` for Ed25519 keys.

HTTP Message Signatures (RFC 9421) built by hand, so every byte is visible:
a Content-Digest of the body (RFC 9530, sha-256), then the signature base
over ``@method``, ``@target-uri`` and ``content-digest`` with ``created``,
a fresh random ``nonce``, ``keyid`` and ``alg``, signed with HMAC-SHA256
(standard library) or Ed25519 (``cryptography``). docs/api.md shows one
such request byte for byte.

Usage: signed_client.py URL KEY_FILE ENVELOPE.json [IDEMPOTENCY_KEY]

KEY_FILE is what ``onewindow caller add-key --out`` writes:
{"caller", "key_id", "alg": "hmac-sha256", "secret": base64} or
{"caller", "key_id", "alg": "ed25519", "private_key": PEM}.
Prints the gateway's answer (status and JSON); exits 1 on a 4xx or 5xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sys
import time
import urllib.error
import urllib.request
import uuid


def content_digest(body: bytes) -> str:
    """RFC 9530: the sha-256 of the body as a structured-field byte sequence."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def signature_base(method: str, target_uri: str, digest: str, params: str) -> bytes:
    """RFC 9421 section 2.5: one line per covered component, then @signature-params; no final newline."""
    lines = [
        f'"@method": {method}',
        f'"@target-uri": {target_uri}',
        f'"content-digest": {digest}',
        f'"@signature-params": {params}',
    ]
    return "\n".join(lines).encode("ascii")


def sign(key: dict, base: bytes) -> bytes:
    if key["alg"] == "hmac-sha256":
        return hmac.new(base64.b64decode(key["secret"]), base, hashlib.sha256).digest()
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(key["private_key"].encode("ascii"), password=None).sign(base)


def signed_headers(key: dict, method: str, url: str, body: bytes) -> dict[str, str]:
    """Content-Digest, Signature-Input and Signature for one request (sign each request anew)."""
    digest = content_digest(body)
    params = (
        '("@method" "@target-uri" "content-digest")'
        f';created={int(time.time())};nonce="{secrets.token_urlsafe(18)}";keyid="{key["key_id"]}";alg="{key["alg"]}"'
    )
    signature = sign(key, signature_base(method, url, digest, params))
    return {
        "Content-Digest": digest,
        "Signature-Input": f"sig1={params}",
        "Signature": "sig1=:" + base64.b64encode(signature).decode("ascii") + ":",
    }


def submit(base_url: str, key: dict, envelope: dict, idempotency_key: str) -> tuple[int, dict]:
    url = base_url.rstrip("/") + "/v1/requests"
    body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
    headers.update(signed_headers(key, "POST", url, body))
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        key = json.load(f)
    with open(argv[2], encoding="utf-8") as f:
        envelope = json.load(f)
    status, answer = submit(argv[0], key, envelope, argv[3] if len(argv) == 4 else str(uuid.uuid4()))
    print(json.dumps({"status": status, "body": answer}, ensure_ascii=False, indent=2))
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
