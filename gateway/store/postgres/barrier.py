"""Group commit on PostgreSQL: commits that do not wait for their flush, and one barrier before anything leaves.

The gateway's connections commit with ``synchronous_commit = off``: the
server answers a commit as soon as its record is in the write-ahead log,
without waiting for the log to reach disk (PostgreSQL manual, "Asynchronous
Commit"). Those steps are visible at once, and a crash can take back only
the newest of them: the server recovers "by replaying WAL up to the last
record that was flushed" -- a prefix of the log, never a hole in it.

So before anything leaves the gateway (an answer, an agency call, a callback,
a checkpoint for a witness) :meth:`Barrier.durable` commits one small
transaction *with* ``synchronous_commit = on``. Its commit returns only once
the log is flushed up to its own commit record, which lies after the commit
record of every transaction this process (or anyone it read from) committed
before the barrier began: the log is written in order, so that flush covers
them all. One barrier in flight serves every waiter that arrived before it
began; waiters arriving later share the next one (as
:class:`~gateway.store.sqlite.connection.WalFlush` does with ``fdatasync``).

The barrier must write to the log: the server flushes at commit only for a
transaction that wrote WAL, and merely taking a transaction id
(``txid_current()``) writes none, so such a commit returns without a flush
(measured: no ``wal_sync`` at all). The barrier emits a transactional logical
message (``pg_logical_emit_message``: a few bytes of WAL, no table, no lock
another process could wait on, callable by any role).

A crash of the server between a commit and its flush loses that commit, and
the restarted server would then flush later barriers happily; so each
barrier also reads the server's start time, and a server that restarted
since the store opened closes the store for acknowledging: every later
``durable()`` raises (answers are 500) until the gateway is restarted, as
SQLite's store does after a failed flush -- nothing this process committed
before the restart is ever reported as kept.

The barrier also carries the writes that only have to be kept before the
next answer, as SQLite's store commits its open transaction with the next
flush: the answer recorded under an idempotency key
(:meth:`Barrier.finish_key`) is written in the barrier's own transaction,
one statement for every key answered since the last one, instead of a
statement (a round trip, a commit) of its own per intake call. The answer
under a key is written just before it is sent, and nothing is sent before
a barrier that began after it was queued: so no caller ever hears an answer
its key does not hold, and a crash before the barrier leaves the key in
flight, as a crash before the write did (the retry resumes the request
under its own id once the lease runs out). A write no ``durable()`` asks for
(the answer of a call whose client left) goes with the next barrier or,
at the latest, :data:`FLUSH_AFTER_S` later.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

import asyncpg

from gateway.errors import StoreError
from gateway.store.shared_run import SharedRun

# One statement, its own transaction, flushed at commit (the connection keeps synchronous_commit = on).
BARRIER_SQL = "SELECT pg_postmaster_start_time() FROM pg_logical_emit_message(true, 'onewindow.durable', '')"
# The same, with the answers recorded under idempotency keys since the last barrier: one UPDATE for all of them in
# the barrier's transaction (a data-modifying WITH runs whether or not the query reads it).
BARRIER_WITH_KEYS_SQL = (
    "WITH k AS (UPDATE idempotency_keys AS i SET state = u.state, status_code = u.status_code, "
    "response = u.response::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[]) "
    "AS u (caller_id, key, state, status_code, response) WHERE i.caller_id = u.caller_id AND i.key = u.key) "
    "SELECT pg_postmaster_start_time() FROM pg_logical_emit_message(true, 'onewindow.durable', '')"
)
FLUSH_AFTER_S = 0.05  # a key's answer nobody waits for is written at the latest this long after it was queued

KeyAnswer = tuple[str, int, str]  # state, status code, the stored response as JSON text


class Barrier:
    """Waits, many callers at a time, until everything this process committed is flushed."""

    def __init__(self, dsn: str, server_settings: dict[str, str]) -> None:
        self.dsn = dsn
        self.server_settings = {**server_settings, "synchronous_commit": "on"}
        self.asked = 0  # durable() calls so far
        self.covered = 0  # of which a finished barrier covers
        self.barriers = 0  # barrier transactions committed
        self.failure: StoreError | None = None
        self.started_at: datetime | None = None  # the server's start time when the store opened
        self._conn: asyncpg.Connection | None = None
        self._barriers = SharedRun(self._barrier)
        self._keys: dict[tuple[str, str], KeyAnswer] = {}  # (caller id, key): its answer, for the next barrier
        self._flush_soon: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect and note the server's start time (a later restart may have lost unflushed commits)."""
        self._conn = await asyncpg.connect(self.dsn, server_settings=self.server_settings, timeout=10)
        self.started_at = await self._conn.fetchval("SELECT pg_postmaster_start_time()")

    def finish_key(self, caller_id: str, key: str, answer: KeyAnswer) -> None:
        """Record ``answer`` under an idempotency key in the next barrier's transaction (see the module docstring)."""
        self._keys[(caller_id, key)] = answer  # a later answer under the same key replaces an earlier one
        if self._flush_soon is None or self._flush_soon.done():
            self._flush_soon = asyncio.ensure_future(self._flush_later())

    def holds(self, caller_id: str, key: str) -> bool:
        """Whether an answer under this key waits for the next barrier (a claim of it flushes first)."""
        return (caller_id, key) in self._keys

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_AFTER_S)
        if self._keys and self.failure is None:
            # A failure keeps the answers for the next barrier, and every durable() meanwhile raises it again.
            with contextlib.suppress(StoreError):
                await self.durable()

    async def durable(self) -> None:
        """Return once every commit made before this call is flushed (sharing a barrier with other waiters)."""
        self.asked += 1
        target = self.asked
        while self.covered < target:
            if self.failure is not None:
                raise self.failure
            await self._barriers.join()

    async def _barrier(self) -> None:
        upto = self.asked  # every durable() call so far came after its commits: this barrier covers them
        keys, self._keys = self._keys, {}  # queued before this barrier began: written in its transaction
        try:
            started = await self._commit(keys)
        except BaseException:
            for name, answer in keys.items():  # not written: the next barrier tries again (a newer answer wins)
                self._keys.setdefault(name, answer)
            raise
        if started != self.started_at:
            self.failure = StoreError(
                "the PostgreSQL server restarted since the gateway opened its store: commits not yet flushed "
                "may be lost, so nothing more is acknowledged until the gateway is restarted"
            )
            raise self.failure
        self.barriers += 1
        self.covered = max(self.covered, upto)

    async def _commit(self, keys: dict[tuple[str, str], KeyAnswer] | None = None) -> datetime:
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.dsn, server_settings=self.server_settings, timeout=10)
            started: datetime
            if keys:
                try:
                    started = await self._conn.fetchval(BARRIER_WITH_KEYS_SQL, *_key_arrays(keys))
                    return started
                except asyncpg.PostgresError:
                    if self._conn.is_closed():
                        raise
                    await self._one_by_one(self._conn, keys)  # the server refused one: it must not stop the rest
            started = await self._conn.fetchval(BARRIER_SQL)
            return started
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if self._conn is not None and not self._conn.is_closed():
                self._conn.terminate()
            self._conn = None
            raise StoreError(f"PostgreSQL could not confirm that the gateway's commits are on disk: {exc}") from exc

    @staticmethod
    async def _one_by_one(conn: asyncpg.Connection, keys: dict[tuple[str, str], KeyAnswer]) -> None:
        """Write each answer alone; one the server refuses (a text ``jsonb`` cannot hold) stays unwritten.

        Its key stays in flight, as when a write of it failed before: the client's retry resumes the request
        under its own id once the lease has run out, and hears it as it stands. Without this, one such answer
        would fail every barrier after it, and so every answer of the gateway.
        """
        for name, answer in keys.items():
            try:
                await conn.execute(BARRIER_WITH_KEYS_SQL, *_key_arrays({name: answer}))
            except asyncpg.PostgresError:
                if conn.is_closed():
                    raise  # the connection, not the answer: the barrier fails and every answer waits for the next

    async def close(self) -> None:
        if self._flush_soon is not None:
            self._flush_soon.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_soon
            self._flush_soon = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def _key_arrays(keys: dict[tuple[str, str], KeyAnswer]) -> list[list[Any]]:
    """The arguments of :data:`BARRIER_WITH_KEYS_SQL`: callers, keys, states, status codes, responses."""
    names, answers = list(keys), list(keys.values())
    return [
        [n[0] for n in names],
        [n[1] for n in names],
        [a[0] for a in answers],
        [a[1] for a in answers],
        [a[2] for a in answers],
    ]
