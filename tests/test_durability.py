"""Group commit on SQLite: units of work share commits, one flush serves every waiter, nothing leaves early.

The store commits without flushing and flushes the write-ahead log when
something is about to leave the gateway (:meth:`Store.durable`). These tests
hold the gateway to that: each barrier (the answer, the agency call) is
checked where it stands, so that removing one fails here.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from typing import Any

import pytest
from aiohttp import web

from gateway.agencies.extranet import Extranet
from gateway.store import make_store
from tests.helpers import PAYMENT_RECORD


def _writer(gw: Any) -> Any:
    return gw.gateway.store.writer


def _on_disk(writer: Any) -> bool:
    """Every unit of work done so far is committed, and every commit flushed."""
    return not writer.raw.in_transaction and writer.flush.flushed == writer.flush.commits


async def test_a_synchronous_intake_call_flushes_the_log_twice(gw) -> None:
    """Accepted (before the agency hears of it) and finished (before the answer): two flushes, not one per step."""
    store = gw.gateway.store
    await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})  # warm: keys, sessions
    before, units = store.flushes, _writer(gw).units
    answer = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    assert answer.status == 201
    assert store.flushes - before == 2
    assert _writer(gw).units - units >= 8  # the steps that once were a flush each


async def test_no_answer_leaves_before_what_it_reports_is_on_disk(gw, monkeypatch) -> None:
    seen: list[bool] = []
    prepare = web.StreamResponse.prepare

    async def checked(self: web.StreamResponse, request: web.BaseRequest) -> Any:
        seen.append(_on_disk(_writer(gw)))
        return await prepare(self, request)

    monkeypatch.setattr(web.StreamResponse, "prepare", checked)
    answer = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    assert answer.status == 201
    request_id = (await answer.json())["id"]
    assert (await gw.get(f"/v1/requests/{request_id}")).status == 200
    refused = await gw.post({**PAYMENT_RECORD, "item": "tax.no-such-item"})
    assert refused.status in (400, 404, 422)
    assert seen and all(seen), seen


async def test_the_agency_hears_only_of_what_is_on_disk(gw, monkeypatch) -> None:
    """The request is accepted and audited on disk before its agency is called (a crash cannot undo it)."""
    seen: list[bool] = []
    call = Extranet.call

    async def checked(self: Extranet, *args: Any, **kwargs: Any) -> Any:
        seen.append(_on_disk(_writer(gw)))
        return await call(self, *args, **kwargs)

    monkeypatch.setattr(Extranet, "call", checked)
    answer = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    assert answer.status == 201
    assert seen == [True]


async def test_a_failed_flush_closes_the_store_for_writing(gw, monkeypatch) -> None:
    """After a failed fdatasync the file's state is unknown: nothing more is acknowledged (500), until a restart."""

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing)
    answer = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    assert answer.status == 500
    assert answer.content_type == "application/problem+json"
    monkeypatch.undo()
    again = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    assert again.status == 500  # a flush that works again does not reopen the store
    ready = await gw.client.get("/readyz")
    assert ready.status == 503 and (await ready.json())["store"]["ok"] is False


async def test_concurrent_units_of_work_share_commits_and_flushes(tmp_path) -> None:
    store = make_store(f"sqlite:///{tmp_path}/gw.db")
    await store.open()
    try:
        writer = store.writer
        commits, flushes = writer.flush.commits, store.flushes

        async def step(i: int) -> None:
            async with store.transaction() as db:
                await db.execute("INSERT INTO caller_requests (caller_id, at) VALUES (?, ?)", (f"c{i}", float(i)))
            await store.durable()

        await asyncio.gather(*(step(i) for i in range(100)))
        assert writer.flush.commits - commits < 10
        assert store.flushes - flushes < 10
        rows = await store.read("SELECT count(*) FROM caller_requests", large=True)
        assert rows[0][0] == 100
    finally:
        await store.close()


