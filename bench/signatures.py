"""Signed-request benchmark: what checking one RFC 9421 signature costs the gateway.

Run: ``.venv/bin/python bench/signatures.py [--seconds 2] [--pg postgresql://...]``.  Measures,
for a typical 1 KB intake envelope: the signature check as the gateway runs it (the
``http-message-signatures`` verifier rebuilding the signature base, HMAC-SHA256 or Ed25519) and
the Content-Digest check; remembering one nonce in the store (SQLite as the gateway opens it,
and PostgreSQL when ``--pg`` is given, else ``$TEST_PG_URL``); and unsealing one HMAC secret
(scrypt N=2^14, r=8, p=5: once per key per process). Each loop is bounded in count
(``MAX_ITERATIONS``) and time (``--seconds``). Prints a Markdown table for bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import ContentDigest, HTTPMessageVerifier, MappingKeyResolver

from gateway.callers.keys import hmac_key, unseal_secret
from gateway.callers.signatures import ALGORITHMS
from gateway.callers.signing_client import SigningKey, sign
from gateway.store import make_store, utcnow
from signing.keys.passphrase import Passphrase

MAX_ITERATIONS = 20_000
URL = "http://127.0.0.1:8080/v1/requests"


class Message:
    def __init__(self, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = "POST", URL, headers


def envelope() -> bytes:
    doc = {
        "item": "tax.payment-record",
        "applicant": {"kind": "person", "id_number": "370303199001011239", "name": "张伟"},
        "materials": {"period_start": "2025-01-01", "period_end": "2025-12-31", "note": "x" * 700},
        "office": "370303105000",
        "operator": "fz-window-01",
        "channel": "window",
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def rate(work: Callable[[], object], seconds: float) -> float:
    """Calls per second, bounded in count and time."""
    started, count = time.perf_counter(), 0
    while count < MAX_ITERATIONS and time.perf_counter() - started < seconds:
        work()
        count += 1
    return count / (time.perf_counter() - started)


async def async_rate(work: Callable[[], Awaitable[object]], seconds: float) -> float:
    started, count = time.perf_counter(), 0
    while count < MAX_ITERATIONS and time.perf_counter() - started < seconds:
        await work()
        count += 1
    return count / (time.perf_counter() - started)


def verification(key: SigningKey, public: object, body: bytes) -> Callable[[], object]:
    headers = sign("POST", URL, body, key)
    verifier = HTTPMessageVerifier(
        signature_algorithm=ALGORITHMS[key.alg],
        key_resolver=MappingKeyResolver(public_keys={key.key_id: public}, private_keys={}),
    )
    verifier.max_clock_skew = timedelta(seconds=300)

    def check() -> None:
        verifier.verify(Message(headers), max_age=timedelta(seconds=300))
        ContentDigest.verify(headers["Content-Digest"], body)

    return check


async def nonce_rate(url: str, seconds: float) -> float:
    store = make_store(url)
    await store.open()
    try:

        async def remember() -> None:
            now = utcnow()
            fresh = await store.remember_nonce("bench.key", secrets.token_urlsafe(18), now=now, expires_at=now)
            assert fresh

        return await async_rate(remember, seconds)
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--pg", default=os.environ.get("TEST_PG_URL", ""))
    args = parser.parse_args()
    body = envelope()
    secret = secrets.token_bytes(32)
    private = Ed25519PrivateKey.generate()
    rows = [
        (
            "HMAC-SHA256 signature + Content-Digest check",
            rate(verification(SigningKey("k.1", "hmac-sha256", secret), secret, body), args.seconds),
        ),
        (
            "Ed25519 signature + Content-Digest check",
            rate(verification(SigningKey("k.2", "ed25519", private), private.public_key(), body), args.seconds),
        ),
        (
            "signing a request (HMAC-SHA256, the client's side)",
            rate(lambda: sign("POST", URL, body, SigningKey("k.1", "hmac-sha256", secret)), args.seconds),
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(
            (
                "nonce remembered, SQLite (one transaction, synchronous=FULL)",
                await nonce_rate(f"sqlite:///{tmp}/bench.db", args.seconds),
            )
        )
    if args.pg:
        schema = "bench_" + uuid.uuid4().hex[:8]
        rows.append(
            ("nonce remembered, PostgreSQL on loopback", await nonce_rate(f"{args.pg}?schema={schema}", args.seconds))
        )
        import asyncpg

        conn = await asyncpg.connect(args.pg)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
    row, _ = hmac_key("bench", Passphrase(b"bench-passphrase"))
    started = time.perf_counter()
    unseal_secret(row, Passphrase(b"bench-passphrase"))
    unseal_ms = (time.perf_counter() - started) * 1000
    print(f"body: {len(body)} bytes\n")
    print("| measurement | per second | per call |\n|---|---|---|")
    for name, per_s in rows:
        print(f"| {name} | {per_s:,.0f} | {1000 / per_s:.3f} ms |")
    print(f"| unsealing one HMAC secret (scrypt N=2^14, r=8, p=5; once per key per process) | | {unseal_ms:.0f} ms |")


if __name__ == "__main__":
    asyncio.run(main())
