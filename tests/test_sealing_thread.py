"""Results are signed on the sealing thread, so the event loop serves others meanwhile.

An ES384 signature takes about a quarter of a millisecond of CPU with the
GIL released: made on the loop, it would stop every other request for that
long; made on one sealing thread, it runs beside them on another core.
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
from tests.helpers import PAYMENT_RECORD


async def test_the_loop_serves_others_while_a_result_is_signed(gw, monkeypatch) -> None:
    """/healthz is answered while a signature is still being made: no clock needed to tell.

    Made on the loop, the signature below would hold the loop until ``release`` timed out (10 s),
    and /healthz would be answered only after it had finished.
    """
    signing, release, signed = threading.Event(), threading.Event(), threading.Event()
    threads: list[str] = []
    real = district_sealer.seal_document

    def slow_seal(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        signing.set()
        release.wait(10)  # a slow token: the loop must not wait for it
        try:
            return real(*args, **kwargs)
        finally:
            signed.set()

    monkeypatch.setattr(district_sealer, "seal_document", slow_seal)
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


async def test_a_stop_during_the_signature_keeps_the_agencys_answer(gw, monkeypatch) -> None:
    """The grace ran out while the result was being signed: the answer is sealed and stored, never sent again."""
    signing = threading.Event()
    calls: list[str] = []
    real, call = district_sealer.seal_document, Extranet.call

    def slow_seal(*args: Any, **kwargs: Any) -> Any:
        signing.set()
        time.sleep(0.3)
        return real(*args, **kwargs)

    async def counted(self: Extranet, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return await call(self, *args, **kwargs)

    monkeypatch.setattr(district_sealer, "seal_document", slow_seal)
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
    assert (await sealer.seal(document, item=item, office=office, request_id="x"))["seal"]["number"]
    sealer.close()
    with pytest.raises(RuntimeError, match="stopping"):
        await sealer.seal(document, item=item, office=office, request_id="x")
    assert sealer._signing is None