async def test_a_write_lock_held_by_another_process_never_stops_the_loop(tmp_path) -> None:
    """An administrative command holding the write lock: the gateway waits for it without blocking the loop."""
    path = tmp_path / "gw.db"
    store = make_store(f"sqlite:///{path}")
    await store.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        write = asyncio.create_task(store.run_in_transaction(lambda conn: conn.execute("DELETE FROM caller_requests")))
        started = time.monotonic()
        await asyncio.sleep(0.3)
        assert not write.done()
        other.execute("COMMIT")
        await write
        beat.cancel()
        assert ticks >= 0.3 / 0.01 / 2  # the loop kept turning while the gateway waited
        assert time.monotonic() - started < 5
    finally:
        other.close()
        await store.close()


async def test_a_long_read_sees_every_unit_done_so_far(tmp_path) -> None:
    """Long scans run on the reader's connection: what is open is committed first, so they miss nothing."""
    store = make_store(f"sqlite:///{tmp_path}/gw.db")
    await store.open()
    try:
        await store.run_in_transaction(lambda conn: conn.execute("INSERT INTO caller_requests VALUES ('c', 1.0)"))
        assert store.writer.raw.in_transaction  # committed with the next barrier, or within COALESCE_S
        rows = await store.read("SELECT caller_id FROM caller_requests", large=True)
        assert [r[0] for r in rows] == ["c"]
    finally:
        await store.close()


async def test_the_write_ahead_log_is_copied_back_and_stays_short(tmp_path, monkeypatch) -> None:
    """The loop's connection never checkpoints (it would stop the loop); the checkpoint thread does."""
    from gateway.store.sqlite import connection

    monkeypatch.setattr(connection, "CHECKPOINT_EVERY_S", 0.0)  # as often as the log passes 4 MB
    path = tmp_path / "gw.db"
    store = make_store(f"sqlite:///{path}")
    await store.open()
    try:
        blob = "x" * 16_000
        for i in range(1500):  # ~24 MB through the log, in 150 flushes
            await store.run_in_transaction(
                lambda conn, i=i: conn.execute("INSERT INTO caller_requests VALUES (?, ?)", (blob + str(i), float(i)))
            )
            if i % 10 == 9:
                await store.durable()
                await asyncio.sleep(0.005)  # the checkpointer's turn (a running server has many)
        assert (path.parent / "gw.db-wal").stat().st_size < 8 << 20
        assert path.stat().st_size > 16 << 20  # the rows reached the database file itself
    finally:
        await store.close()


async def test_the_log_file_keeps_its_size_and_the_checkpoint_counts_what_is_written(tmp_path) -> None:
    """Once the log starts over, commits overwrite the file's blocks (a file that grows costs every flush a
    file-system journal commit), and the next checkpoint waits for 4 MB of new log, not for the file's size."""
    from gateway.store.sqlite.connection import CHECKPOINT_BYTES

    path = tmp_path / "gw.db"
    wal = path.parent / "gw.db-wal"
    store = make_store(f"sqlite:///{path}")
    await store.open()
    try:
        flush, blob = store.writer.flush, "x" * 16_000
        for i in range(400):  # ~6.5 MB of log
            await store.run_in_transaction(
                lambda conn, i=i: conn.execute("INSERT INTO caller_requests VALUES (?, ?)", (blob + str(i), float(i)))
            )
        await store.durable()
        assert flush._wal_bytes > CHECKPOINT_BYTES
        await store.writer._checkpoint()  # everything copied back: the next transaction starts the log over
        await store.run_in_transaction(lambda conn: conn.execute("DELETE FROM caller_requests WHERE at < 10"))
        await store.durable()
        assert wal.stat().st_size > CHECKPOINT_BYTES  # kept, not cut back
        assert flush._wal_bytes < 1 << 20  # the log in use: one small transaction
        assert not flush.checkpoint_due()
    finally:
        await store.close()


# Loops that look for work on their own: their statements are no request's steps (the bundle runner's
# follow-up of a finished request is one, and is counted).
_BACKGROUND = {
    "onewindow-outbox",
    "onewindow-registry-acts",
    "onewindow-audit-checkpoints",
    "onewindow-audit-checkpoint",
}
_GROUP_COMMIT = ("BEGIN", "COMMIT", "ROLLBACK")  # how many depends on timing; the flush tests above count them


