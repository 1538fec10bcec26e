"""Idempotency keys outlive the process that stored them and are shared by every instance on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from gateway.store import ClaimState, utcnow
from tests.agency_gate import AgencyGate
from tests.test_outbox import CLEARANCE, wait_for_status


async def restart(start_gateway, old, store_url: str, **changes):
    """Stop ``old`` as a process would stop, and start a new gateway on the same store."""
    await old.client.close()
    await old.gateway.stop(grace_s=0.5)
    return await start_gateway(store_url, **changes)


async def test_a_stored_answer_is_replayed_after_a_restart(store_url, start_gateway) -> None:
    first = await start_gateway(store_url)
    answer = await first.post(CLEARANCE, **{"Idempotency-Key": "window-0001"})
    assert answer.status == 201
    body = await answer.json()
    assert first.sandboxes["tax"].ledger.stats()["effective_submissions"] == 1

    second = await restart(start_gateway, first, store_url)
    again = await second.post(CLEARANCE, **{"Idempotency-Key": "window-0001"})
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == body
    assert second.sandboxes["tax"].ledger.stats()["effective_submissions"] == 0  # not sent again
    other = await second.post(
        {**CLEARANCE, "materials": {**CLEARANCE["materials"], "reason": "迁出本区"}},
        **{"Idempotency-Key": "window-0001"},
    )
    assert other.status == 422 and (await other.json())["type"] == "/problems/idempotency-key-reused"


async def test_a_deferred_answer_is_replayed_after_a_restart_and_the_outbox_finishes_it(
    store_url, start_gateway
) -> None:
    first = await start_gateway(store_url, agency_changes={"tax": {"max_attempts": 1}})
    first.sandboxes["tax"].knobs.update({"maintenance": True})
    answer = await first.post(CLEARANCE, **{"Idempotency-Key": "kiosk-0007"})
    assert answer.status == 202
    deferred = await answer.json()

    second = await restart(start_gateway, first, store_url)
    again = await second.post(CLEARANCE, **{"Idempotency-Key": "kiosk-0007"})
    assert again.status == 202 and (await again.json())["id"] == deferred["id"]
    done = await wait_for_status(second, deferred["id"], "completed")
    assert done["result"]["seal"]["number"]
    assert second.sandboxes["tax"].ledger.stats()["effective_submissions"] == 1


async def test_a_key_is_honoured_across_two_instances_on_postgresql(pg_url, start_gateway) -> None:
    gate = AgencyGate()
    a = await start_gateway(pg_url, sandbox_factories={"tax": gate.around})
    tax = a.sandboxes["tax"]
    b = await start_gateway(pg_url, agency_changes={"tax": {"base_url": tax.url}})  # one agency behind both
    assert a.gateway.instance != b.gateway.instance
    slow = asyncio.create_task(a.post(CLEARANCE, **{"Idempotency-Key": "station-42"}))
    await gate.arrived()  # a's request is at the agency: its key is claimed, and it cannot finish yet
    meanwhile = await b.post(CLEARANCE, **{"Idempotency-Key": "station-42"})
    assert meanwhile.status == 409  # in flight on the other instance
    assert (await meanwhile.json())["type"] == "/problems/idempotency-in-flight"
    gate.open()
    first = await slow
    assert first.status == 201
    replay = await b.post(CLEARANCE, **{"Idempotency-Key": "station-42"})
    assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert await replay.json() == await first.json()
    other = await b.post(
        {**CLEARANCE, "materials": {**CLEARANCE["materials"], "reason": "迁出本区"}},
        **{"Idempotency-Key": "station-42"},
    )
    assert other.status == 422 and (await other.json())["type"] == "/problems/idempotency-key-reused"
    assert tax.ledger.stats()["effective_submissions"] == 1 and gate.arrivals == 1  # b never called it


async def test_the_outbox_loop_purges_expired_keys_now_and_then(store_url, start_gateway) -> None:
    gw = await start_gateway(store_url)
    store = gw.gateway.store
    past = utcnow() - timedelta(hours=1)
    for key in ("old-1", "old-2"):
        claim = await store.claim_idempotency_key(
            "fangzhen-window",
            key,
            body_digest="d",
            request_id=key,
            now=past - timedelta(hours=25),
            expires_at=past,
            lease_until=past,
        )
        assert claim.state is ClaimState.NEW
    worker = gw.gateway.worker
    assert await worker.purge_expired_keys() == 0  # the loop purged at start; rate-limited since
    worker.purge_every_s = 0.1
    worker._next_purge = 0.0
    for _ in range(100):  # the running loop purges them within a tick or two
        samples = await (await gw.client.get("/metrics")).text()
        if "onewindow_idempotency_keys_purged_total 2.0" in samples:
            break
        await asyncio.sleep(0.05)
    assert "onewindow_idempotency_keys_purged_total 2.0" in samples
    assert await store.purge_idempotency_keys(utcnow()) == 0  # nothing expired is left
