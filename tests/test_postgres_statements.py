"""Single statements on PostgreSQL without asyncpg's pool (gateway/store/postgres/statements.py).

The intake path's steps run there; a connection in an unknown state (a
cancelled call, a backend the server ended) is never used again.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from gateway.store import Store, make_store
from tests.helpers import PAYMENT_RECORD

pytestmark = pytest.mark.postgres

_BACKGROUND = {"onewindow-outbox", "onewindow-registry-acts", "onewindow-audit-checkpoints", "onewindow-bundle-advance"}


async def test_an_intake_call_takes_no_connection_from_the_pool(pg_url, start_gateway, monkeypatch) -> None:
    """The pool's bookkeeping costs the event loop more than a statement's own work on the client."""
    gw = await start_gateway(pg_url)
    await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})
    taken: list[str] = []
    acquire = asyncpg.pool.Pool._acquire

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        if task is None or task.get_name() not in _BACKGROUND:
            taken.append(task.get_name() if task else "")
        return await acquire(self, *args, **kwargs)

    monkeypatch.setattr(asyncpg.pool.Pool, "_acquire", counted)
    for _ in range(3):
        assert (await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": uuid.uuid4().hex})).status == 201
    assert taken == []


async def test_a_cancelled_statement_leaves_its_connection_unused(pg_store: Store) -> None:
    store = pg_store
    statements = store.statements
    assert await statements.fetchval("SELECT 1") == 1
    (first,) = statements._idle
    sleeping = asyncio.ensure_future(statements.fetchval("SELECT pg_sleep(30)"))
    while statements._idle:  # bounded: the statement takes the connection at its first step
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # on its way to the server, or there
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    assert first.is_closed() and statements.opened == 0 and statements._idle == []
    assert await statements.fetchval("SELECT 2") == 2  # on a new connection
    assert statements._idle and statements._idle[0] is not first


async def test_a_connection_the_server_ended_is_replaced(pg_store: Store) -> None:
    store = pg_store
    statements = store.statements
    pid = await statements.fetchval("SELECT pg_backend_pid()")
    await store.pool.fetchval("SELECT pg_terminate_backend($1)", pid)
    (ended,) = statements._idle
    for _ in range(500):  # bounded: until the client has read the server's goodbye
        if ended.is_closed():
            break
        await asyncio.sleep(0.01)
    assert await statements.fetchval("SELECT pg_backend_pid()") != pid
    assert statements.opened == 1


async def test_refused_statements_keep_their_connection_and_waiters_are_served(pg_url: str) -> None:
    store = make_store(pg_url)
    store.max_size = 2
    await store.open()
    try:
        statements = store.statements
        with pytest.raises(asyncpg.UndefinedTableError):
            await statements.fetchval("SELECT count(*) FROM no_such_table")
        assert statements.opened == 1 and len(statements._idle) == 1
        pids = await asyncio.gather(
            *(statements.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.01)") for _ in range(10))
        )
        assert len(set(pids)) <= 2 and statements.opened <= 2
    finally:
        await store.close()
