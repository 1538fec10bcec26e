"""The SQLite backend: the embedded default for one gateway process.

WAL mode. One connection writes, from the event loop itself: statements
run at once (a warm SQLite file answers in microseconds), and an asyncio
lock keeps multi-statement transactions whole. Commits go to the
write-ahead log without a flush of their own; :meth:`SQLiteStore.durable`
flushes every commit made so far in one ``fdatasync`` shared by everyone
waiting (:mod:`gateway.store.sqlite.connection`), and nothing leaves the
gateway before it: a committed request survives a crash of the process or
the machine once anyone outside has heard of it.

Short reads run on the writer's connection between transactions (they see
what is committed, flushed or not: the answer built from them waits for the
flush like any other). Long scans (``large=True``: the audit log's pages)
go to a second, read-only connection in a thread of its own, so they never
stop the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.errors import StoreError
from gateway.store.base import (
    REQUEST_UPDATABLE,
    AdminResult,
    MovedRequest,
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
from gateway.store.sqlite.connection import BUSY_WAIT_S, WAL_KEEP_BYTES, Connection, Unit, WalFlush, Writer
from gateway.store.sqlite.idempotency import SQLiteIdempotency
from gateway.store.sqlite.retention import SQLiteRetention
from gateway.store.sqlite.rows import JSON_COLUMNS, TIME_COLUMNS, dt, entry_of, json_text, record_of, ts
from gateway.store.sqlite.service import SQLiteService

_READ_BACK = (
    "SELECT *, (SELECT bundle_id FROM bundle_steps WHERE request_id = requests.id) AS step_of "
    "FROM requests WHERE id = ?"
)
"""What a move reads back: the request as it left it, and the bundle it is a step of."""
_FINISH_OUTBOX = "DELETE FROM outbox WHERE request_id = ? AND action = ?"
"""An outbox action done with: a settling move's, the worker's, an operator's."""


