"""The audit log on SQLite: one writer at a time, by the database's own write lock.

Each batch is one unit of work in the store's write transaction
(``BEGIN IMMEDIATE``, so it also waits its turn behind the gateway's other
writes in this process, and behind any other process -- e.g. an
administrative command -- through SQLite's file lock), run whole in one
step of the loop (:meth:`SQLiteStore.run_in_transaction`). It is committed
with the other units, and on disk once :meth:`durable` returns.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.audit.chain import EntryChain
from gateway.audit.entries import PreparedEntry
from gateway.audit.store.base import (
    SINCE,
    AuditStore,
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
from gateway.store.sqlite.connection import Connection
from gateway.store.sqlite.store import SQLiteStore
from signing.audit.merkle import Frontier

_HEAD = "SELECT size, frontier, chain FROM audit_head WHERE id = 1"
_INSERT_ENTRY = (
    "INSERT INTO audit_entries (seq, entry, leaf_hash, kind, request_id, appended_at, payload, chain) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_NEW_HEAD = "UPDATE audit_head SET size = ?, frontier = ?, chain = ? WHERE id = 1"
_ROW = "SELECT seq, entry, leaf_hash, kind, request_id, appended_at, payload FROM audit_entries"
_CHECKPOINTS = "SELECT tree_size, signed, frontier, created_at FROM audit_checkpoints"


def _row(r: tuple) -> EntryRow:
    return (r[0], bytes(r[1]), bytes(r[2]), r[3], r[4], r[5], None if r[6] is None else bytes(r[6]))


class _Tx:
    """:class:`LogTx` on the store's connection, inside its immediate transaction."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    async def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self.db.execute_fetchall(sql, params)]

    async def run(self, sql: str, *params: Any) -> None:
        await self.db.execute(sql, params)


class SQLiteAuditStore(AuditStore):
    """:class:`AuditStore` over an open :class:`SQLiteStore`.

    The head as this store last wrote it is kept for as long as the
    connection's write transaction stays open (the writer's
    :attr:`~gateway.store.sqlite.connection.Writer.generation`): no other
    process can write while it holds the database's write lock, and a
    checkpoint, check or recovery (:meth:`locked`) and every batch move the
    generation on, so a head kept by another audit store on the same
    connection is not used after this one appended. Across a commit or a
    rollback the head is read again, since another process (an
    administrative command, a second gateway) may have appended in between.
    The usual batch -- one event, with the transaction already open -- so
    reads nothing.
    """

    def __init__(self, store: SQLiteStore, chain: EntryChain | None = None) -> None:
        self.store = store
        self.chain = chain
        self._head: tuple[int, Head] | None = None  # (writer generation, head) after this store's last batch

    shares_commits = True

    async def durable(self) -> None:
        await self.store.durable()

    async def append(self, batch: Sequence[PreparedEntry]) -> int:
        chain = self.chain_or_refuse()
        return await self.store.run_in_transaction(lambda conn: self._append(conn, batch, chain))

    def _append(self, conn: sqlite3.Connection, batch: Sequence[PreparedEntry], chain: EntryChain) -> int:
        """The whole batch, inside one unit of work: the head, then number, hash, chain, write."""
        writer = self.store.writer
        kept, self._head = self._head, None  # dropped until this batch is written
        fresh = kept is not None and kept[0] == writer.generation
        head = kept[1] if fresh and kept is not None else head_of(conn.execute(_HEAD).fetchone())
        rows = build_batch(batch, head, datetime.now(UTC), chain)
        conn.executemany(_INSERT_ENTRY, rows.entries)
        if rows.subtrees:
            conn.executemany("INSERT OR REPLACE INTO audit_subtrees (level, idx, hash) VALUES (?, ?, ?)", rows.subtrees)
        conn.execute(_NEW_HEAD, (rows.head.size, frontier_bytes(rows.head.frontier), rows.head.chain))
        writer.moved_on()  # another audit store on this connection no longer holds the head; this one does
        self._head = (writer.generation, rows.head)
        return head.size

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[LogTx]:
        async with self.store.transaction() as db:  # BEGIN IMMEDIATE: the database's write lock
            try:
                yield _Tx(db)
            finally:
                self.store.writer.moved_on()  # a check, checkpoint or recovery may move the head or restart the chain

    async def head(self) -> Frontier:
        row = await self.store.read_row("SELECT size, frontier FROM audit_head WHERE id = 1", tuples=True)
        return frontier_from(row[0], bytes(row[1]))

    async def entries(
        self, start: int = 0, end: int | None = None, *, chunk: int = 20_000
    ) -> AsyncIterator[list[EntryRow]]:
        last = start - 1
        stop = end if end is not None else 2**63 - 1
        while True:
            rows = await self.store.read(
                _ROW + " WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?", (last, stop, chunk), tuples=True, large=True
            )
            if not rows:
                return
            yield [_row(r) for r in rows]
            last = rows[-1][0]

    async def entries_for_request(self, request_id: str) -> list[EntryRow]:
        rows = await self.store.read(_ROW + " WHERE request_id = ? ORDER BY seq", (request_id,), tuples=True)
        return [_row(r) for r in rows]

    async def find_entry(self, request_id: str, kind: str) -> EntryRow | None:
        row = await self.store.read_one(
            _ROW + " WHERE request_id = ? AND kind = ? ORDER BY seq DESC LIMIT 1", (request_id, kind), tuples=True
        )
        return None if row is None else _row(row)

    async def checkpoints(self) -> list[StoredCheckpoint]:
        rows = await self.store.read(_CHECKPOINTS + " ORDER BY tree_size", tuples=True, large=True)
        return [stored_checkpoint(r) for r in rows]

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        row = await self.store.read_one(_CHECKPOINTS + " ORDER BY tree_size DESC LIMIT 1", tuples=True)
        return None if row is None else stored_checkpoint(row)

    async def checkpoints_since(self, size: int) -> list[StoredCheckpoint]:
        return [stored_checkpoint(r) for r in await self.store.read(SINCE, (size,), tuples=True)]

    async def subtree_hashes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found: dict[tuple[int, int], bytes] = {}
        for i in range(0, len(keys), 300):
            part = keys[i : i + 300]
            where = " OR ".join("(level = ? AND idx = ?)" for _ in part)
            params = [v for key in part for v in key]
            rows = await self.store.read(
                f"SELECT level, idx, hash FROM audit_subtrees WHERE {where}", params, tuples=True, large=True
            )
            found.update({(r[0], r[1]): bytes(r[2]) for r in rows})
        return found

    async def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = await self.store.read(
            "SELECT leaf_hash FROM audit_entries WHERE seq >= ? AND seq < ? ORDER BY seq",
            (start, end),
            tuples=True,
            large=True,
        )
        return [bytes(r[0]) for r in rows]
