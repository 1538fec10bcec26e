"""The audit log on PostgreSQL: one sequence for every gateway process sharing the database.

The log's single head row (size, frontier, chain value) is what serialises
appends. A batch is numbered contiguously after the head, hashed onto its
frontier, chained onto its chain value, and written -- entries, newly
completed subtree hashes, new head -- in one statement that applies only if
the head is still the one the batch was built on (compare-and-set on the
row; one round trip, its own transaction, one WAL flush). Signing a
checkpoint restarts the chain, so it moves the head too. A process that was the last to append (the usual case, and
always with one gateway process) succeeds at once. If another process got
in first, the statement writes nothing and answers the head it found; the
batch is rebuilt on that head and tried again the same way (workers of one
host take turns, so this usually succeeds at the second statement). After
``_CAS_TRIES`` misses the batch is redone under the head row's lock:
``SELECT ... FOR UPDATE`` in a transaction, which queues the contenders in
order and lets each extend the tree from the stored frontier -- the
transaction-scoped lock of the design, taken only under heavy contention.

A row lock rather than an advisory lock because it is scoped to this log's
own table: logs in other schemas of the same database never wait on each
other. A lock holder that stalls inside its transaction (a paused process)
is cut off by the server after 3 s (``idle_in_transaction_session_timeout``),
so it cannot stop the other gateways for longer than that.

Entry times are the appending process's clock, read when the batch is
built; for processes on one host (one clock) the order of ``time`` follows
the order of ``seq``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from gateway.audit.chain import EntryChain
from gateway.audit.entries import PreparedEntry
from gateway.audit.store.base import (
    SINCE,
    AuditStore,
    BatchRows,
    EntryRow,
    Head,
    LogTx,
    StoredCheckpoint,
    build_batch,
    frontier_bytes,
    frontier_from,
    head_of,
    stored_checkpoint,
)
from gateway.store.postgres.store import PostgresStore
from signing.audit.merkle import Frontier

# The log's lock: the head row, FOR UPDATE, until commit (see the module docstring).
_LOCK_HEAD = (
    "WITH h AS (SELECT size, frontier, chain FROM audit_head WHERE id = 1 FOR UPDATE) "
    "SELECT h.size, h.frontier, h.chain, set_config('idle_in_transaction_session_timeout', '3s', true) FROM h"
)
_ROW = "SELECT seq, entry, leaf_hash, kind, request_id, appended_at, payload FROM audit_entries"
_ENTRIES = (
    "INSERT INTO audit_entries (seq, entry, leaf_hash, kind, request_id, appended_at, payload, chain) "
    "SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::bytea[], "
    "$8::bytea[])"
)
_SUBTREES = (
    "INSERT INTO audit_subtrees (level, idx, hash) SELECT * FROM unnest($9::smallint[], $10::bigint[], $11::bytea[])"
)
_UPSERT = " ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash"
_NEW_HEAD = "UPDATE audit_head SET size = $12, frontier = $13, chain = $14 WHERE id = 1"
# Under the lock: entries, cached subtrees and the new head in one statement.
_WRITE = f"WITH e AS ({_ENTRIES}), s AS ({_SUBTREES}{_UPSERT}) {_NEW_HEAD}"
# Without taking the lock first: the same, applied only if the head (size, frontier and chain value: a checkpoint
# restarts the chain) is still the one the batch was built on -- compare-and-set; a single statement is its own
# transaction. 1 when written, 0 when someone else appended or signed first; then the head as this statement
# found it (committed before it began), to build the next try on.
_WRITE_IF_HEAD = (
    f"WITH h AS ({_NEW_HEAD} AND size = $15 AND frontier = $16 AND chain = $17 RETURNING 1), "
    f"e AS ({_ENTRIES} WHERE EXISTS (SELECT 1 FROM h)), "
    f"s AS ({_SUBTREES} WHERE EXISTS (SELECT 1 FROM h){_UPSERT}) "
    "SELECT (SELECT count(*) FROM h), size, frontier, chain FROM audit_head WHERE id = 1"
)
_CAS_TRIES = 3  # compare-and-set statements before queueing on the head row's lock


def _arguments(rows: BatchRows) -> list:
    """The query arguments of a batch: one array per column, then the new head."""
    columns = [list(c) for c in zip(*rows.entries, strict=True)]
    subtrees = [list(c) for c in zip(*rows.subtrees, strict=True)] if rows.subtrees else [[], [], []]
    return [*columns, *subtrees, rows.head.size, frontier_bytes(rows.head.frontier), rows.head.chain]


def _numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2 ...``."""
    count = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


