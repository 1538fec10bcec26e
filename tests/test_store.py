"""The store: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

import pytest

from gateway.intake.request_ids import new_ulid
from gateway.store import (
    BundleRecord,
    BundleStatus,
    ClaimState,
    RequestStatus,
    Store,
    make_store,
    utcnow,
)
from gateway.store.plain_sql import Tables
from tests.helpers import stored_request as record


async def test_migrations_are_applied_once_and_versioned(store: Store, store_url: str) -> None:
    assert await store.schema_version() >= 1
    again = make_store(store_url)
    await again.open()  # a second start applies nothing twice
    assert await again.schema_version() == await store.schema_version()
    await again.close()


async def test_a_request_round_trips_with_json_and_times(store: Store) -> None:
    rec = record()
    assert await store.insert_request(rec) is True
    assert await store.insert_request(rec) is False  # same id: not inserted twice
    got = await store.get_request(rec.id)
    assert got is not None
    assert got.envelope == rec.envelope and got.status is RequestStatus.ACCEPTED
    assert got.created_at == rec.created_at
    assert await store.get_request(new_ulid()) is None


async def test_updating_a_request_changes_only_what_is_named(store: Store) -> None:
    rec = record()
    await store.insert_request(rec)
    await store.update_request(
        rec.id, status=RequestStatus.COMPLETED, result={"document": {"a": "证明"}}, attempts=2, finished_at=utcnow()
    )
    got = await store.get_request(rec.id)
    assert got.status is RequestStatus.COMPLETED and got.result == {"document": {"a": "证明"}}
    assert got.attempts == 2 and got.operator == "fz-01" and got.finished_at is not None
    with pytest.raises(ValueError):
        await store.update_request(rec.id, caller_id="someone-else")


async def test_listing_filters_by_status_newest_first(store: Store) -> None:
    first, second = record(), record()
    await store.insert_request(first)
    await store.insert_request(second)
    await store.update_request(first.id, status=RequestStatus.FAILED)
    assert [r.id for r in await store.list_requests()] == [second.id, first.id]
    assert [r.id for r in await store.list_requests(status="failed")] == [first.id]


async def claim(
    store: Store,
    key: str,
    digest: str = "d1",
    request_id: str | None = None,
    *,
    now=None,
    ttl=timedelta(hours=1),
    lease=timedelta(seconds=30),
):
    now = now or utcnow()
    return await store.claim_idempotency_key(
        "caller",
        key,
        body_digest=digest,
        request_id=request_id or new_ulid(),
        now=now,
        expires_at=now + ttl,
        lease_until=now + lease,
    )


async def test_idempotency_key_lifecycle(store: Store) -> None:
    first = await claim(store, "k1")
    assert first.state is ClaimState.NEW
    assert (await claim(store, "k1")).state is ClaimState.IN_FLIGHT
    assert (await claim(store, "k1", "other")).state is ClaimState.MISMATCH
    await store.finish_idempotency_key(
        "caller",
        "k1",
        status_code=201,
        response={"body": {"id": first.request_id}, "headers": {"Location": "/x"}},
        retryable=False,
    )
    replay = await claim(store, "k1")
    assert replay.state is ClaimState.REPLAY and replay.status_code == 201
    assert replay.response == {"id": first.request_id} and replay.headers == {"Location": "/x"}


async def test_a_retryable_answer_resumes_with_the_same_request_id(store: Store) -> None:
    first = await claim(store, "k2")
    await store.finish_idempotency_key(
        "caller", "k2", status_code=503, response={"body": {}, "headers": {}}, retryable=True
    )
    again = await claim(store, "k2")
    assert again.state is ClaimState.RESUME and again.request_id == first.request_id


async def test_an_expired_lease_resumes_and_an_expired_key_starts_afresh(store: Store) -> None:
    start = utcnow()
    first = await claim(store, "k3", now=start, lease=timedelta(seconds=1))
    resumed = await claim(store, "k3", now=start + timedelta(seconds=2))
    assert resumed.state is ClaimState.RESUME and resumed.request_id == first.request_id
    fresh = await claim(store, "k3", now=start + timedelta(hours=2))
    assert fresh.state is ClaimState.NEW and fresh.request_id != first.request_id
    assert await store.purge_idempotency_keys(start + timedelta(hours=5)) == 1


async def test_concurrent_claims_of_one_key_let_exactly_one_through(store: Store) -> None:
    results = await asyncio.gather(*(claim(store, "race") for _ in range(20)))
    states = [r.state for r in results]
    assert states.count(ClaimState.NEW) == 1
    assert states.count(ClaimState.IN_FLIGHT) == 19


async def test_accepting_a_request_creates_its_claimed_submit_row(store: Store) -> None:
    rec = record()
    now = utcnow()
    assert await store.accept_request(
        rec, claimed_by="w1", lease_until=now + timedelta(seconds=30), expires_at=now + timedelta(hours=72)
    )
    (entry,) = await store.list_outbox(request_id=rec.id)
    assert entry.action == "submit" and entry.claimed_by == "w1"
    # held by w1: nobody else may claim it until the lease runs out
    assert await store.claim_outbox("w2", now=now, lease_until=now + timedelta(seconds=5), limit=10) == []
    later = now + timedelta(seconds=31)
    (taken,) = await store.claim_outbox("w2", now=later, lease_until=later + timedelta(seconds=5), limit=10)
    assert taken.request_id == rec.id and taken.claimed_by == "w2"


async def test_scheduled_rows_become_due_and_finish(store: Store) -> None:
    rec = record()
    await store.insert_request(rec)
    now = utcnow()
    await store.schedule(
        rec.id,
        "poll",
        due_at=now + timedelta(seconds=10),
        expires_at=now + timedelta(hours=1),
        attempts=2,
        last_error="busy",
    )
    assert await store.claim_outbox("w", now=now, lease_until=now + timedelta(seconds=5), limit=5) == []
    due = now + timedelta(seconds=11)
    (entry,) = await store.claim_outbox("w", now=due, lease_until=due + timedelta(seconds=5), limit=5)
    assert (entry.action, entry.attempts, entry.last_error) == ("poll", 2, "busy")
    assert await store.release_outbox_claims("w") == 1
    await store.finish_outbox(rec.id, "poll")
    assert await store.list_outbox() == []


async def test_concurrent_workers_never_claim_the_same_row(store: Store, store_url: str) -> None:
    now = utcnow()
    ids = []
    for _ in range(30):
        rec = record()
        await store.insert_request(rec)
        await store.schedule(rec.id, "submit", due_at=now, expires_at=now + timedelta(hours=1))
        ids.append(rec.id)
    others = [make_store(store_url) for _ in range(2)] if store.backend == "postgres" else []
    for other in others:
        await other.open()
    stores = [store, *others]
    claims = await asyncio.gather(
        *(
            stores[i % len(stores)].claim_outbox(
                f"w{i}", now=now + timedelta(seconds=1), lease_until=now + timedelta(seconds=60), limit=7
            )
            for i in range(6)
        )
    )
    for other in others:
        await other.close()
    claimed = [e.request_id for batch in claims for e in batch]
    assert len(claimed) == len(set(claimed)) == 30


async def test_listings_taken_while_rows_are_rescheduled_show_each_row_once(store: Store) -> None:
    """A listing is one snapshot: a row moved along the index during the scan is not seen twice."""
    now = utcnow()
    ids = []
    for _ in range(150):
        rec = record()
        await store.insert_request(rec)
        await store.schedule(rec.id, "submit", due_at=now, expires_at=now + timedelta(hours=1))
        ids.append(rec.id)
    stop = asyncio.Event()

    async def reschedule() -> None:
        later = now
        while not stop.is_set():
            for request_id in ids:
                later += timedelta(milliseconds=1)  # always later: each row jumps to the end of the due index
                await store.schedule(request_id, "submit", due_at=later, expires_at=now + timedelta(hours=1))
                await asyncio.sleep(0)

    writer = asyncio.create_task(reschedule())
    try:
        for _ in range(60):
            listed = [e.request_id for e in await store.list_outbox(limit=1000)]
            assert sorted(listed) == sorted(ids)
            await asyncio.sleep(0)
    finally:
        stop.set()
        await writer


async def test_reads_never_see_another_task_s_unit_of_work_half_done(tmp_path) -> None:
    """SQLite's one writer connection: a read waits for a unit of work under way in another task.

    Units of work share commits, so a read sees every unit done so far (answers wait for the flush that
    covers them); but a unit that awaits something half-way is seen whole or not at all.
    """
    store = make_store(f"sqlite:///{tmp_path}/onewindow.db")
    await store.open()
    try:
        rec = record()
        half_done, finish = asyncio.Event(), asyncio.Event()

        async def unit() -> None:
            async with store.transaction() as db:
                await db.execute(
                    "INSERT INTO requests (id, caller_id, item, agency, office, operator, channel, status, envelope, "
                    "attempts, created_at, updated_at) VALUES (?, 'c', 'i', 'a', 'o', 'op', 'window', 'accepted', "
                    "'{}', 0, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
                    (rec.id,),
                )
                assert (await store.get_request(rec.id)).caller_id == "c"  # its own writes, within the unit
                half_done.set()
                await finish.wait()
                await db.execute("UPDATE requests SET caller_id = 'whole' WHERE id = ?", (rec.id,))

        task = asyncio.create_task(unit())
        await half_done.wait()
        reading = asyncio.create_task(store.get_request(rec.id))
        await asyncio.sleep(0.05)
        assert not reading.done()  # not the half-done row
        finish.set()
        assert (await reading).caller_id == "whole"
        await task
    finally:
        await store.close()


async def test_the_sqlite_files_are_readable_by_the_gateway_s_user_only(tmp_path) -> None:
    import stat

    path = tmp_path / "new-dir" / "onewindow.db"
    store = make_store(f"sqlite:///{path}")
    await store.open()
    await store.insert_request(record())
    try:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        for name in ("onewindow.db", "onewindow.db-wal", "onewindow.db-shm"):
            assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
    finally:
        await store.close()


async def test_an_existing_world_readable_sqlite_file_is_narrowed(tmp_path) -> None:
    import stat

    path = tmp_path / "old.db"
    first = make_store(f"sqlite:///{path}")
    await first.open()
    await first.close()
    path.chmod(0o644)
    again = make_store(f"sqlite:///{path}")
    await again.open()
    await again.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_migration_numbers_may_leave_gaps_but_never_repeat(tmp_path, monkeypatch) -> None:
    """Numbers are given to features when planned, so a later one may land first; a number used twice is refused."""
    import pytest

    from gateway.store import migrations as migrations_module
    from gateway.store import release_schema_version

    folder = tmp_path / "sqlite"
    folder.mkdir()
    for name in ("0001_a.sql", "0002_b.sql", "0011_later.sql"):
        (folder / name).write_text("SELECT 1", encoding="utf-8")
    monkeypatch.setattr(migrations_module.resources, "files", lambda _: tmp_path)
    assert [m.version for m in migrations_module.migrations("sqlite")] == [1, 2, 11]
    assert release_schema_version("sqlite") == 11
    (folder / "0011_again.sql").write_text("SELECT 1", encoding="utf-8")
    with pytest.raises(RuntimeError, match="once"):
        migrations_module.migrations("sqlite")


async def test_a_guarded_move_returns_the_request_as_it_left_it_and_its_bundle(store: Store) -> None:
    """The final move reads the request in the same statement: no second read, no look-up of its bundle."""
    alone, step = record(), record()
    await store.insert_request(alone)
    await store.insert_request(step)
    now = utcnow()
    bundle = BundleRecord(
        id=new_ulid(),
        caller_id="fangzhen-window",
        chain="c",
        office="370303105000",
        operator="fz-01",
        channel="window",
        status=BundleStatus.RUNNING,
        body={},
        steps=[{"item": "tax.payment-record", "request_id": step.id}],
        created_at=now,
        updated_at=now,
    )
    assert await store.insert_bundle(bundle)
    moved = await store.move_request(
        alone.id, expect=(RequestStatus.ACCEPTED,), status=RequestStatus.COMPLETED, result={"document": {"n": 1}}
    )
    assert moved is not None and moved.bundle_id is None
    assert moved.record == await store.get_request(alone.id)
    assert moved.record.status is RequestStatus.COMPLETED and moved.record.result == {"document": {"n": 1}}
    assert moved.record.envelope == alone.envelope
    stepped = await store.move_request(step.id, expect=(RequestStatus.ACCEPTED,), status=RequestStatus.REJECTED)
    assert stepped is not None and stepped.bundle_id == bundle.id
    again = await store.move_request(alone.id, expect=(RequestStatus.ACCEPTED,), status=RequestStatus.FAILED)
    assert again is None  # it had moved on: nothing changed
    # The JSON a move writes is what its record holds, as a later read finds it.
    failing = record()
    await store.insert_request(failing)
    failed = await store.move_request(
        failing.id,
        expect=(RequestStatus.ACCEPTED,),
        status=RequestStatus.FAILED,
        result=None,
        error={"code": "seal_unavailable", "message": "没有印章", "n": [1, 2.5, None]},
    )
    assert failed is not None and failed.record == await store.get_request(failing.id)
    assert failed.record.result is None and failed.record.error["message"] == "没有印章"
    assert await store.request_status(alone.id) is RequestStatus.COMPLETED
    assert await store.request_status("no-such-request") is None


async def test_a_settling_move_finishes_its_outbox_action_only_when_it_moved(store: Store) -> None:
    now = utcnow()
    rec = record()
    assert await store.accept_request(rec, claimed_by="w1", lease_until=now, expires_at=now + timedelta(days=1))
    await store.schedule(rec.id, "callback", due_at=now, expires_at=now + timedelta(days=1))
    moved = await store.move_request_finishing(
        rec.id, "submit", expect=(RequestStatus.ACCEPTED,), status=RequestStatus.COMPLETED, result={"n": 1}
    )
    assert moved is not None and moved.bundle_id is None
    assert moved.record == await store.get_request(rec.id) and moved.record.result == {"n": 1}
    assert [e.action for e in await store.list_outbox(request_id=rec.id)] == ["callback"]  # only its own action
    await store.schedule(rec.id, "submit", due_at=now, expires_at=now + timedelta(days=1))
    stale = await store.move_request_finishing(
        rec.id, "submit", expect=(RequestStatus.ACCEPTED,), status=RequestStatus.FAILED
    )
    assert stale is None  # it had moved on: nothing changed, its row stays for whoever holds it
    assert await store.request_status(rec.id) is RequestStatus.COMPLETED
    assert sorted(e.action for e in await store.list_outbox(request_id=rec.id)) == ["callback", "submit"]


@pytest.mark.parametrize("stuck", ["update", "read", "delete"])
async def test_a_settling_move_that_fails_part_way_leaves_the_sqlite_store_whole(
    tmp_path, monkeypatch, stuck: str
) -> None:
    """Without a savepoint, each statement of the move leaves the store whole: a refused update changes nothing
    (its outbox row stays for the retry); a failed read-back or outbox delete leaves a settled request with its
    outbox row, which the redelivery finds settled."""
    from gateway.store.sqlite import store as sqlite_store

    store = make_store(f"sqlite:///{tmp_path}/onewindow.db")
    await store.open()
    try:
        now = utcnow()
        rec = record()
        assert await store.accept_request(rec, claimed_by="w1", lease_until=now, expires_at=now + timedelta(days=1))
        if stuck == "read":
            monkeypatch.setattr(sqlite_store, "_READ_BACK", "SELECT no_such_column FROM requests WHERE id = ?")
        else:
            verb, table = ("UPDATE", "requests") if stuck == "update" else ("DELETE", "outbox")
            store.writer.raw.execute(
                f"CREATE TEMP TRIGGER stuck BEFORE {verb} ON main.{table} BEGIN SELECT RAISE(ABORT, 'stuck'); END"
            )
        with pytest.raises(sqlite3.Error, match=r"stuck|no_such_column"):
            await store.move_request_finishing(
                rec.id, "submit", expect=(RequestStatus.ACCEPTED,), status=RequestStatus.COMPLETED, result={"n": 1}
            )
        monkeypatch.undo()
        store.writer.raw.execute("DROP TRIGGER IF EXISTS temp.stuck")
        await store.durable()  # the store is still open for writing
        left = [e.action for e in await store.list_outbox(request_id=rec.id)]
        fresh = await store.get_request(rec.id)
        assert fresh is not None and left == ["submit"]
        if stuck == "update":
            assert fresh.status is RequestStatus.ACCEPTED and fresh.result is None
        else:
            assert fresh.status is RequestStatus.COMPLETED and fresh.result == {"n": 1}
            again = await store.move_request_finishing(
                rec.id, "submit", expect=(RequestStatus.ACCEPTED,), status=RequestStatus.COMPLETED
            )
            assert again is None  # the redelivery finds it settled
    finally:
        await store.close()


async def test_a_claim_finds_a_request_a_restore_lost_in_the_same_look_up(store: Store) -> None:
    """The key's lost request (after a restore) is found by the claim itself, and nothing is claimed then."""
    lost_id, now = new_ulid(), utcnow()
    await Tables(store).write(
        [
            (
                "INSERT INTO lost_requests (request_id, caller_id, status, last_seen_at, agency_called, key_digest, "
                "request_digest, reconciliation) VALUES (?, ?, 'accepted', ?, ?, ?, ?, 1)",
                (lost_id, "caller", now.isoformat(), False, "hmac-sha256:k", "hmac-sha256:body"),
            )
        ]
    )
    args = dict(body_digest="d1", now=now, expires_at=now + timedelta(hours=1), lease_until=now + timedelta(seconds=9))
    found = await store.claim_idempotency_key(
        "caller", "k", request_id=new_ulid(), lost_key_digest="hmac-sha256:k", **args
    )
    assert found.state is ClaimState.LOST and found.request_id == lost_id
    assert found.lost is not None and found.lost.request_digest == "hmac-sha256:body"
    resumed = await store.claim_idempotency_key("caller", "k", request_id=lost_id, **args)
    assert resumed.state is ClaimState.NEW and resumed.request_id == lost_id  # claimed only now
    other = await store.claim_idempotency_key(
        "caller", "k2", request_id="r-2", lost_key_digest="hmac-sha256:other", **args
    )
    assert other.state is ClaimState.NEW and other.request_id == "r-2"


async def test_a_one_statement_unit_that_fails_keeps_the_units_before_it(tmp_path) -> None:
    """A unit of one statement has no savepoint: SQLite undoes the failed statement and the transaction goes on."""
    store = make_store(f"sqlite:///{tmp_path}/units.db")
    await store.open()
    try:
        kept = record()
        await store.insert_request(kept)  # a unit in the same open transaction
        writer = store.writer  # type: ignore[attr-defined]
        with pytest.raises(sqlite3.IntegrityError):
            async with writer.unit(single=True) as raw:
                raw.execute("INSERT INTO requests (id) VALUES (?)", (kept.id,))
        assert await store.get_request(kept.id) == kept
        await store.durable()
        assert await store.update_request(kept.id, status=RequestStatus.PENDING)
        await store.durable()
    finally:
        await store.close()
