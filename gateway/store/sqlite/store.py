"""The SQLite backend: the embedded default for one gateway process.

WAL mode with ``synchronous=FULL``: a committed request survives a crash of
the process or the machine. One connection writes, and an asyncio lock keeps
multi-statement transactions whole. Reads go to a second, read-only
connection and run whole in one hop (:meth:`SQLiteStore.read`): on the
writer's connection a read would see another coroutine's uncommitted
transaction, and a read stepped across several hops can meet a write
in between that moves rows along the index it scans (a row seen twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.errors import StoreError
from gateway.store.base import (
    REQUEST_UPDATABLE,
    AdminResult,
    OutboxEntry,
    OutboxStats,
    RequestRecord,
    RequestStatus,
    Store,
    utcnow,
)
from gateway.store.migrations import migrations, statements
from gateway.store.sqlite.bundles import SQLiteBundles
from gateway.store.sqlite.caller_keys import SQLiteCallerKeys
from gateway.store.sqlite.idempotency import SQLiteIdempotency
from gateway.store.sqlite.retention import SQLiteRetention
from gateway.store.sqlite.rows import JSON_COLUMNS, TIME_COLUMNS, dt, entry_of, record_of, ts
from gateway.store.sqlite.service import SQLiteService


class SQLiteStore(SQLiteIdempotency, SQLiteRetention, SQLiteCallerKeys, SQLiteBundles, SQLiteService, Store):
    """Store backed by one SQLite file (``sqlite:///path`` or ``sqlite://:memory:``)."""

    backend = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        # As in SQLAlchemy: sqlite:///var/x.db is relative, sqlite:////srv/x.db absolute.
        path = url.removeprefix("sqlite:").removeprefix("//").removeprefix("/")
        return cls(path or ":memory:")

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the SQLite store is not open")
        return self._db

    async def open(self, *, migrate: bool = True) -> None:
        if self.path != ":memory:":
            _private_file(Path(self.path))
        try:
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
        except Exception as exc:  # sqlite3.OperationalError and friends
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._db.row_factory = aiosqlite.Row
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=10000"):
            await self._db.execute(f"PRAGMA {pragma}")
        if migrate:
            await self._migrate()
        if self.path != ":memory:":  # SQLite gives its -wal and -shm files the database's mode; hold it to that
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(self.path + suffix, 0o600)
        if self.path != ":memory:":  # an in-memory database has one connection: reads take the lock instead
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            for pragma in ("query_only=ON", "busy_timeout=10000"):
                await self._reader.execute(f"PRAGMA {pragma}")

    async def reachable(self) -> None:
        if self.path != ":memory:":
            await asyncio.to_thread(_could_open, Path(self.path))

    async def close(self) -> None:
        for connection in (self._reader, self._db):
            if connection is not None:
                await connection.close()
        self._db = self._reader = None

    async def read(self, sql: str, params: Sequence[Any] = (), *, tuples: bool = False) -> list[Any]:
        """Every row of one query, from one committed snapshot: run whole in the reader's thread.

        Rows are :class:`sqlite3.Row` unless ``tuples`` (faster, for the audit log's long scans).
        """

        def run(conn: sqlite3.Connection) -> list[Any]:
            cursor = conn.cursor()
            cursor.row_factory = None if tuples else sqlite3.Row
            return cursor.execute(sql, params).fetchall()

        if self._reader is not None:
            return await self._reader._execute(run, self._reader._conn)  # one hop, as execute_fetchall()
        async with self._lock:  # :memory: -- between transactions, never inside one
            return await self.db._execute(run, self.db._conn)

    async def read_one(self, sql: str, params: Sequence[Any] = (), *, tuples: bool = False) -> Any | None:
        """The first row of one query, or None."""
        rows = await self.read(sql, params, tuples=tuples)
        return rows[0] if rows else None

    async def read_row(self, sql: str, params: Sequence[Any] = (), *, tuples: bool = False) -> Any:
        """The first row of a query that always yields one (an aggregate, a singleton table)."""
        row = await self.read_one(sql, params, tuples=tuples)
        if row is None:
            raise StoreError(f"the SQLite store is missing a row it always holds ({sql.split(' FROM ')[-1][:40]})")
        return row

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """An immediate (write-locked) transaction, serialised in this process."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            else:
                await self.db.execute("COMMIT")

    async def run_in_transaction(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work(connection)`` in one immediate transaction, in the connection's thread, in one hop.

        For writers with many statements per transaction (the audit log's
        batches): under load every awaited statement costs a turn of the event
        loop, so they are done together. Serialised with :meth:`transaction`.
        """

        def run(conn: sqlite3.Connection) -> Any:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        async with self._lock:
            return await self.db._execute(run, self.db._conn)  # aiosqlite's own thread, as for execute()

    async def _migrate(self) -> None:
        async with self.transaction() as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        for migration in migrations("sqlite"):
            async with self.transaction() as db:
                cursor = await db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,))
                if await cursor.fetchone():
                    continue
                for statement in statements(migration.sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, ts(utcnow())),
                )

    async def ping(self) -> None:
        try:
            await self.read("SELECT 1")
        except Exception as exc:
            raise StoreError(f"SQLite store does not answer: {exc}") from exc

    async def schema_version(self) -> int:
        if not await self.read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"):
            return 0  # opened without migrating, on a new file
        row = await self.read_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        return int(row[0])

    # -- requests ---------------------------------------------------------

    @staticmethod
    def _request_values(record: RequestRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "caller_id": record.caller_id,
            "item": record.item,
            "agency": record.agency,
            "office": record.office,
            "operator": record.operator,
            "channel": record.channel,
            "status": str(record.status),
            "envelope": json.dumps(record.envelope, ensure_ascii=False),
            "result": None if record.result is None else json.dumps(record.result, ensure_ascii=False),
            "error": None if record.error is None else json.dumps(record.error, ensure_ascii=False),
            "ticket": record.ticket,
            "agency_reference": record.agency_reference,
            "attempts": record.attempts,
            "callback_url": record.callback_url,
            "created_at": ts(record.created_at),
            "updated_at": ts(record.updated_at),
            "finished_at": ts(record.finished_at),
            "due_on": record.due_on,
            "due_unknown": record.due_unknown,
            "agency_message": record.agency_message,
        }

    async def _insert(self, db: aiosqlite.Connection, record: RequestRecord) -> bool:
        values = self._request_values(record)
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cursor = await db.execute(
            f"INSERT INTO requests ({columns}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING", tuple(values.values())
        )
        return cursor.rowcount == 1

    async def insert_request(self, record: RequestRecord) -> bool:
        async with self.transaction() as db:
            return await self._insert(db, record)

    async def get_request(self, request_id: str) -> RequestRecord | None:
        row = await self.read_one("SELECT * FROM requests WHERE id = ?", (request_id,))
        return None if row is None else record_of(row)

    async def update_request(
        self, request_id: str, *, expect: Collection[RequestStatus] | None = None, **changes: Any
    ) -> bool:
        unknown = set(changes) - REQUEST_UPDATABLE
        if unknown:
            raise ValueError(f"cannot update request field(s) {sorted(unknown)}")
        changes.setdefault("updated_at", utcnow())
        params: list[Any] = []
        for name, value in changes.items():
            if name in JSON_COLUMNS:
                value = None if value is None else json.dumps(value, ensure_ascii=False)
            elif name in TIME_COLUMNS:
                value = ts(value)
            elif name == "status":
                value = str(RequestStatus(value))
            params.append(value)
        assignments = ", ".join(f"{name} = ?" for name in changes)
        sql, where = f"UPDATE requests SET {assignments} WHERE id = ?", [request_id]
        if expect is not None:
            sql += f" AND status IN ({', '.join('?' for _ in expect)})"
            where.extend(str(RequestStatus(status)) for status in expect)
        async with self.transaction() as db:
            cursor = await db.execute(sql, (*params, *where))
            return cursor.rowcount == 1

    async def list_requests(
        self, *, status: str | None = None, caller_id: str | None = None, limit: int = 100
    ) -> list[RequestRecord]:
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if caller_id is not None:
            where.append("caller_id = ?")
            params.append(caller_id)
        sql = "SELECT * FROM requests" + (" WHERE " + " AND ".join(where) if where else "")
        return [record_of(row) for row in await self.read(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))]

    # -- outbox -----------------------------------------------------------

    async def accept_request(
        self, record: RequestRecord, *, claimed_by: str, lease_until: datetime, expires_at: datetime
    ) -> bool:
        async with self.transaction() as db:
            if not await self._insert(db, record):
                return False
            await db.execute(
                "INSERT INTO outbox (request_id, action, due_at, expires_at, claimed_by, lease_until, created_at) "
                "VALUES (?, 'submit', ?, ?, ?, ?, ?)",
                (
                    record.id,
                    ts(record.created_at),
                    ts(expires_at),
                    claimed_by,
                    ts(lease_until),
                    ts(record.created_at),
                ),
            )
            return True

    async def schedule(
        self,
        request_id: str,
        action: str,
        *,
        due_at: datetime,
        expires_at: datetime,
        attempts: int = 0,
        last_error: str | None = None,
    ) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO outbox (request_id, action, due_at, expires_at, attempts, last_error, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, action) DO UPDATE SET "
                "due_at = excluded.due_at, expires_at = excluded.expires_at, attempts = excluded.attempts, "
                "last_error = excluded.last_error, claimed_by = NULL, lease_until = NULL",
                (request_id, action, ts(due_at), ts(expires_at), attempts, last_error, ts(utcnow())),
            )

    async def claim_outbox(self, worker: str, *, now: datetime, lease_until: datetime, limit: int) -> list[OutboxEntry]:
        async with self.transaction() as db:
            cursor = await db.execute(
                "SELECT * FROM outbox WHERE due_at <= ? AND (lease_until IS NULL OR lease_until < ?) "
                "ORDER BY due_at LIMIT ?",
                (ts(now), ts(now), limit),
            )
            rows = await cursor.fetchall()
            for row in rows:
                await db.execute(
                    "UPDATE outbox SET claimed_by = ?, lease_until = ? WHERE request_id = ? AND action = ?",
                    (worker, ts(lease_until), row["request_id"], row["action"]),
                )
        return [entry_of(row, claimed_by=worker, lease_until=lease_until) for row in rows]

    async def finish_outbox(self, request_id: str, action: str) -> None:
        async with self.transaction() as db:
            await db.execute("DELETE FROM outbox WHERE request_id = ? AND action = ?", (request_id, action))

    async def list_outbox(self, *, request_id: str | None = None, limit: int = 100) -> list[OutboxEntry]:
        where, params = ("WHERE request_id = ?", [request_id]) if request_id else ("", [])
        rows = await self.read(f"SELECT * FROM outbox {where} ORDER BY due_at LIMIT ?", (*params, limit))
        return [entry_of(row) for row in rows]

    async def release_outbox_claims(self, worker: str | None = None) -> int:
        async with self.transaction() as db:
            if worker is None:
                cursor = await db.execute(
                    "UPDATE outbox SET claimed_by = NULL, lease_until = NULL WHERE claimed_by IS NOT NULL"
                )
            else:
                cursor = await db.execute(
                    "UPDATE outbox SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ?", (worker,)
                )
            return cursor.rowcount

    async def outbox_stats(self, now: datetime) -> OutboxStats:
        rows = await self.read(
            "SELECT action, count(*) AS depth, sum(due_at <= ?) AS due, min(created_at) AS oldest "
            "FROM outbox GROUP BY action",
            (ts(now),),
        )
        dead = (await self.read_row("SELECT count(*) FROM requests WHERE status = 'dead_letter'"))[0]
        return OutboxStats(
            depth={r["action"]: int(r["depth"]) for r in rows},
            due={r["action"]: int(r["due"] or 0) for r in rows},
            oldest_created_at={r["action"]: dt(r["oldest"]) for r in rows},
            dead_letters=int(dead),
        )

    async def requeue_request(
        self,
        request_id: str,
        *,
        from_statuses: tuple[RequestStatus, ...],
        error: dict[str, Any],
        due_at: datetime,
        expires_at: datetime,
    ) -> AdminResult:
        async with self.transaction() as db:
            row = await (await db.execute("SELECT status FROM requests WHERE id = ?", (request_id,))).fetchone()
            if row is None:
                return AdminResult.NOT_FOUND
            if row["status"] not in {str(s) for s in from_statuses}:
                return AdminResult.WRONG_STATUS
            now = ts(utcnow())
            await db.execute(
                "UPDATE requests SET status = 'deferred', error = ?, finished_at = NULL, updated_at = ? WHERE id = ?",
                (json.dumps(error, ensure_ascii=False), now, request_id),
            )
            await db.execute(
                "INSERT INTO outbox (request_id, action, due_at, expires_at, attempts, last_error, created_at) "
                "VALUES (?, 'submit', ?, ?, 0, 'requeued by an operator', ?) "
                "ON CONFLICT (request_id, action) DO UPDATE SET due_at = excluded.due_at, "
                "expires_at = excluded.expires_at, attempts = 0, last_error = excluded.last_error, "
                "claimed_by = NULL, lease_until = NULL, created_at = excluded.created_at",
                (request_id, ts(due_at), ts(expires_at), now),
            )
            return AdminResult.DONE

    async def abandon_request(
        self, request_id: str, *, from_statuses: tuple[RequestStatus, ...], error: dict[str, Any], now: datetime
    ) -> AdminResult:
        async with self.transaction() as db:
            row = await (await db.execute("SELECT status FROM requests WHERE id = ?", (request_id,))).fetchone()
            if row is None:
                return AdminResult.NOT_FOUND
            if row["status"] not in {str(s) for s in from_statuses}:
                return AdminResult.WRONG_STATUS
            cursor = await db.execute(
                "SELECT count(*) FROM outbox WHERE request_id = ? AND action IN ('submit', 'poll') "
                "AND lease_until >= ?",
                (request_id, ts(now)),
            )
            busy = await cursor.fetchone()
            if busy is not None and busy[0]:
                return AdminResult.BUSY
            await db.execute(
                "UPDATE requests SET status = 'dead_letter', error = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                (json.dumps(error, ensure_ascii=False), ts(now), ts(now), request_id),
            )
            await db.execute("DELETE FROM outbox WHERE request_id = ? AND action IN ('submit', 'poll')", (request_id,))
            return AdminResult.DONE

    async def drop_outbox_row(self, request_id: str, action: str, *, now: datetime) -> AdminResult:
        async with self.transaction() as db:
            cursor = await db.execute(
                "SELECT lease_until FROM outbox WHERE request_id = ? AND action = ?", (request_id, action)
            )
            row = await cursor.fetchone()
            if row is None:
                return AdminResult.NOT_FOUND
            if row["lease_until"] is not None and row["lease_until"] >= ts(now):
                return AdminResult.BUSY
            await db.execute("DELETE FROM outbox WHERE request_id = ? AND action = ?", (request_id, action))
            return AdminResult.DONE


def _could_open(path: Path) -> None:
    """What :meth:`SQLiteStore.open` needs, checked without writing: a database file it may read and
    write, or a directory where it may create one."""
    if path.exists():
        if not path.is_file() or not os.access(path, os.R_OK | os.W_OK):
            raise StoreError(f"cannot open SQLite database {path}: not a file this user may read and write")
        try:
            with contextlib.closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as db:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {path}: {exc}") from None
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot create the SQLite database {path}: {parent} is not a directory this user may write")


def _private_file(path: Path) -> None:
    """Create the database file 0600 (its directory 0700 when it is new) before SQLite opens it.

    The store holds every applicant's request and result: nobody but the
    gateway's own user may read it. An existing file is narrowed to 0600.
    """
    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, mode=0o700)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(path, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot create the SQLite database {path}: {exc.strerror}") from None
