"""Group commit on PostgreSQL: commits that do not wait for their flush, one barrier before anything leaves.

The store's connections commit with ``synchronous_commit = off``, and
:meth:`Store.durable` commits a barrier transaction that waits for the
write-ahead log's flush (gateway/store/postgres/barrier.py). These tests
hold each barrier where it stands -- the answer, the agency call, the close
of an administrative command -- so that removing one fails here.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from gateway.agencies.extranet import Extranet
from gateway.errors import StoreError
from gateway.store import Store, make_store
from gateway.store.postgres import barrier as barrier_module
from gateway.store.postgres.barrier import BARRIER_SQL, Barrier
from gateway.store.postgres.statements import Statements
from tests.helpers import PAYMENT_RECORD

pytestmark = pytest.mark.postgres

_POOL_CALLS = ("execute", "executemany", "fetch", "fetchrow", "fetchval")
# Loops that look for work on their own: their idle statements are no request's steps.
# A request reaching its final status starts a bundle runner's task, which first asks
# (a read, traced like any statement) whether the request is a bundle's step: it may
# run at any moment after, and whatever it sends on has its own barriers.
_BACKGROUND = {
    "onewindow-outbox",
    "onewindow-registry-acts",
    "onewindow-audit-checkpoints",
    "onewindow-bundle-advance",
}


def _wrote(events: list[str]) -> None:
    task = asyncio.current_task()
    if task is None or task.get_name() not in _BACKGROUND:
        events.append("write")


def _trace(monkeypatch: pytest.MonkeyPatch, events: list[str]) -> None:
    """Note every statement or transaction the store's pool and single statements finish ("write"), and each
    barrier's start and end."""
    for name in _POOL_CALLS:
        original = getattr(asyncpg.pool.Pool, name)

        def traced(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            async def run() -> Any:
                try:
                    return await _original(self, *args, **kwargs)
                finally:
                    _wrote(events)

            return run()

        monkeypatch.setattr(asyncpg.pool.Pool, name, traced)
    run = Statements._run

    async def statement(self: Statements, *args: Any) -> Any:
        try:
            return await run(self, *args)
        finally:
            _wrote(events)

    monkeypatch.setattr(Statements, "_run", statement)
    leave = asyncpg.transaction.Transaction.__aexit__

    async def left(self: Any, *exc: Any) -> Any:
        try:
            return await leave(self, *exc)
        finally:
            _wrote(events)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "__aexit__", left)
    commit = Barrier._commit

    async def barrier(self: Barrier, *args: Any) -> Any:
        events.append("barrier-start")
        try:
            return await commit(self, *args)
        finally:
            events.append("barrier-end")

    monkeypatch.setattr(Barrier, "_commit", barrier)


def _covered(events: list[str], upto: int) -> bool:
    """A barrier began after the last write before ``upto`` and ended before it."""
    last_write = max((i for i in range(upto) if events[i] == "write"), default=-1)
    started = [i for i in range(last_write + 1, upto) if events[i] == "barrier-start"]
    return any("barrier-end" in events[s:upto] for s in started)


async def _lsn(conn: asyncpg.Connection, function: str) -> int:
    text = await conn.fetchval(f"SELECT {function}()::text")
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


async def test_the_barrier_flushes_the_log_past_a_commit_that_did_not_wait(pg_store: Store) -> None:
    """An unflushed commit is on disk once durable() returns (a bare transaction id would flush nothing)."""
    store = pg_store
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("SHOW synchronous_commit") == "off"
        await conn.execute("INSERT INTO caller_requests (caller_id, at) VALUES ('c', 1.0)")
        written = await _lsn(conn, "pg_current_wal_insert_lsn")  # past our commit record
    await store.durable()
    async with store.pool.acquire() as conn:
        assert await _lsn(conn, "pg_current_wal_flush_lsn") >= written
    assert store.barriers == 1


