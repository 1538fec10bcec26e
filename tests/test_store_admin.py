"""The store's outbox statistics and operator acts (requeue, abandon), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from gateway.store import AdminResult, ClaimState, RequestStatus, Store, utcnow
from tests.test_store import record

FINISHED = (RequestStatus.DEAD_LETTER, RequestStatus.FAILED)
QUEUED = (RequestStatus.ACCEPTED, RequestStatus.DEFERRED, RequestStatus.PENDING)


async def test_outbox_stats_count_rows_due_rows_the_oldest_and_dead_letters(store: Store) -> None:
    now = utcnow()
    empty = await store.outbox_stats(now)
    assert empty.depth == {} and empty.dead_letters == 0
    old, fresh = record(created_at=now - timedelta(minutes=10)), record()
    for rec in (old, fresh):
        await store.accept_request(rec, claimed_by="w", lease_until=now, expires_at=now + timedelta(hours=1))
    await store.schedule(fresh.id, "poll", due_at=now + timedelta(hours=1), expires_at=now + timedelta(days=1))
    await store.insert_request(record(status=RequestStatus.DEAD_LETTER))
    stats = await store.outbox_stats(utcnow())
    assert stats.depth == {"submit": 2, "poll": 1}
    assert stats.due == {"submit": 2, "poll": 0}
    assert stats.oldest_created_at["submit"] == old.created_at
    assert stats.dead_letters == 1


async def test_requeue_puts_a_dead_letter_back_in_the_outbox_and_nothing_else(store: Store) -> None:
    now = utcnow()
    dead = record(status=RequestStatus.DEAD_LETTER, finished_at=now)
    done = record(status=RequestStatus.COMPLETED, finished_at=now)
    for rec in (dead, done):
        await store.insert_request(rec)
    args = dict(from_statuses=FINISHED, error={"code": "requeued"}, due_at=now, expires_at=now + timedelta(hours=1))
    assert await store.requeue_request(dead.id, **args) is AdminResult.DONE
    assert await store.requeue_request(done.id, **args) is AdminResult.WRONG_STATUS
    assert await store.requeue_request("01JNOSUCHREQUEST0000000000", **args) is AdminResult.NOT_FOUND
    got = await store.get_request(dead.id)
    assert got.status is RequestStatus.DEFERRED and got.finished_at is None and got.error == {"code": "requeued"}
    rows = await store.list_outbox(request_id=dead.id)
    assert [(r.action, r.attempts, r.claimed_by) for r in rows] == [("submit", 0, None)]
    assert await store.list_outbox(request_id=done.id) == []
    claimed = await store.claim_outbox("w", now=now, lease_until=now + timedelta(seconds=30), limit=10)
    assert [e.request_id for e in claimed] == [dead.id]


async def test_abandon_dead_letters_a_queued_request_unless_it_is_being_delivered(store: Store) -> None:
    now = utcnow()
    busy, idle = record(), record(status=RequestStatus.DEFERRED)
    await store.accept_request(busy, claimed_by="w", lease_until=now + timedelta(seconds=30), expires_at=now)
    await store.insert_request(idle)
    await store.schedule(idle.id, "submit", due_at=now + timedelta(minutes=5), expires_at=now + timedelta(hours=1))
    error = {"code": "dead_letter", "reason": "operator gave up"}
    assert await store.abandon_request(busy.id, from_statuses=QUEUED, error=error, now=now) is AdminResult.BUSY
    assert (await store.get_request(busy.id)).status is RequestStatus.ACCEPTED
    assert await store.abandon_request(idle.id, from_statuses=QUEUED, error=error, now=now) is AdminResult.DONE
    got = await store.get_request(idle.id)
    assert got.status is RequestStatus.DEAD_LETTER and got.error == error and got.finished_at is not None
    assert await store.list_outbox(request_id=idle.id) == []
    again = await store.abandon_request(idle.id, from_statuses=QUEUED, error=error, now=now)
    assert again is AdminResult.WRONG_STATUS
    # once the lease has run out (the holder died), the busy one can be given up too
    later = now + timedelta(seconds=31)
    assert await store.abandon_request(busy.id, from_statuses=QUEUED, error=error, now=later) is AdminResult.DONE


async def test_releasing_key_leases_lets_the_next_retry_resume_with_the_same_request_id(store: Store) -> None:
    now = utcnow()
    args = dict(body_digest="d", now=now, expires_at=now + timedelta(hours=1), lease_until=now + timedelta(minutes=1))
    assert (await store.claim_idempotency_key("c", "k", request_id="r-1", **args)).state is ClaimState.NEW
    assert (await store.claim_idempotency_key("c", "k", request_id="r-2", **args)).state is ClaimState.IN_FLIGHT
    assert await store.release_idempotency_leases(now) == 1
    again = await store.claim_idempotency_key("c", "k", request_id="r-3", **args)
    assert again.state is ClaimState.RESUME and again.request_id == "r-1"


async def test_dropping_an_outbox_row_deletes_that_row_alone_unless_it_is_being_worked_on(store: Store) -> None:
    now = utcnow()
    done = record(status=RequestStatus.COMPLETED, finished_at=now, callback_url="http://127.0.0.1:1/cb")
    await store.insert_request(done)
    await store.schedule(done.id, "callback", due_at=now, expires_at=now + timedelta(hours=24), attempts=7)
    await store.schedule(done.id, "poll", due_at=now + timedelta(hours=1), expires_at=now + timedelta(hours=24))
    claimed = await store.claim_outbox("w", now=now, lease_until=now + timedelta(seconds=30), limit=10)
    assert [e.action for e in claimed] == ["callback"]
    assert await store.drop_outbox_row(done.id, "callback", now=now) is AdminResult.BUSY  # a worker sends it now
    assert len(await store.list_outbox(request_id=done.id)) == 2
    later = now + timedelta(seconds=31)  # the lease ran out: nobody holds it
    assert await store.drop_outbox_row(done.id, "callback", now=later) is AdminResult.DONE
    assert [e.action for e in await store.list_outbox(request_id=done.id)] == ["poll"]
    assert await store.drop_outbox_row(done.id, "callback", now=later) is AdminResult.NOT_FOUND
    assert (await store.get_request(done.id)).status is RequestStatus.COMPLETED  # the request is untouched
