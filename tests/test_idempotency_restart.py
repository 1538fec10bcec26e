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
    # The replay says what GET would: still deferred, or completed if the new instance's outbox got there first.
    assert again.status in (202, 201) and (await again.json())["id"] == deferred["id"]
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


async def _kept_response(store, key: str) -> dict:
    """The answer a key keeps, as the store holds it (either engine)."""
    import json

    sql = "SELECT response FROM idempotency_keys WHERE key = {}"
    if hasattr(store, "pool"):
        kept = await store.pool.fetchval(sql.format("$1"), key)
    else:
        kept = (await store.read_one(sql.format("?"), (key,), tuples=True))[0]
    return kept if isinstance(kept, dict) else json.loads(kept)


async def test_a_key_keeps_the_request_id_not_a_second_copy_of_its_result(store_url, start_gateway) -> None:
    """The sealed result (kilobytes of personal data) is stored once, with the request; the replay still shows it."""
    gw = await start_gateway(store_url)
    answer = await gw.post(CLEARANCE, **{"Idempotency-Key": "window-kept-0001"})
    body = await answer.json()
    assert answer.status == 201 and body["result"]["seal"]["number"]
    kept = await _kept_response(gw.gateway.store, "window-kept-0001")
    assert kept == {"body": {"id": body["id"]}, "headers": {"Location": f"/v1/requests/{body['id']}"}}
    again = await gw.post(CLEARANCE, **{"Idempotency-Key": "window-kept-0001"})
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == body


async def test_a_problem_answer_is_kept_whole(start_gateway) -> None:
    """A problem is no view of the request to read again: the key keeps what it said."""
    from tests.helpers import INVOICE_MATERIALS
    from tests.test_outbox import PERSON, QUERY, bureau_down

    gw = await bureau_down(start_gateway)
    body = {**QUERY, "item": "tax.individual-invoice", "applicant": PERSON, "materials": INVOICE_MATERIALS}
    response = await gw.post(body, **{"Idempotency-Key": "window-kept-0002"})
    problem = await response.json()
    assert response.status == 503 and problem["type"] == "/problems/agency-unavailable"
    kept = await _kept_response(gw.gateway.store, "window-kept-0002")
    assert kept["body"] == {k: v for k, v in problem.items() if k != "instance"}  # the path is added as it is sent


async def test_a_key_whose_request_is_gone_answers_a_problem_not_a_stub(start_gateway) -> None:
    """Only the id is kept: with the request gone from the store (by hand), there is nothing true to replay."""
    gw = await start_gateway()
    answer = await gw.post(CLEARANCE, **{"Idempotency-Key": "window-kept-0003"})
    request_id = (await answer.json())["id"]
    async with gw.gateway.store.transaction() as db:
        await db.execute("DELETE FROM requests WHERE id = ?", (request_id,))
    again = await gw.post(CLEARANCE, **{"Idempotency-Key": "window-kept-0003"})
    problem = await again.json()
    assert again.status == 500 and again.headers["Content-Type"].startswith("application/problem+json")
    assert problem["status"] == 500 and "id" not in problem, problem