async def test_the_barrier_statement_writes_to_the_log(pg_url: str) -> None:
    """The server flushes at commit only a transaction that wrote WAL: the barrier must write some."""
    conn = await asyncpg.connect(pg_url.split("?")[0])
    try:
        async with conn.transaction():
            await conn.fetchval(BARRIER_SQL)
            assert await conn.fetchval("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
            before = await _lsn(conn, "pg_current_wal_insert_lsn")
            await conn.fetchval(BARRIER_SQL)
            assert await _lsn(conn, "pg_current_wal_insert_lsn") > before
    finally:
        await conn.close()


async def test_concurrent_waiters_share_barriers(pg_store: Store) -> None:
    store = pg_store

    async def step(i: int) -> None:
        await store.pool.execute("INSERT INTO caller_requests (caller_id, at) VALUES ($1, $2)", f"c{i}", float(i))
        await store.durable()

    await asyncio.gather(*(step(i) for i in range(100)))
    assert 1 <= store.barriers < 50  # the pool's connections (half of max_size): waves of waiters, one barrier each
    assert await store.pool.fetchval("SELECT count(*) FROM caller_requests") == 100


async def test_closing_the_store_flushes_what_a_command_wrote(pg_url: str, monkeypatch) -> None:
    """An administrative command writes, then closes: the close waits for the flush."""
    events: list[str] = []
    store = make_store(pg_url)
    await store.open()
    _trace(monkeypatch, events)
    await store.pool.execute("INSERT INTO caller_requests (caller_id, at) VALUES ('c', 1.0)")
    await store.close()
    assert _covered(events, len(events)), events


async def test_the_agency_and_the_caller_hear_only_of_what_is_flushed(pg_url, start_gateway, monkeypatch) -> None:
    gw = await start_gateway(pg_url)
    events: list[str] = []
    _trace(monkeypatch, events)
    call, prepare = Extranet.call, web.StreamResponse.prepare

    async def agency(self: Extranet, *args: Any, **kwargs: Any) -> Any:
        events.append("agency")
        return await call(self, *args, **kwargs)

    async def answer(self: web.StreamResponse, request: web.BaseRequest) -> Any:
        events.append("answer")
        return await prepare(self, request)

    monkeypatch.setattr(Extranet, "call", agency)
    monkeypatch.setattr(web.StreamResponse, "prepare", answer)
    response = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    assert response.status == 201
    refused = await gw.post({**PAYMENT_RECORD, "item": "tax.no-such-item"})
    assert refused.status in (400, 404, 422)
    leaving = [i for i, e in enumerate(events) if e in ("agency", "answer")]
    assert [events[i] for i in leaving].count("answer") >= 2 and "agency" in events, [events[i] for i in leaving]
    assert all(_covered(events, i) for i in leaving), events


async def test_a_server_restart_closes_the_store_for_acknowledging(pg_url, start_gateway) -> None:
    """Commits not yet flushed when the server went down may be gone: nothing more is acknowledged (500)."""
    gw = await start_gateway(pg_url)
    assert (await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})).status == 201
    gw.gateway.store.barrier.started_at = datetime(2000, 1, 1, tzinfo=UTC)  # as if the server had restarted
    answer = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    assert answer.status == 500
    assert answer.content_type == "application/problem+json"
    gw.gateway.store.barrier.started_at = None  # the check passing again does not reopen the store
    again = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    assert again.status == 500


def _statement(query: str) -> str:
    """What an intake call's statement is for, by what it writes or reads (the store's own SQL, not input)."""
    text = " ".join(query.split())
    for name, marks in (
        ("barrier with key answers", ("pg_logical_emit_message", "UPDATE idempotency_keys")),
        ("barrier", ("pg_logical_emit_message",)),
        ("audit append", ("UPDATE audit_head",)),
        ("key claim", ("INSERT INTO idempotency_keys",)),
        ("acceptance", ("INSERT INTO requests", "INSERT INTO outbox")),
        ("status read", ("SELECT status FROM requests",)),
        ("settling move", ("UPDATE requests", "DELETE FROM outbox")),
    ):
        if all(mark in text for mark in marks):
            return name
    return text


async def test_a_synchronous_intake_call_makes_few_round_trips(pg_url, start_gateway, monkeypatch) -> None:
    """Each statement is a round trip (and a send on loopback, the largest CPU cost of the store): keep them few.

    Per call, one connection: the key's claim; the request and its outbox row; the status read before sealing;
    the settling move, which also finishes the outbox row; the audit log's appends (one per entry when calls
    come one at a time: five); two barriers, the second of which also writes the answer under the key. No
    BEGIN or COMMIT, no reset query at a connection's release, no statement of its own for the key's answer.
    """
    # The timed write of answers nobody waits for is no part of a call's path; on a loaded machine it could
    # come first and leave the call's own barrier only the plain kind.
    monkeypatch.setattr(barrier_module, "FLUSH_AFTER_S", 3600.0)
    gw = await start_gateway(pg_url)
    await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})  # warm: keys, sessions, statements
    sent: list[str] = []
    extended, simple = asyncpg.connection.Connection._execute, asyncpg.connection.Connection.execute

    async def counted(self: Any, query: str, args: Any, *rest: Any, **kwargs: Any) -> Any:
        if asyncio.current_task().get_name() not in _BACKGROUND:  # type: ignore[union-attr]
            sent.append(query)
        return await extended(self, query, args, *rest, **kwargs)

    async def counted_simple(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # the simple protocol: BEGIN, COMMIT, the reset query
            sent.append(query)
        return await simple(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "_execute", counted)
    monkeypatch.setattr(asyncpg.connection.Connection, "execute", counted_simple)
    calls = 5
    for _ in range(calls):
        assert (await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})).status == 201
    kinds = Counter(_statement(q) for q in sent)
    appends = kinds.pop("audit append", 0)
    assert 1 <= appends <= 5 * calls, sent
    assert kinds == {
        "key claim": calls,
        "acceptance": calls,
        "status read": calls,
        "settling move": calls,
        "barrier": calls,
        "barrier with key answers": calls,
    }, sent
    assert len(sent) <= 11 * calls


