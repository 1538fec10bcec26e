"""Store-and-forward: deferral, redelivery, dead letters, crash recovery, callbacks, idempotency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiohttp import web

from gateway.contract import AgencyCall, AgencyUnavailable, Health, IntakeRequest, hookimpl
from gateway.delivery.accepted import stored_envelope
from gateway.delivery.callbacks import SIGNATURE_HEADER, verify_callback
from gateway.intake.envelope import parse_envelope
from gateway.intake.request_ids import new_ulid
from gateway.store import RequestRecord, RequestStatus, utcnow
from tests.agency_gate import AgencyGate
from tests.helpers import INVOICE_MATERIALS, ORGANISATION, PERSON, TOWN, identity_of

QUERY = {
    "item": "tax.credit-grade",
    "applicant": ORGANISATION,
    "materials": {"year": 2025},
    "office": TOWN,
    "operator": "fz-window-01",
    "channel": "window",
}
CLEARANCE = {
    **QUERY,
    "item": "tax.clearance-certificate",
    "materials": {
        "reason": "注销登记",
        "contact_phone": "13805330123",
        "invoice_cancellation_proof": {"media_type": "application/pdf", "content_base64": "JVBERi0xLjQK"},
    },
}


async def wait_for_status(gw, request_id: str, status: str, timeout: float = 10.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = await (await gw.get(f"/v1/requests/{request_id}")).json()
        if body["status"] == status:
            return body
        assert asyncio.get_running_loop().time() < deadline, f"still {body['status']}: {body.get('error')}"
        await asyncio.sleep(0.05)


async def test_an_agency_down_defers_and_the_outbox_completes_it_once_it_is_back(start_gateway) -> None:
    gw = await start_gateway(agency_changes={"tax": {"max_attempts": 2, "backoff_initial_s": 0.01}})
    tax = gw.sandboxes["tax"]
    tax.knobs.update({"maintenance": True})
    response = await gw.post(CLEARANCE)
    assert response.status == 202, await response.text()
    body = await response.json()
    assert body["status"] == "deferred" and "Retry-After" in response.headers
    assert body["error"]["code"] == "agency_unavailable"
    tax.knobs.update({"maintenance": False})
    done = await wait_for_status(gw, body["id"], "completed")
    assert done["result"]["seal"]["number"]
    assert tax.ledger.stats()["effective_submissions"] == 1
    assert tax.ledger.stats()["acted_more_than_once"] == []


async def bureau_down(start_gateway):
    """A gateway whose tax bureau is in maintenance, tried once per call."""
    gw = await start_gateway(agency_changes={"tax": {"max_attempts": 1}})
    gw.sandboxes["tax"].knobs.update({"maintenance": True})
    return gw


async def test_a_non_deferrable_item_fails_fast_with_503(start_gateway) -> None:
    gw = await bureau_down(start_gateway)
    body = {**QUERY, "item": "tax.individual-invoice", "applicant": PERSON, "materials": INVOICE_MATERIALS}
    response = await gw.post(body)
    assert response.status == 503 and "Retry-After" in response.headers
    problem = await response.json()
    assert problem["type"] == "/problems/agency-unavailable"
    record = await gw.gateway.store.get_request(problem["request_id"])
    assert record.status is RequestStatus.FAILED
    assert await gw.gateway.store.list_outbox(request_id=record.id) == []


async def test_an_open_circuit_defers_without_calling_the_agency(start_gateway) -> None:
    gw = await start_gateway(agency_changes={"tax": {"max_attempts": 1, "breaker_failures": 1, "breaker_reset_s": 60}})
    tax = gw.sandboxes["tax"]
    tax.knobs.update({"maintenance": True})
    assert (await gw.post(QUERY)).status == 202
    tax.knobs.update({"maintenance": False, "latency_ms": 0})
    response = await gw.post(QUERY)
    body = await response.json()
    assert response.status == 202 and body["error"]["kind"] == "CircuitOpen"


async def test_a_request_left_by_a_crashed_process_is_delivered_by_the_outbox(start_gateway) -> None:
    gw = await start_gateway()
    store = gw.gateway.store
    # What a process that died right after accepting leaves behind: the record and its claimed row.
    item = gw.gateway.registry.catalogue.get("tax.clearance-certificate")
    envelope, _ = parse_envelope(CLEARANCE, item, max_attachment_bytes=1 << 20)
    now = utcnow() - timedelta(minutes=5)
    record = RequestRecord(
        id=new_ulid(),
        caller_id="fangzhen-window",
        item=item.code,
        agency="tax",
        office=TOWN,
        operator="fz-window-01",
        channel="window",
        status=RequestStatus.ACCEPTED,
        envelope=stored_envelope(envelope),
        created_at=now,
        updated_at=now,
    )
    await store.accept_request(
        record, claimed_by="dead-process", lease_until=now + timedelta(seconds=25), expires_at=now + timedelta(hours=72)
    )
    done = await wait_for_status(gw, record.id, "completed")
    assert done["attempts"] == 1
    assert await store.list_outbox(request_id=record.id) == []


async def test_a_deferred_request_is_delivered_as_accepted_even_if_it_would_not_validate_today(start_gateway) -> None:
    """Checked once, at acceptance: a date rule that has moved on must not strand a request in the outbox."""
    gw = await start_gateway()
    item = gw.gateway.registry.catalogue.get("tax.payment-record")
    accepted = {
        **CLEARANCE,
        "item": item.code,
        "applicant": {"kind": "person", "id_number": "370303199001011239", "name": "张伟"},
        "materials": {"period_start": "2025-01-01", "period_end": "2025-12-31"},
    }
    envelope, _ = parse_envelope(accepted, item, max_attachment_bytes=1 << 20)
    stored = stored_envelope(envelope)
    stored["materials"]["period_end"] = "2999-12-31"  # "not after today" no longer holds for what was accepted
    now = utcnow()
    record = RequestRecord(
        id=new_ulid(),
        caller_id="fangzhen-window",
        item=item.code,
        agency="tax",
        office=TOWN,
        operator="fz-window-01",
        channel="window",
        status=RequestStatus.DEFERRED,
        envelope=stored,
        created_at=now,
        updated_at=now,
    )
    await gw.gateway.store.insert_request(record)
    await gw.gateway.store.schedule(record.id, "submit", due_at=now, expires_at=now + timedelta(hours=1))
    done = await wait_for_status(gw, record.id, "completed")
    assert done["result"]["content"]["records"]


class DownAgency:
    code, identity = "downtest", identity_of("downtest", "停机局", "Always down")

    def __init__(self, catalogue) -> None:
        self.catalogue = catalogue
        self.calls = 0

    async def submit(self, request: IntakeRequest, call: AgencyCall):
        self.calls += 1
        raise AgencyUnavailable("the night batch is running")

    async def poll(self, ticket: str, call: AgencyCall):
        raise AgencyUnavailable("down")

    async def health(self, call: AgencyCall) -> Health:
        return Health(ok=False, detail="down")


async def test_a_request_past_its_maximum_age_is_dead_lettered_with_the_reason(start_gateway, tmp_path) -> None:
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(
        """
