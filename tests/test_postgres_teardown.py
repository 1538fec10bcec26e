"""No PostgreSQL session outlives a gateway's stop, and no test's schema is dropped under a running gateway.

Seen once in a parallel run: a test's schema drop waited on a lock held by a
gateway backend sitting "active" on ``DELETE FROM outbox`` (wait event
ClientRead: asyncpg had sent the statement's Parse and was to send its Bind
once the event loop ran again). The drop ran in the ``pg_url`` fixture's
teardown *before* the ``start_gateway`` fixture's teardown had stopped that
gateway -- pytest tears fixtures down in reverse order of setting them up, so
a test asking for ``start_gateway`` before ``pg_url`` had its schema dropped
while its event loop was paused with a statement in flight: neither could go on.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]

_LOCKS_IN_SCHEMA = (
    "SELECT l.pid, l.virtualtransaction AS vxid, c.relname, l.mode FROM pg_locks l "
    "JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND l.pid <> pg_backend_pid()"
)


async def _locks_of(observer: asyncpg.Connection, schema: str, pid: int) -> list[asyncpg.Record]:
    """The locks one backend holds in the test's schema (the gateway's outbox worker takes its own meanwhile)."""
    return [lock for lock in await observer.fetch(_LOCKS_IN_SCHEMA, schema) if lock["pid"] == pid]


async def _observer() -> asyncpg.Connection:
    return await asyncpg.connect(PG_URL, timeout=10)


@pytest.mark.parametrize("opened_by", ["context manager", "start() without an end"])
async def test_a_task_cancelled_inside_a_transaction_leaves_no_session_behind(
    pg_url, start_gateway, opened_by: str
) -> None:
    """A task cancelled mid-transaction gives its connection back rolled back, and stop disconnects every session.

    The pool gives connections back without asyncpg's reset query (``_keep_session``); asyncpg still
    rolls back a transaction left open at release -- the second case, where no ``__aexit__`` runs.
    """
    schema = pg_url.rsplit("schema=", 1)[1]
    rg = await start_gateway(pg_url)
    store = rg.gateway.store
    inside: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def finishing() -> None:
        async with store.pool.acquire() as conn:
            if opened_by == "context manager":
                async with conn.transaction():
                    await conn.execute("DELETE FROM outbox WHERE request_id = 'no-such-request'")
                    inside.set_result(await conn.fetchval("SELECT pg_backend_pid()"))
                    await conn.execute("SELECT pg_sleep(60)")  # cancelled here, a statement running
            else:
                await conn.transaction().start()
                await conn.execute("DELETE FROM outbox WHERE request_id = 'no-such-request'")
                inside.set_result(await conn.fetchval("SELECT pg_backend_pid()"))
                await asyncio.Event().wait()  # cancelled here, between statements

    task = asyncio.create_task(finishing())
    pid = await asyncio.wait_for(inside, 10)
    observer = await _observer()
    try:
        held = await _locks_of(observer, schema, pid)
        assert held, "the transaction holds its lock before the cancel"
        for _ in range(100):  # the statement, if any, is running (bounded: 5 s)
            state, event = await observer.fetchrow("SELECT state, wait_event FROM pg_stat_activity WHERE pid = $1", pid)
            if event == "PgSleep" or state == "idle in transaction":
                break
            await asyncio.sleep(0.05)
        began = await observer.fetchval("SELECT xact_start FROM pg_stat_activity WHERE pid = $1", pid)
        assert began is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The session is back in the pool, where the running gateway's own work (the outbox's poll) may
        # already be using it: what must be gone is this transaction -- its start and its locks, known by
        # its virtual transaction id -- not every trace of activity on the backend.
        state, now_began = await observer.fetchrow("SELECT state, xact_start FROM pg_stat_activity WHERE pid = $1", pid)
        assert now_began != began, f"backend {pid} given back to the pool inside the transaction ({state!r})"
        ours = {lock["vxid"] for lock in held}
        left = [lock for lock in await _locks_of(observer, schema, pid) if lock["vxid"] in ours]
        assert left == [], f"the cancelled transaction's locks are held still: {[dict(r) for r in left]}"

        barrier_pid = store.barrier._conn.get_server_pid() if store.barrier and store.barrier._conn else None
        await rg.gateway.stop(grace_s=0.5)
        left: list[asyncpg.Record] = []
        for _ in range(100):  # a closed session's backend exits a moment after the client's goodbye (bounded: 5 s)
            left = await observer.fetch(
                "SELECT pid, state FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                [p for p in (pid, barrier_pid) if p is not None],
            )
            if not left:
                break
            await asyncio.sleep(0.05)
        assert left == [], f"sessions left after stop: {[dict(r) for r in left]}"
    finally:
        await observer.close()


_INNER_TEST = '''
import asyncio
from pathlib import Path

RUNNING = []  # a reference, so the task is not collected while it waits


async def test_ends_with_a_transaction_in_flight(start_gateway, pg_url):
    """Asks for start_gateway before pg_url: the order that once dropped the schema under a running gateway."""
    Path("schema.txt").write_text(pg_url.rsplit("schema=", 1)[1])
    rg = await start_gateway(pg_url)
    holding = asyncio.Event()

    async def finish_late():
        async with rg.gateway.store.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM outbox WHERE request_id = 'no-such-request'")
            holding.set()
            await asyncio.sleep(0.5)  # still inside its transaction when the test's loop stops

    RUNNING.append(asyncio.create_task(finish_late()))
    await holding.wait()
'''

_INNER_INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error::UserWarning
"""


def test_a_schema_is_dropped_only_after_the_gateways_on_it_stopped(tmp_path: Path) -> None:
    """Whatever order a test asks for its fixtures in, its gateways stop before its schema is dropped."""
    from tests.conftest import require_postgres

    require_postgres()
    (tmp_path / "pytest.ini").write_text(_INNER_INI)
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.conftest"]\n')
    (tmp_path / "test_inner.py").write_text(_INNER_TEST)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "test_inner.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # A drop that waited out its lock timeout warns (tests/conftest.py::drop_schema), and the inner
    # run makes that warning an error: no wall-clock bound needed, which a loaded machine can break.
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "left behind" not in run.stdout + run.stderr
    schema = (tmp_path / "schema.txt").read_text()

    async def gone() -> bool:
        conn = await _observer()
        try:
            return await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema) is None
        finally:
            await conn.close()

    assert asyncio.run(gone()), f"schema {schema} left behind"
