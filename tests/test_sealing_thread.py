"""Where a result is signed: on the event loop with a key in memory, on the sealing thread with a token.

An ES384 signature with a key in memory takes about a fifth of a millisecond
of CPU: handing it to a thread and back cost more than that (CPU and
latency, bench/README.md "Sixth round"), so it is made on the loop. A token
(PKCS#11) signs in its device's time, tens of milliseconds for a USB token:
made on the loop it would stop every other request, so it is made on one
sealing thread, and the loop serves others meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import pytest

from gateway.agencies.extranet import Extranet
from gateway.sealing import district_sealer
from signing.keys.signers import FileSigner
from tests.helpers import PAYMENT_RECORD


@pytest.fixture
def as_token(monkeypatch) -> None:
    """The sample district's seal keys behave as a token's would: not in memory, so signed on the sealing thread."""
    monkeypatch.setattr(FileSigner, "in_memory", False)


async def test_a_key_in_memory_signs_on_the_event_loop(gw, monkeypatch) -> None:
    """No thread hop for a signature that costs less than the hop: the loop's own thread signs, no sealing thread."""
    threads: list[str] = []
    real = district_sealer.seal_and_digest

    def recorded(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(district_sealer, "seal_and_digest", recorded)
    answer = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    body = await answer.json()
    assert answer.status == 201 and body["result"]["seal"]["number"], body
    assert threads == [threading.current_thread().name]
    assert gw.gateway.delivery.sealer._signing is None


async def test_the_loop_serves_others_while_a_token_signs(gw, monkeypatch, as_token) -> None:
    """/healthz is answered while a token's signature is still being made: no clock needed to tell.

    Made on the loop, the signature below would hold the loop until ``release`` timed out (10 s),
    and /healthz would be answered only after it had finished.
    """
    signing, release, signed = threading.Event(), threading.Event(), threading.Event()
    threads: list[str] = []
    real = district_sealer.seal_and_digest

    def slow_seal(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        signing.set()
        release.wait(10)  # a slow token: the loop must not wait for it
        try:
            return real(*args, **kwargs)
        finally:
            signed.set()

    monkeypatch.setattr(district_sealer, "seal_and_digest", slow_seal)
    sealed = asyncio.ensure_future(gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex}))
    async with asyncio.timeout(10):
        while not signing.is_set():
            await asyncio.sleep(0.005)
    health = await gw.client.get("/healthz")
    assert health.status == 200
    assert not signed.is_set(), "the loop waited for the signature"
    assert not sealed.done()
    release.set()
    answer = await sealed
    assert answer.status == 201
    body = await answer.json()
    assert body["status"] == "completed" and body["result"]["seal"]["number"], body
    assert threads == [threads[0]] and threads[0].startswith("onewindow-sealing")


async def test_a_stop_during_the_signature_keeps_the_agencys_answer(gw, monkeypatch, as_token) -> None:
    """The grace ran out while a token was signing the result: the answer is sealed and stored, never sent again."""
    signing = threading.Event()
    calls: list[str] = []
    real, call = district_sealer.seal_and_digest, Extranet.call

    def slow_seal(*args: Any, **kwargs: Any) -> Any:
        signing.set()
        time.sleep(0.3)
        return real(*args, **kwargs)

    async def counted(self: Extranet, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return await call(self, *args, **kwargs)

    monkeypatch.setattr(district_sealer, "seal_and_digest", slow_seal)
    monkeypatch.setattr(Extranet, "call", counted)
    answered = asyncio.ensure_future(gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex}))
    async with asyncio.timeout(10):
        while not signing.is_set():
            await asyncio.sleep(0.005)
    assert gw.gateway.router.interrupt() == 1
    answer = await answered
    body = await answer.json()
    assert answer.status == 201 and body["status"] == "completed", body
    stored = await gw.gateway.store.get_request(body["id"])
    assert stored is not None and stored.status.value == "completed"
    assert not await gw.gateway.store.list_outbox(request_id=body["id"])  # nothing left for the next instance
    assert calls == ["submit"]


async def test_nothing_is_signed_once_sealing_is_closed(gw) -> None:
    """A late seal after the stop closed the keys would open a key (a token session) that nobody closes."""
    sealer = gw.gateway.delivery.sealer
    item = gw.gateway.registry.catalogue.get("tax.payment-record")
    office = gw.gateway.settings.office("370303105000")
    document = {"request_id": "x", "content": {}}
    assert (await sealer.seal(document, item=item, office=office, request_id="x")).document["seal"]["number"]
    sealer.close()
    with pytest.raises(RuntimeError, match="stopping"):
        await sealer.seal(document, item=item, office=office, request_id="x")
    assert sealer._signing is None