class _Tx:
    """:class:`LogTx` on one connection, inside a transaction that holds the head row's lock."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self.conn.fetch(_numbered(sql), *params)]

    async def run(self, sql: str, *params: Any) -> None:
        await self.conn.execute(_numbered(sql), *params)


def _row(r: asyncpg.Record) -> EntryRow:
    return (r[0], r[1], r[2], r[3], r[4], r[5], r[6])


class PostgresAuditStore(AuditStore):
    """:class:`AuditStore` over an open :class:`PostgresStore`."""

    def __init__(self, store: PostgresStore, chain: EntryChain | None = None) -> None:
        self.store = store
        self.chain = chain
        self._head: Head | None = None  # as this process last wrote it

    async def durable(self) -> None:
        await self.store.durable()

    async def append(self, batch: Sequence[PreparedEntry]) -> int:
        chain = self.chain_or_refuse()
        head = self._head
        for _ in range(_CAS_TRIES):  # the usual case: nobody else appended since our last batch -- one statement
            if head is None:
                break
            rows = build_batch(batch, head, datetime.now(UTC), chain)
            found = await self.store.statements.fetchrow(
                _WRITE_IF_HEAD, *_arguments(rows), head.size, frontier_bytes(head.frontier), head.chain
            )
            assert found is not None  # the outer SELECT reads the head row, which is always there
            if found[0]:
                self._head = rows.head
                return head.size
            head = head_of(tuple(found)[1:4])  # another process appended or signed first: build on its head
        async with self.store.pool.acquire() as conn, conn.transaction():
            head = head_of(tuple(await conn.fetchrow(_LOCK_HEAD))[:3])
            rows = build_batch(batch, head, datetime.now(UTC), chain)
            await conn.execute(_WRITE, *_arguments(rows))
        self._head = rows.head
        return head.size

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[LogTx]:
        self._head = None  # a check, checkpoint or recovery may move the head or restart the chain
        async with self.store.pool.acquire() as conn, conn.transaction():
            await conn.fetchrow(_LOCK_HEAD)  # the log's lock, until commit
            yield _Tx(conn)

    async def head(self) -> Frontier:
        row = await self.store.pool.fetchrow("SELECT size, frontier FROM audit_head WHERE id = 1")
        return frontier_from(row["size"], row["frontier"])

    async def entries(
        self, start: int = 0, end: int | None = None, *, chunk: int = 20_000
    ) -> AsyncIterator[list[EntryRow]]:
        last = start - 1
        stop = end if end is not None else 2**63 - 1
        while True:
            rows = await self.store.pool.fetch(
                _ROW + " WHERE seq > $1 AND seq < $2 ORDER BY seq LIMIT $3", last, stop, chunk
            )
            if not rows:
                return
            yield [_row(r) for r in rows]
            last = rows[-1][0]

    async def entries_for_request(self, request_id: str) -> list[EntryRow]:
        rows = await self.store.pool.fetch(_ROW + " WHERE request_id = $1 ORDER BY seq", request_id)
        return [_row(r) for r in rows]

    async def find_entry(self, request_id: str, kind: str) -> EntryRow | None:
        row = await self.store.pool.fetchrow(
            _ROW + " WHERE request_id = $1 AND kind = $2 ORDER BY seq DESC LIMIT 1", request_id, kind
        )
        return None if row is None else _row(row)

    async def checkpoints(self) -> list[StoredCheckpoint]:
        rows = await self.store.pool.fetch(
            "SELECT tree_size, signed, frontier, created_at FROM audit_checkpoints ORDER BY tree_size"
        )
        return [stored_checkpoint(tuple(r)) for r in rows]

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        row = await self.store.pool.fetchrow(
            "SELECT tree_size, signed, frontier, created_at FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1"
        )
        return None if row is None else stored_checkpoint(tuple(row))

    async def checkpoints_since(self, size: int) -> list[StoredCheckpoint]:
        return [stored_checkpoint(tuple(r)) for r in await self.store.pool.fetch(_numbered(SINCE), size)]

    async def subtree_hashes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not keys:
            return {}
        rows = await self.store.pool.fetch(
            "SELECT s.level, s.idx, s.hash FROM audit_subtrees s "
            "JOIN unnest($1::smallint[], $2::bigint[]) AS k (level, idx) ON s.level = k.level AND s.idx = k.idx",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        return {(r[0], r[1]): r[2] for r in rows}

    async def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = await self.store.pool.fetch(
            "SELECT leaf_hash FROM audit_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq", start, end
        )
        return [r[0] for r in rows]