async def test_a_synchronous_intake_call_runs_few_statements(gw) -> None:
    """Each statement costs the loop's CPU: the request read once, its bundle read with it after the move that
    finished it (a SELECT: SQLite's RETURNING costs more than the second statement), the lost-request look-up
    folded into the key's, no savepoint around a unit whose statements each leave the store whole."""
    store = gw.gateway.store
    await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})  # warm: keys, sessions
    await gw.gateway.bundles.runner.idle()
    sent: list[str] = []

    def traced(sql: str) -> None:
        task = asyncio.current_task()
        if (task is None or task.get_name() not in _BACKGROUND) and not sql.lstrip().startswith(_GROUP_COMMIT):
            sent.append(sql)

    _writer(gw).raw.set_trace_callback(traced)
    try:
        for _ in range(5):
            assert (await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})).status == 201
            await gw.gateway.bundles.runner.idle()
    finally:
        _writer(gw).raw.set_trace_callback(None)
    assert store.backend == "sqlite"
    steps = _without_audit_units(sent)
    assert len(steps) / 5 <= 13, steps


def _without_audit_units(sent: list[str]) -> list[str]:
    """The statements but the audit log's units: it writes the call's entries in as many statements as the
    shape of its tree asks for (the audit tests hold those)."""
    kept: list[str] = []
    unit: list[str] = []
    for sql in sent:
        if sql == "SAVEPOINT unit":
            unit = [sql]
        elif sql == "RELEASE unit" and unit:
            inner = unit[1:]
            if not inner or not all("audit_" in s for s in inner):
                kept += [*unit, sql]
            unit = []
        elif unit:
            unit.append(sql)
        elif "audit_" not in sql:
            kept.append(sql)
    return kept


async def test_an_idle_outbox_poll_takes_no_write_lock(gw) -> None:
    """Polling an outbox with nothing due opens no transaction: no commit to flush, no lock another process waits on."""
    await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    await gw.gateway.store.durable()
    writer = _writer(gw)
    units, commits = writer.units, writer.flush.commits
    for _ in range(3):
        assert await gw.gateway.worker.run_once() == 0
        assert not writer.raw.in_transaction
    assert (writer.units, writer.flush.commits) == (units, commits)


async def test_a_unit_that_fails_half_way_leaves_nothing_and_the_units_before_it_stay(tmp_path) -> None:
    """``run_in_transaction`` (the audit log's appends): a failure rolls back its own unit, not the open transaction."""
    store = make_store(f"sqlite:///{tmp_path}/gw.db")
    await store.open()
    try:
        await store.run_in_transaction(lambda conn: conn.execute("INSERT INTO caller_requests VALUES ('kept', 1.0)"))

        def half(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO caller_requests VALUES ('half', 2.0)")
            raise RuntimeError("the second step failed")

        with pytest.raises(RuntimeError, match="second step"):
            await store.run_in_transaction(half)
        assert store.writer.raw.in_transaction  # the units before it wait for their commit as before
        await store.durable()
        rows = await store.read("SELECT caller_id FROM caller_requests ORDER BY caller_id", large=True)
        assert [r[0] for r in rows] == ["kept"]
    finally:
        await store.close()


async def test_concurrent_requests_audit_entries_share_units(gw) -> None:
    """On SQLite the appender writes what one turn of the loop queued as one unit: not a unit per entry."""
    audit = gw.gateway.audit
    batches, appended = audit.batches, audit.appended
    answers = await asyncio.gather(
        *(gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex}) for _ in range(16))
    )
    assert all(a.status == 201 for a in answers)
    entries, units = audit.appended - appended, audit.batches - batches
    assert entries >= 16 * 5
    assert units <= entries / 2, (units, entries)


async def test_savepoint_journals_stay_in_memory(tmp_path) -> None:
    """A unit's savepoint journal past 64 KiB (an audit batch) would otherwise go to a temporary file."""
    store = make_store(f"sqlite:///{tmp_path}/gw.db")
    await store.open()
    try:
        assert store.writer.raw.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    finally:
        await store.close()


def test_without_the_index_file_the_log_is_measured_by_its_file(tmp_path) -> None:
    """No ``-shm`` to read the last frame from: the file's size stands in, so checkpoints still come."""
    from gateway.store.sqlite.connection import WalFlush

    wal = tmp_path / "gw.db-wal"
    wal.write_bytes(b"\0" * 5_000_000)
    flush = WalFlush(str(wal))
    try:
        flush._fdatasync()
        assert flush._wal_bytes == 5_000_000
    finally:
        flush.close()
