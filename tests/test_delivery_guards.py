"""Delivery holds under leases that run out, crashes between writes, and requests that can never finish.

Each test reproduces a defect a review found: a stale holder overwriting a
settled request, a pending request left without a poll, a request for a
withdrawn item retried for ever, and more.
"""

from __future__ import annotations

import asyncio
import datetime as real_datetime
from datetime import timedelta

from gateway.agencies.installed import load_registry
from gateway.agencies.plugin_manager import plugin_manager
from gateway.contract import AgencyUnavailable, Completed, Pending
from gateway.delivery.accepted import stored_envelope
from gateway.errors import SealUnavailable, StoreError
from gateway.intake.envelope import parse_envelope
from gateway.intake.request_ids import new_ulid
from gateway.personal_data import identifiers
from gateway.store import RequestRecord, RequestStatus, utcnow
from tests.helpers import sample_settings
from tests.scripted_agency import ENVELOPE, ScriptedAgency, ScriptedPlugin


def make_record(*, at, **fields) -> RequestRecord:
    """A request as accepted at the town window at ``at``, with the fields a test cares about."""
    return RequestRecord(
        id=new_ulid(),
        caller_id="fangzhen-window",
        office="370303105000",
        operator="fz-window-01",
        channel="window",
        created_at=at,
        updated_at=at,
        **fields,
    )


async def test_a_stale_delivery_cannot_overwrite_a_completed_request(start_gateway, tmp_path, store_url):
    agency = ScriptedAgency(tmp_path)
    first_call_started = asyncio.Event()
    release_first = asyncio.Event()

    down = []

    async def submit(request, call):
        if len(agency.submits) == 1:  # holder A: stalls (paused process, GC, slow extranet) ...
            first_call_started.set()
            await release_first.wait()
            raise AgencyUnavailable("connection reset")  # ... and comes back with a transport error
        if down:
            raise AgencyUnavailable("still flaky")
        return Completed({"answer": "done"}, reference="REF-1")  # holder B: the agency answers (deduped)

    agency.on_submit = submit
    gw = await start_gateway(store_url, plugins=(ScriptedPlugin(agency),))
    store = gw.gateway.store
    sealed = []

    class Spy:
        def record(self, kind, fields):
            if kind == "result.sealed":
                sealed.append(fields["request_id"])

    gw.gateway.events.sinks.append(Spy())
    post = asyncio.create_task(gw.post(ENVELOPE))
    await first_call_started.wait()
    # A's lease on the submit row runs out while A is still delivering (simulated at once);
    # on PostgreSQL the other process's worker claims the row just the same.
    await store.release_outbox_claims()
    gw.gateway.worker.wake()
    for _ in range(100):
        [rid] = [r.id for r in await store.list_requests()]
        if (await store.get_request(rid)).status is RequestStatus.COMPLETED:
            break
        await asyncio.sleep(0.05)
    assert (await store.get_request(rid)).status is RequestStatus.COMPLETED  # B delivered, sealed, finished
    down.append(1)
    release_first.set()  # A resumes with its stale view
    response = await post
    record = await store.get_request(rid)
    rows = await store.list_outbox(request_id=rid)
    assert record.status is RequestStatus.COMPLETED, (
        f"the completed, sealed request was overwritten by the stale holder: now {record.status}, "
        f"error={record.error}, outbox={[(r.action, r.due_at) for r in rows]}; A answered HTTP {response.status}"
    )
    down.clear()
    await asyncio.sleep(2.0)
    assert len(sealed) == 1, f"sealed {len(sealed)} times, agency called {len(agency.submits)} times"