async def test_the_caller_hears_an_answer_its_key_already_holds(pg_url, start_gateway, monkeypatch) -> None:
    """The answer under a key is written by the barrier the answer waits for, not some time after."""
    monkeypatch.setattr(barrier_module, "FLUSH_AFTER_S", 3600.0)  # only a barrier writes it
    gw = await start_gateway(pg_url)
    key = uuid.uuid4().hex
    response = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": key})
    assert response.status == 201
    body = await response.json()
    conn = await asyncpg.connect(pg_url.split("?")[0], server_settings={"search_path": pg_url.split("schema=")[1]})
    try:
        row = await conn.fetchrow(
            "SELECT state, status_code, request_id, response::text AS stored FROM idempotency_keys WHERE key = $1", key
        )
    finally:
        await conn.close()
    assert (row["state"], row["status_code"], row["request_id"]) == ("done", 201, body["id"])
    assert json.loads(row["stored"])["body"]["id"] == body["id"]
    again = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": key})
    assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert await again.json() == body


async def test_an_answer_nobody_waits_for_is_written_soon(pg_store: Store) -> None:
    """Without a durable() after it (a call whose client left), the answer goes with a barrier of its own."""
    store = pg_store
    now = datetime.now(UTC)
    await store.claim_idempotency_key(
        "c", "k", body_digest="d", request_id="r1", now=now, expires_at=now + timedelta(hours=1), lease_until=now
    )
    barriers = store.barriers
    await store.finish_idempotency_key("c", "k", status_code=201, response={"body": {}}, retryable=False)
    assert store.barriers == barriers and store.barrier.holds("c", "k")  # queued, not yet written
    for _ in range(200):  # bounded: FLUSH_AFTER_S is 0.05 s
        if not store.barrier.holds("c", "k") and store.barriers > barriers:
            break
        await asyncio.sleep(0.05)
    assert await store.pool.fetchval("SELECT state FROM idempotency_keys WHERE key = 'k'") == "done"


async def test_a_failed_barrier_keeps_the_answers_for_the_next(pg_store: Store, monkeypatch) -> None:
    store = pg_store
    now = datetime.now(UTC)
    await store.claim_idempotency_key(
        "c", "k", body_digest="d", request_id="r1", now=now, expires_at=now + timedelta(hours=1), lease_until=now
    )
    await store.finish_idempotency_key("c", "k", status_code=503, response={"body": {}}, retryable=True)
    store.barrier._conn.terminate()  # the next barrier must reconnect, and cannot
    connect = asyncpg.connect

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise OSError("connection refused")

    monkeypatch.setattr(asyncpg, "connect", refused)
    with pytest.raises(StoreError):
        await store.durable()
    assert store.barrier.holds("c", "k")
    monkeypatch.setattr(asyncpg, "connect", connect)
    await store.durable()
    assert not store.barrier.holds("c", "k")
    assert await store.pool.fetchval("SELECT state FROM idempotency_keys WHERE key = 'k'") == "retryable"


async def test_sealed_documents_are_stored_without_a_compression_attempt(pg_store: Store) -> None:
    """They never compress (signatures, certificates): pglz on each write was CPU for nothing."""
    store = pg_store
    storage = await store.pool.fetch(
        "SELECT c.relname, a.attname, a.attstorage::text AS attstorage "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND (c.relname, a.attname) IN "
        "(('requests', 'result'), ('idempotency_keys', 'response'), ('receipts', 'document'), "
        "('bundles', 'receipt'))"
    )
    assert {(r["relname"], r["attname"]): r["attstorage"] for r in storage} == {
        ("requests", "result"): "e",
        ("idempotency_keys", "response"): "e",
        ("receipts", "document"): "e",
        ("bundles", "receipt"): "e",
    }


async def test_an_answer_the_server_refuses_does_not_stop_the_barrier(pg_store: Store) -> None:
    """jsonb holds no NUL character: such an answer stays unwritten (its key in flight), and every other is kept."""
    store = pg_store
    now = datetime.now(UTC)
    for key in ("bad", "good"):
        await store.claim_idempotency_key(
            "c", key, body_digest="d", request_id=key, now=now, expires_at=now + timedelta(hours=1), lease_until=now
        )
    await store.finish_idempotency_key("c", "bad", status_code=201, response={"body": {"x": "a\0b"}}, retryable=False)
    await store.finish_idempotency_key("c", "good", status_code=201, response={"body": {}}, retryable=False)
    await store.durable()
    states = dict(await store.pool.fetch("SELECT key, state FROM idempotency_keys"))
    assert states == {"bad": "in_flight", "good": "done"}
    assert not store.barrier.holds("c", "bad")
    await store.durable()  # and the barriers after it are not refused either