[[items]]
code = "downtest.thing"
name_zh = "停机测试"
name_en = "Down"
kind = "query"
seal = "service_centre"
office_levels = ["town"]
channels = ["window"]
applicant_kinds = ["person"]
legal_basis = ["测试"]
time_limit_days = 0
steps = ["测试"]
max_age_hours = 0.0003
""",
        encoding="utf-8",
    )
    agency = DownAgency(catalogue)

    class Plugin:
        @hookimpl
        def onewindow_agencies(self, config):
            return [agency]

    gw = await start_gateway(plugins=(Plugin(),))
    response = await gw.post({**QUERY, "item": "downtest.thing", "applicant": PERSON, "materials": {}})
    assert response.status == 202
    body = await wait_for_status(gw, (await response.json())["id"], "dead_letter")
    assert body["error"]["agency"] == "downtest" and body["error"]["attempts"] >= 2
    assert agency.calls >= body["error"]["attempts"]  # each delivery may include retries
    assert "maximum age" in body["error"]["reason"]


async def test_the_final_status_is_called_back_signed(start_gateway) -> None:
    received: list[tuple[bytes, str]] = []
    attempts = []

    async def callback(request: web.Request) -> web.Response:
        attempts.append(1)
        if len(attempts) == 1:
            return web.Response(status=500)  # the first try fails: it must be retried
        received.append((await request.read(), request.headers[SIGNATURE_HEADER]))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", callback)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        gw = await start_gateway()
        body = await (await gw.post({**QUERY, "callback_url": url})).json()
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
    (payload, signature) = received[0]
    secret = "sample-fangzhen-window-callback-secret"
    assert verify_callback(secret, payload, signature)
    assert not verify_callback("wrong", payload, signature)
    assert not verify_callback(secret, payload.replace(b"completed", b"rejected"), signature)
    assert b'"status": "completed"' in payload and body["id"].encode() in payload


async def test_a_callback_needs_a_configured_secret(gw) -> None:
    response = await gw.post({**QUERY, "callback_url": "http://127.0.0.1:1/x"}, key="sample-mashang-window-key")
    assert response.status in (403, 422)


async def test_idempotency_replays_refuses_other_bodies_and_reports_in_flight(start_gateway) -> None:
    gate = AgencyGate()
    gw = await start_gateway(sandbox_factories={"tax": gate.around})
    gate.open()  # closed below, for the request that must still be in flight
    first = await gw.post(QUERY, **{"Idempotency-Key": "k-1"})
    again = await gw.post(QUERY, **{"Idempotency-Key": "k-1"})
    assert first.status == again.status == 201
    assert (await first.json()) == (await again.json()) and again.headers["Idempotent-Replayed"] == "true"
    other = await gw.post({**QUERY, "materials": {"year": 2024}}, **{"Idempotency-Key": "k-1"})
    assert other.status == 422 and (await other.json())["type"] == "/problems/idempotency-key-reused"
    gate.close()
    slow = asyncio.create_task(gw.post(CLEARANCE, **{"Idempotency-Key": "k-2"}))
    await gate.arrived()  # the first is at the agency, its key claimed; it cannot finish before the gate opens
    duplicate = await gw.post(CLEARANCE, **{"Idempotency-Key": "k-2"})
    assert duplicate.status == 409
    gate.open()
    assert (await slow).status == 201
    assert gw.sandboxes["tax"].ledger.stats()["effective_submissions"] == 1