async def test_a_stale_delivery_does_not_seal_and_replace_the_result_a_second_time(start_gateway, tmp_path):
    agency = ScriptedAgency(tmp_path)
    first_call_started = asyncio.Event()
    release_first = asyncio.Event()

    async def submit(request, call):
        if len(agency.submits) == 1:
            first_call_started.set()
            await release_first.wait()
        return Completed({"answer": "done"}, reference="REF-1")  # the agency deduplicates: same answer

    agency.on_submit = submit
    gw = await start_gateway(plugins=(ScriptedPlugin(agency),))
    store = gw.gateway.store
    sealed = []

    class Spy:
        def record(self, kind, fields):
            if kind in ("result.sealed", "request.completed"):
                sealed.append(kind)

    gw.gateway.events.sinks.append(Spy())
    post = asyncio.create_task(gw.post(ENVELOPE))
    await first_call_started.wait()
    await store.release_outbox_claims()  # A's lease runs out while A still works
    gw.gateway.worker.wake()
    for _ in range(100):
        [rid] = [r.id for r in await store.list_requests()]
        if (await store.get_request(rid)).status is RequestStatus.COMPLETED:
            break
        await asyncio.sleep(0.05)
    first_document = (await store.get_request(rid)).result["document"]
    release_first.set()
    answer = await (await post).json()
    stored = (await store.get_request(rid)).result["document"]
    assert sealed.count("result.sealed") == 1 and stored == first_document, (
        f"{sealed}; the sealed document handed out first ({first_document['seal']['jws'][-16:]}) was replaced by "
        f"another ({stored['seal']['jws'][-16:]}); the caller got {answer['result']['seal']['jws'][-16:]}"
    )


async def test_a_queued_request_for_a_removed_item_is_dead_lettered_not_retried_for_ever(start_gateway):
    gw = await start_gateway()
    store = gw.gateway.store
    now = utcnow() - timedelta(days=4)
    record = make_record(
        at=now,
        item="tax.withdrawn-item",
        agency="tax",
        status=RequestStatus.DEFERRED,
        envelope={},
        callback_url="http://127.0.0.1:9/hook",
    )
    await store.insert_request(record)
    # Deferred while the item existed; the row's expiry (max_age_hours) has long passed.
    await store.schedule(record.id, "submit", due_at=now, expires_at=now + timedelta(hours=72))
    await asyncio.sleep(1.0)
    fresh = await store.get_request(record.id)
    rows = await store.list_outbox(request_id=record.id)
    assert fresh.status is RequestStatus.DEAD_LETTER, (
        f"still {fresh.status}; outbox {[(r.action, r.claimed_by, r.lease_until) for r in rows]} "
        "(claimed, dropped, re-claimed every lease; expiry never checked; no callback)"
    )


class RevokedSealer:
    def __init__(self, real):
        self.real = real

    def check(self, item, office):
        return None

    async def seal(self, document, **kw):
        raise SealUnavailable("office 370303105000 holds no valid service-centre seal covering scripted.thing")

    def trust_view(self):
        return self.real.trust_view()

    def published_bundle(self):
        return self.real.published_bundle()

    def close(self):
        self.real.close()


async def test_a_polled_result_that_cannot_be_sealed_is_called_back_and_leaves_no_outbox_row(start_gateway, tmp_path):
    agency = ScriptedAgency(tmp_path)
    gw = await start_gateway(plugins=(ScriptedPlugin(agency),))
    store = gw.gateway.store
    item = gw.gateway.registry.catalogue.get("scripted.thing")
    envelope, _ = parse_envelope(ENVELOPE, item, max_attachment_bytes=1 << 20)
    now = utcnow()
    record = make_record(
        at=now,
        item=item.code,
        agency="scripted",
        status=RequestStatus.PENDING,
        envelope=stored_envelope(envelope),
        ticket="T-9",
        attempts=1,
        callback_url="http://127.0.0.1:9/hook",
    )
    await store.insert_request(record)
    finished: list[str] = []
    gw.gateway.delivery.transitions.observers.append(lambda request_id, **_: finished.append(request_id))
    gw.gateway.delivery.sealer = RevokedSealer(gw.gateway.delivery.sealer)  # the seal was revoked while pending
    await store.schedule(record.id, "poll", due_at=now, expires_at=now + timedelta(days=30))
    await asyncio.sleep(1.0)
    fresh = await store.get_request(record.id)
    rows = {r.action: r for r in await store.list_outbox(request_id=record.id)}
    assert fresh.status is RequestStatus.FAILED
    assert "callback" in rows, f"the kiosk is never told its request failed; outbox rows: {list(rows)}"
    assert "poll" not in rows, "the poll row is left leased (finish_outbox was called for 'submit')"
    assert finished == [record.id], "the failure was announced more than once (plugins, bundles, the callback)"