class SQLiteStore(SQLiteIdempotency, SQLiteRetention, SQLiteCallerKeys, SQLiteBundles, SQLiteService, Store):
    """Store backed by one SQLite file (``sqlite:///path`` or ``sqlite://:memory:``)."""

    backend = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer: Writer | None = None
        self._reader: sqlite3.Connection | None = None
        self._reading: ThreadPoolExecutor | None = None

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        # As in SQLAlchemy: sqlite:///var/x.db is relative, sqlite:////srv/x.db absolute.
        path = url.removeprefix("sqlite:").removeprefix("//").removeprefix("/")
        return cls(path or ":memory:")

    @property
    def writer(self) -> Writer:
        if self._writer is None:
            raise StoreError("the SQLite store is not open")
        return self._writer

    @property
    def db(self) -> Connection:
        return self.writer.conn

    async def open(self, *, migrate: bool = True) -> None:
        in_memory = self.path == ":memory:"
        if not in_memory:
            _private_file(Path(self.path))
        try:
            raw = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except Exception as exc:  # sqlite3.OperationalError and friends
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from exc
        raw.row_factory = sqlite3.Row
        # synchronous=NORMAL: a commit is written to the log, not flushed; durable() flushes (see above).
        pragmas = ["journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={int(BUSY_WAIT_S * 1000)}"]
        if not in_memory:
            pragmas += ["synchronous=NORMAL", "wal_autocheckpoint=0", f"journal_size_limit={WAL_KEEP_BYTES}"]
            # A unit's savepoint keeps the pages it changes in a sub-journal, a temporary file once it outgrows
            # 64 KiB (an audit batch does): in memory instead, it costs no file and no system call.
            pragmas.append("temp_store=MEMORY")
        for pragma in pragmas:
            raw.execute(f"PRAGMA {pragma}")
        self._writer = Writer(raw, None if in_memory else WalFlush(self.path + "-wal"))
        if migrate:  # with the busy timeout: another instance may be migrating (off the loop)
            await asyncio.to_thread(self._migrate, raw)
            if self._writer.flush is not None:  # the migrations' commits, made on the plain connection
                self._writer.flush.committed()
                await self._writer.flush.durable()
        raw.execute("PRAGMA busy_timeout=0")  # from now on the loop never waits inside SQLite: begin_immediate()
        if not in_memory:  # SQLite gives its -wal and -shm files the database's mode; hold it to that
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(self.path + suffix, 0o600)
            reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            for pragma in ("query_only=ON", f"busy_timeout={int(BUSY_WAIT_S * 1000)}"):
                reader.execute(f"PRAGMA {pragma}")
            self._reader = reader
            self._reading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onewindow-sqlite-reader")

    async def reachable(self) -> None:
        if self.path != ":memory:":
            await asyncio.to_thread(_could_open, Path(self.path))

    async def durable(self) -> None:
        """Return once every unit of work this process has done is committed and on disk (shared with all who
        wait at the same moment). A closed store flushed everything as it closed."""
        if self._writer is not None:
            await self._writer.durable()

    @property
    def flushes(self) -> int:
        """``fdatasync`` calls made for commits so far (the benchmark's and the tests' count)."""
        flush = None if self._writer is None else self._writer.flush
        return 0 if flush is None else flush.flushes

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer.finish()
        if self._reading is not None:
            self._reading.shutdown(wait=True)
        for connection in (self._reader, None if writer is None else writer.raw):
            if connection is not None:
                connection.close()
        if writer is not None and writer.flush is not None:
            writer.flush.close()
        self._reader = self._reading = None

    async def read(
        self, sql: str, params: Sequence[Any] = (), *, tuples: bool = False, large: bool = False
    ) -> list[Any]:
        """Every row of one query, from one snapshot, with every unit of work done so far.

        Rows are :class:`sqlite3.Row` unless ``tuples`` (faster, for the audit
        log's long scans). A short read runs at once on the writer's
        connection, between units of work (which never stop half-way); a
        ``large`` one commits what is open and runs whole in the reader's
        thread, so that it never stops the loop.
        """

        def run(conn: sqlite3.Connection) -> list[Any]:
            cursor = conn.cursor()
            cursor.row_factory = None if tuples else sqlite3.Row
            return cursor.execute(sql, params).fetchall()

        if self._reader is None or not large:
            await self.writer.between_units()
            return run(self.writer.raw)
        await self.writer.settle()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reading, run, self._reader)

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

    def transaction(self, *, single: bool = False) -> Unit[Connection]:
        """One unit of work under the write lock, whole; committed with others' (:class:`Writer`), flushed by
        :meth:`durable`. ``single``: no savepoint, for a unit whose every statement leaves the store whole
        (:meth:`Writer.unit`)."""
        writer = self.writer
        return Unit(writer, single, writer.conn)

    async def run_in_transaction(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work(connection)`` as one unit of work on the plain ``sqlite3`` connection.

        For writers with many statements per unit (the audit log's batches,
        the callers' limits). Serialised with :meth:`transaction`.
        """
        return await self.writer.run(work)

    @staticmethod
    def _migrate(raw: sqlite3.Connection) -> None:
        """Apply what migrations are missing, each in its own transaction (in a thread: it may wait on a lock)."""
        raw.execute("BEGIN IMMEDIATE")
        raw.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        raw.execute("COMMIT")
        for migration in migrations("sqlite"):
            raw.execute("BEGIN IMMEDIATE")
            try:
                if raw.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)).fetchone():
                    raw.execute("COMMIT")
                    continue
                for statement in statements(migration.sql):
                    raw.execute(statement)
                raw.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, ts(utcnow())),
                )
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")

    async def ping(self) -> None:
        self.writer.refuse()  # closed for writing after a failed commit or flush: not ready
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
            "envelope": json_text(record.envelope),
            "result": None if record.result is None else json_text(record.result),
            "error": None if record.error is None else json_text(record.error),
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

    async def _insert(self, db: Connection, record: RequestRecord) -> bool:
        values = self._request_values(record)
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cursor = await db.execute(
            f"INSERT INTO requests ({columns}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING", tuple(values.values())
        )
        return cursor.rowcount == 1

    async def insert_request(self, record: RequestRecord) -> bool:
        async with self.transaction(single=True) as db:
            return await self._insert(db, record)

    async def get_request(self, request_id: str) -> RequestRecord | None:
        row = await self.read_one("SELECT * FROM requests WHERE id = ?", (request_id,))
        return None if row is None else record_of(row)

    async def update_request(
        self, request_id: str, *, expect: Collection[RequestStatus] | None = None, **changes: Any
    ) -> bool:
        sql, params = self._update_sql(request_id, expect, changes)
        async with self.transaction(single=True) as db:
            cursor = await db.execute(sql, params)
            return cursor.rowcount == 1

    async def move_request(
        self, request_id: str, *, expect: Collection[RequestStatus], **changes: Any
    ) -> MovedRequest | None:
        return await self._move(request_id, None, expect, changes)

    async def move_request_finishing(
        self, request_id: str, action: str, *, expect: Collection[RequestStatus], **changes: Any
    ) -> MovedRequest | None:
        return await self._move(request_id, action, expect, changes)

    async def _move(
        self, request_id: str, finishing: str | None, expect: Collection[RequestStatus], changes: dict[str, Any]
    ) -> MovedRequest | None:
        """The move, the request read back and (``finishing``) its outbox action finished: one unit of work.

        The row is read by a SELECT after the UPDATE, not by ``UPDATE ...
        RETURNING``, for which SQLite gives up its one-pass update and takes
        twice the time. The unit needs no savepoint (which would copy the
        changed pages aside, the sealed result's among them): the store is
        whole after each statement. A refused update changes nothing; after
        it, the outbox row goes last, so a read or a delete that fails leaves
        a settled request with its row, which the outbox's redelivery finds
        settled and finishes (as when the process dies between the two).
        """
        sql, params = self._update_sql(request_id, expect, changes)
        async with self.transaction(single=True) as db:
            if (await db.execute(sql, params)).rowcount != 1:
                return None  # it had moved on: nothing changed
            rows = await db.execute_fetchall(_READ_BACK, (request_id,))
            if finishing is not None:
                await db.execute(_FINISH_OUTBOX, (request_id, finishing))
        return MovedRequest(record_of(rows[0]), rows[0]["step_of"])

    async def request_status(self, request_id: str) -> RequestStatus | None:
        row = await self.read_one("SELECT status FROM requests WHERE id = ?", (request_id,), tuples=True)
        return None if row is None else RequestStatus(row[0])

    @staticmethod
    def _update_sql(
        request_id: str, expect: Collection[RequestStatus] | None, changes: dict[str, Any]
    ) -> tuple[str, tuple[Any, ...]]:
        """The statement that changes ``changes`` of the request (while its status is in ``expect``)."""
        unknown = set(changes) - REQUEST_UPDATABLE
        if unknown:
            raise ValueError(f"cannot update request field(s) {sorted(unknown)}")
        changes.setdefault("updated_at", utcnow())
        params: list[Any] = []
        for name, value in changes.items():
            if name in JSON_COLUMNS:
                value = None if value is None else json_text(value)
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
        return sql, (*params, *where)

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
        async with self.transaction(single=True) as db:
            await db.execute(
                "INSERT INTO outbox (request_id, action, due_at, expires_at, attempts, last_error, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, action) DO UPDATE SET "
                "due_at = excluded.due_at, expires_at = excluded.expires_at, attempts = excluded.attempts, "
                "last_error = excluded.last_error, claimed_by = NULL, lease_until = NULL",
                (request_id, action, ts(due_at), ts(expires_at), attempts, last_error, ts(utcnow())),
            )

    async def claim_outbox(self, worker: str, *, now: datetime, lease_until: datetime, limit: int) -> list[OutboxEntry]:
        due = "FROM outbox WHERE due_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
        if not await self.read(f"SELECT 1 {due} LIMIT 1", (ts(now), ts(now)), tuples=True):
            return []  # an idle poll takes no write lock and makes no commit to flush
        async with self.transaction() as db:
            cursor = await db.execute(f"SELECT * {due} ORDER BY due_at LIMIT ?", (ts(now), ts(now), limit))
            rows = await cursor.fetchall()
            for row in rows:
                await db.execute(
                    "UPDATE outbox SET claimed_by = ?, lease_until = ? WHERE request_id = ? AND action = ?",
                    (worker, ts(lease_until), row["request_id"], row["action"]),
                )
        return [entry_of(row, claimed_by=worker, lease_until=lease_until) for row in rows]

    async def finish_outbox(self, request_id: str, action: str) -> None:
        async with self.transaction(single=True) as db:
            await db.execute(_FINISH_OUTBOX, (request_id, action))

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
            large=True,
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
                (json_text(error), now, request_id),
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
                (json_text(error), ts(now), ts(now), request_id),
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
            await db.execute(_FINISH_OUTBOX, (request_id, action))
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