async def test_a_partner_outlet_cannot_read_results_of_items_it_may_not_handle(start_gateway, tmp_path):
    gw = await start_gateway(plugins=(ScriptedPlugin(ScriptedAgency(tmp_path)),))
    created = await (await gw.post(ENVELOPE)).json()  # accepted at the town window
    assert created["status"] == "completed"
    # The bank outlet sits in the same office but may only handle tax.payment-record, tax.credit-grade, ...
    refused = await gw.post(ENVELOPE, key="sample-bank-outlet-key")
    assert refused.status == 403
    seen = await gw.get(f"/v1/requests/{created['id']}", key="sample-bank-outlet-key")
    body = await seen.json()
    assert seen.status == 404, f"bank outlet read the sealed result: applicant {body['result']['applicant']}"
    proof = await gw.get(f"/v1/requests/{created['id']}/audit-proof", key="sample-bank-outlet-key")
    assert proof.status == 404


async def test_a_request_pending_past_its_poll_expiry_is_dead_lettered(start_gateway, tmp_path):
    agency = ScriptedAgency(tmp_path)

    async def still_pending(ticket, call):
        return Pending(ticket=ticket, poll_after=0.05)

    agency.on_poll = still_pending
    gw = await start_gateway(plugins=(ScriptedPlugin(agency),))
    store = gw.gateway.store
    item = gw.gateway.registry.catalogue.get("scripted.thing")
    envelope, _ = parse_envelope(ENVELOPE, item, max_attachment_bytes=1 << 20)
    created = utcnow() - timedelta(days=60)
    record = make_record(
        at=created,
        item=item.code,
        agency="scripted",
        status=RequestStatus.PENDING,
        envelope=stored_envelope(envelope),
        ticket="T-7",
        attempts=1,
    )
    await store.insert_request(record)
    await store.schedule(record.id, "poll", due_at=utcnow(), expires_at=created + timedelta(days=6))  # long expired
    await asyncio.sleep(1.0)
    fresh = await store.get_request(record.id)
    assert fresh.status is RequestStatus.DEAD_LETTER, f"still {fresh.status} after {len(agency.polls)} polls"


# 02:30 on 5 May 2026 in Zibo (UTC+8) is 18:30 on 4 May in UTC, the zone of a stock container.
INSTANT = real_datetime.datetime(2026, 5, 4, 18, 30, tzinfo=real_datetime.UTC)


class ThatMoment(real_datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return INSTANT.astimezone(tz) if tz else INSTANT.replace(tzinfo=None)


def payment_record(period_end: str) -> dict:
    return {
        "item": "tax.payment-record",
        "applicant": {"kind": "person", "id_number": "370303199001011239", "name": "张伟"},
        "materials": {"period_start": "2026-01-01", "period_end": period_end},
        "office": "370303105000",
        "operator": "fz-kiosk",
        "channel": "kiosk",
    }


def test_a_kiosk_at_half_past_two_in_the_morning_may_ask_for_records_up_to_today_in_china(monkeypatch):
    monkeypatch.setattr(identifiers, "datetime", ThatMoment)
    item = load_registry(plugin_manager(), sample_settings(), check_settings=False).catalogue.get("tax.payment-record")
    _, problems = parse_envelope(payment_record("2026-05-05"), item, max_attachment_bytes=1 << 20)
    assert problems == [], [(p.path, p.code) for p in problems]
    _, problems = parse_envelope(payment_record("2026-05-06"), item, max_attachment_bytes=1 << 20)
    assert [(p.path, p.code) for p in problems] == [("materials/period_end", "date_in_future")]


def test_a_baby_born_today_in_china_has_a_valid_resident_id(monkeypatch):
    monkeypatch.setattr(identifiers, "datetime", ThatMoment)
    body = "37030320260505123"
    assert identifiers.resident_id_problem(body + identifiers.resident_id_check_char(body)) is None
    tomorrow = "37030320260506123"
    assert identifiers.resident_id_problem(tomorrow + identifiers.resident_id_check_char(tomorrow)) == "birth_date"


async def test_a_request_that_went_pending_is_polled_even_if_scheduling_the_poll_failed_once(start_gateway, tmp_path):
    agency = ScriptedAgency(tmp_path)

    async def pending(request, call):
        return Pending(ticket="T-1", poll_after=0.05)

    agency.on_submit = pending
    gw = await start_gateway(plugins=(ScriptedPlugin(agency),))
    store = gw.gateway.store
    real_schedule = store.schedule
    failed = []

    async def flaky_schedule(request_id, action, **kw):
        if action == "poll" and not failed:  # one transient store error (or a crash) at exactly this await
            failed.append(1)
            raise StoreError("connection reset")
        return await real_schedule(request_id, action, **kw)

    store.schedule = flaky_schedule
    response = await gw.post(ENVELOPE)
    assert response.status == 202  # safe in the outbox: not a 500 that invites a second request
    request_id = (await response.json())["id"]
    # The intake call's lease on the submit row runs out (simulated at once):
    await store.release_outbox_claims()
    gw.gateway.worker.wake()
    await asyncio.sleep(1.5)
    record = await store.get_request(request_id)
    rows = await store.list_outbox(request_id=request_id)
    # The agency holds ticket T-1; somebody must poll it (or the request must at least not be silently dropped).
    assert record.status is not RequestStatus.PENDING or any(r.action == "poll" for r in rows), (
        f"request is {record.status} with ticket {record.ticket} and outbox rows {rows}: nobody will ever poll it"
    )


async def test_a_crash_after_a_poll_settled_the_request_still_sends_the_callback(start_gateway, tmp_path):
    gw = await start_gateway(plugins=(ScriptedPlugin(ScriptedAgency(tmp_path)),))
    store = gw.gateway.store
    now = utcnow()
    # What a crash right after Delivery.settle() (poll path) leaves: final status, the poll row, no callback row.
    record = make_record(
        at=now,
        item="scripted.thing",
        agency="scripted",
        status=RequestStatus.COMPLETED,
        envelope={},
        result={"document": {}},
        finished_at=now,
        callback_url="http://127.0.0.1:9/hook",
    )
    await store.insert_request(record)
    await store.schedule(record.id, "poll", due_at=now, expires_at=now + timedelta(days=6))
    await asyncio.sleep(0.5)
    rows = [r.action for r in await store.list_outbox(request_id=record.id)]
    assert "callback" in rows, (
        f"outbox after recovery: {rows} (the submit branch calls _ensure_callback, poll does not)"
    )


async def test_a_request_whose_acceptance_cannot_be_recorded_is_not_stored_nor_delivered(start_gateway, tmp_path):
    agency = ScriptedAgency(tmp_path)
    gw = await start_gateway(plugins=(ScriptedPlugin(agency),))
    audit = gw.gateway.audit
    real_enqueue = audit.enqueue

    async def failed() -> int:
        raise OSError("disk full")  # the audit store cannot take the entry

    def enqueue(kind, fields, *, raw=None, raw_digest=None):
        if kind == "request.accepted":
            return failed()
        return real_enqueue(kind, fields, raw=raw, raw_digest=raw_digest)

    audit.enqueue = enqueue  # what the events' audit sink calls
    response = await gw.post(ENVELOPE)
    assert response.status == 500
    audit.enqueue = real_enqueue
    await asyncio.sleep(0.5)
    assert await gw.gateway.store.list_requests() == [] and agency.submits == []


async def test_retrying_a_failed_request_makes_it_accepted_again_before_calling_the_agency(start_gateway, tmp_path):
    agency = ScriptedAgency(tmp_path)
    down, seen_status = [1], []

    async def submit(request, call):
        seen_status.append((await gw.gateway.store.get_request(request.request_id)).status)
        if down:
            raise AgencyUnavailable("down")
        return Completed({"answer": "done"}, reference="REF-1")

    agency.on_submit = submit
    gw = await start_gateway(plugins=(ScriptedPlugin(agency),))
    envelope = {**ENVELOPE, "item": "scripted.now"}
    first = await gw.post(envelope, **{"Idempotency-Key": "k-retry"})
    assert first.status == 503
    rid = (await first.json())["request_id"]
    assert (await gw.gateway.store.get_request(rid)).status is RequestStatus.FAILED
    down.clear()
    again = await gw.post(envelope, **{"Idempotency-Key": "k-retry"})
    assert again.status == 201 and (await again.json())["id"] == rid
    # While the agency was being called again, a crash would have left an "accepted" request with its outbox
    # row -- which any worker delivers -- not a "failed" one that workers skip.
    assert seen_status[-1] is RequestStatus.ACCEPTED
