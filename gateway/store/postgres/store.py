"""The PostgreSQL backend: several gateway processes sharing one database.

Row locks (``SELECT ... FOR UPDATE``) make claiming an idempotency key
atomic across processes; an advisory lock makes start-up migrations run
once when several processes start together. ``?schema=NAME`` in the URL
puts the tables in their own schema (tests use one schema each).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from gateway.errors import StoreError
from gateway.store.base import (
    OUTBOX_FIELDS,
    RECORD_FIELDS,
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
from gateway.store.migrations import Migration, migrations, statements
from gateway.store.postgres.barrier import Barrier
from gateway.store.postgres.bundles import PostgresBundles
from gateway.store.postgres.caller_keys import PostgresCallerKeys
from gateway.store.postgres.codecs import use_json_codecs
from gateway.store.postgres.idempotency import PostgresIdempotency
from gateway.store.postgres.retention import PostgresRetention
from gateway.store.postgres.service import PostgresService
from gateway.store.postgres.statements import Statements

_MIGRATION_LOCK = 0x0E1D0  # advisory lock key: "one window"
_COLUMNS = (
    "id",
    "caller_id",
    "item",
    "agency",
    "office",
    "operator",
    "channel",
    "status",
    "envelope",
    "result",
    "error",
    "ticket",
    "agency_reference",
    "attempts",
    "callback_url",
    "created_at",
    "updated_at",
    "finished_at",
    "due_on",
    "due_unknown",
    "agency_message",
)


def split_schema(url: str) -> tuple[str, str | None]:
    """Take the ``schema`` query parameter out of a PostgreSQL URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, rest, parts.fragment)), schema


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Hand a connection back to the pool without the reset query (a round trip at every release).

    The store leaves nothing in a session for the next user to trip on: its
    locks are transaction-scoped (``pg_advisory_xact_lock``, ``FOR UPDATE``),
    its settings local (``set_config(..., true)``), and it neither listens nor
    keeps cursors; asyncpg still rolls back a transaction left open.
    """


def _record(row: asyncpg.Record) -> RequestRecord:
    data = {k: v for k, v in dict(row).items() if k in RECORD_FIELDS}  # columns of a later release: ignored
    data["status"] = RequestStatus(data["status"])
    return RequestRecord(**data)


def _entry(row: asyncpg.Record) -> OutboxEntry:
    return OutboxEntry(**{k: v for k, v in dict(row).items() if k in OUTBOX_FIELDS})


class PostgresStore(
    PostgresIdempotency, PostgresRetention, PostgresCallerKeys, PostgresBundles, PostgresService, Store
):
    """Store backed by PostgreSQL through an asyncpg pool."""

    backend = "postgres"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.dsn, self.schema = split_schema(url)
        self.min_size = min_size
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._statements: Statements | None = None
        self.barrier: Barrier | None = None

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        return cls(url)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the PostgreSQL store is not open")
        return self._pool

    @property
    def statements(self) -> Statements:
        """Single statements (each its own transaction) without the pool's bookkeeping (see its module)."""
        if self._statements is None:
            raise StoreError("the PostgreSQL store is not open")
        return self._statements

    async def open(self, *, migrate: bool = True) -> None:
        settings = {"search_path": self.schema} if self.schema else {}
        try:
            if self.schema:
                await self._ensure_schema()
            barrier = Barrier(self.dsn, settings)
            await barrier.open()  # before any commit: it notes the server's start time
            self.barrier = barrier
            # Commits do not wait for their flush; durable() does, once for every waiter (see the barrier module).
            # max_size connections in all: half for transactions and the rest, half for single statements.
            pooled = max(1, (self.max_size + 1) // 2)
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=min(self.min_size, pooled),
                max_size=pooled,
                init=use_json_codecs,
                server_settings={**settings, "synchronous_commit": "off"},
                reset=_keep_session,
            )

            async def connect() -> asyncpg.Connection:
                conn = await asyncpg.connect(
                    self.dsn, server_settings={**settings, "synchronous_commit": "off"}, timeout=10
                )
                await use_json_codecs(conn)
                return conn

            self._statements = Statements(connect, max(1, self.max_size - pooled))
        except (OSError, asyncpg.PostgresError) as exc:
            if self.barrier is not None:
                await self.barrier.close()
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        if migrate:
            await self._migrate()

    async def close(self) -> None:
        """Flush what this process committed (an administrative command's writes too), then disconnect.

        A flush that cannot be confirmed raises (the command exits non-zero),
        unless the store already failed and said so to every waiter.
        """
        try:
            if self._pool is not None and (self.barrier is None or self.barrier.failure is None):
                await self.durable()
        finally:
            if self._statements is not None:
                await self._statements.close()
                self._statements = None
            if self._pool is not None:
                await self._pool.close()
                self._pool = None
            if self.barrier is not None:
                await self.barrier.close()

    async def _ensure_schema(self) -> None:
        """Create the configured schema if it is missing (a role that may not create one only reads)."""
        conn = await asyncpg.connect(self.dsn)
        try:
            if await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", self.schema):
                return
            async with conn.transaction():  # two processes starting at once would race on the catalogue row
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        finally:
            await conn.close()

    async def applied_migrations(self) -> set[int]:
        """The versions recorded in ``schema_migrations``, read without changing anything."""
        async with self.pool.acquire() as conn:
            if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
                return set()
            return {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}

    async def _migrate(self) -> None:
        """Apply the migrations this release knows and the store lacks.

        When there are none, nothing is locked or created, so a runtime role
        with data rights only (docs/operations.md, the least-privilege role)
        opens an up-to-date store; when there are some and the role may not
        apply them, the refusal names the command an owner runs.
        """
        known = migrations("postgres")
        if {m.version for m in known} <= await self.applied_migrations():
            return
        try:
            await self._apply(known)
        except asyncpg.InsufficientPrivilegeError as exc:
            raise StoreError(
                f"the store's schema needs migrating and this database role may not change it ({exc}): "
                "run 'onewindow migrate --config FILE' with the schema owner's role, then start the gateway"
            ) from None

    async def _apply(self, known: list[Migration]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
            applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for migration in known:
                if migration.version in applied:
                    continue
                for statement in statements(migration.sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    utcnow(),
                )

    async def durable(self) -> None:
        """Wait for the write-ahead log's flush past every commit so far: one barrier for every waiter."""
        if self.barrier is not None:
            await self.barrier.durable()

    @property
    def barriers(self) -> int:
        """Barrier transactions committed (each one flush of the log): the benchmark's durable commits."""
        return 0 if self.barrier is None else self.barrier.barriers

    async def reachable(self) -> None:
        try:
            conn = await asyncpg.connect(self.dsn, timeout=10)
            try:
                await conn.fetchval("SELECT 1")
            finally:
                await conn.close()
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from None

    async def ping(self) -> None:
        try:
            await self.pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"PostgreSQL store does not answer: {exc}") from exc

    async def schema_version(self) -> int:
        return max(await self.applied_migrations(), default=0)

    # -- requests ---------------------------------------------------------

    @staticmethod
    async def _insert(conn: asyncpg.Connection | asyncpg.Pool, record: RequestRecord) -> bool:
        values = [getattr(record, c) for c in _COLUMNS]
        values[_COLUMNS.index("status")] = str(record.status)
        marks = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
        status = await conn.execute(
            f"INSERT INTO requests ({', '.join(_COLUMNS)}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING",
            *values,
        )
        return status.endswith(" 1")

    async def insert_request(self, record: RequestRecord) -> bool:
        return await self._insert(self.pool, record)

    async def get_request(self, request_id: str) -> RequestRecord | None:
        row = await self.statements.fetchrow("SELECT * FROM requests WHERE id = $1", request_id)
        return None if row is None else _record(row)

    async def update_request(
        self, request_id: str, *, expect: Collection[RequestStatus] | None = None, **changes: Any
    ) -> bool:
        sql, params = self._update_sql(request_id, expect, changes)
        status = await self.statements.execute(sql, *params)
        return status.endswith(" 1")

    async def move_request(
        self, request_id: str, *, expect: Collection[RequestStatus], **changes: Any
    ) -> MovedRequest | None:
        sql, params = self._update_sql(request_id, expect, changes)
        sql += " RETURNING *, (SELECT bundle_id FROM bundle_steps WHERE request_id = requests.id) AS step_of"
        row = await self.statements.fetchrow(sql, *params)
        return None if row is None else MovedRequest(_record(row), row["step_of"])

    async def move_request_finishing(
        self, request_id: str, action: str, *, expect: Collection[RequestStatus], **changes: Any
    ) -> MovedRequest | None:
        # One statement: the outbox row goes only when the update matched, in the same transaction.
        sql, params = self._update_sql(request_id, expect, changes)
        n = len(params)
        sql = (
            f"WITH moved AS ({sql} RETURNING *), done AS (DELETE FROM outbox WHERE request_id = ${n + 1} "
            f"AND action = ${n + 2} AND EXISTS (SELECT 1 FROM moved)) "
            "SELECT *, (SELECT bundle_id FROM bundle_steps WHERE request_id = moved.id) AS step_of FROM moved"
        )
        row = await self.statements.fetchrow(sql, *params, request_id, action)
        return None if row is None else MovedRequest(_record(row), row["step_of"])

    async def request_status(self, request_id: str) -> RequestStatus | None:
        status = await self.statements.fetchval("SELECT status FROM requests WHERE id = $1", request_id)
        return None if status is None else RequestStatus(status)

    @staticmethod
    def _update_sql(
        request_id: str, expect: Collection[RequestStatus] | None, changes: dict[str, Any]
    ) -> tuple[str, list[Any]]:
        """The statement that changes ``changes`` of the request (while its status is in ``expect``)."""
        unknown = set(changes) - REQUEST_UPDATABLE
        if unknown:
            raise ValueError(f"cannot update request field(s) {sorted(unknown)}")
        changes.setdefault("updated_at", utcnow())
        if "status" in changes:
            changes["status"] = str(RequestStatus(changes["status"]))
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=1))
        sql = f"UPDATE requests SET {assignments} WHERE id = ${len(changes) + 1}"
        params: list[Any] = [*changes.values(), request_id]
        if expect is not None:
            params.append([str(RequestStatus(status)) for status in expect])
            sql += f" AND status = ANY(${len(params)}::text[])"
        return sql, params

    async def list_requests(
        self, *, status: str | None = None, caller_id: str | None = None, limit: int = 100
    ) -> list[RequestRecord]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("status", status), ("caller_id", caller_id)):
            if value is not None:
                params.append(value)
                where.append(f"{column} = ${len(params)}")
        params.append(limit)
        sql = "SELECT * FROM requests" + (" WHERE " + " AND ".join(where) if where else "")
        rows = await self.pool.fetch(sql + f" ORDER BY id DESC LIMIT ${len(params)}", *params)
        return [_record(row) for row in rows]

    # -- outbox -----------------------------------------------------------

    async def accept_request(
        self, record: RequestRecord, *, claimed_by: str, lease_until: datetime, expires_at: datetime
    ) -> bool:
        # One statement (its own transaction, one round trip): the outbox row only if the request row was new.
        values = [getattr(record, c) for c in _COLUMNS]
        values[_COLUMNS.index("status")] = str(record.status)
        n = len(_COLUMNS)
        marks = ", ".join(f"${i}" for i in range(1, n + 1))
        status = await self.statements.execute(
            f"WITH r AS (INSERT INTO requests ({', '.join(_COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT (id) DO NOTHING RETURNING id, created_at) "
            "INSERT INTO outbox (request_id, action, due_at, expires_at, claimed_by, lease_until, created_at) "
            f"SELECT id, 'submit', created_at, ${n + 1}, ${n + 2}, ${n + 3}, created_at FROM r",
            *values,
            expires_at,
            claimed_by,
            lease_until,
        )
        return status.endswith(" 1")

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
        await self.pool.execute(
            "INSERT INTO outbox (request_id, action, due_at, expires_at, attempts, last_error, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id, action) DO UPDATE SET "
            "due_at = excluded.due_at, expires_at = excluded.expires_at, attempts = excluded.attempts, "
            "last_error = excluded.last_error, claimed_by = NULL, lease_until = NULL",
            request_id,
            action,
            due_at,
            expires_at,
            attempts,
            last_error,
            utcnow(),
        )

    async def claim_outbox(self, worker: str, *, now: datetime, lease_until: datetime, limit: int) -> list[OutboxEntry]:
        rows = await self.pool.fetch(
            "UPDATE outbox SET claimed_by = $1, lease_until = $2 WHERE (request_id, action) IN ("
            "  SELECT request_id, action FROM outbox"
            "  WHERE due_at <= $3 AND (lease_until IS NULL OR lease_until < $3)"
            "  ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED"
            ") RETURNING *",
            worker,
            lease_until,
            now,
            limit,
        )
        return sorted((_entry(row) for row in rows), key=lambda e: e.due_at)

    async def finish_outbox(self, request_id: str, action: str) -> None:
        await self.pool.execute("DELETE FROM outbox WHERE request_id = $1 AND action = $2", request_id, action)

    async def list_outbox(self, *, request_id: str | None = None, limit: int = 100) -> list[OutboxEntry]:
        if request_id:
            rows = await self.pool.fetch(
                "SELECT * FROM outbox WHERE request_id = $1 ORDER BY due_at LIMIT $2", request_id, limit
            )
        else:
            rows = await self.pool.fetch("SELECT * FROM outbox ORDER BY due_at LIMIT $1", limit)
        return [_entry(row) for row in rows]

    async def release_outbox_claims(self, worker: str | None = None) -> int:
        if worker is None:
            status = await self.pool.execute(
                "UPDATE outbox SET claimed_by = NULL, lease_until = NULL WHERE claimed_by IS NOT NULL"
            )
        else:
            status = await self.pool.execute(
                "UPDATE outbox SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = $1", worker
            )
        return int(status.split()[-1])

    async def outbox_stats(self, now: datetime) -> OutboxStats:
        rows = await self.pool.fetch(
            "SELECT action, count(*) AS depth, count(*) FILTER (WHERE due_at <= $1) AS due, "
            "min(created_at) AS oldest FROM outbox GROUP BY action",
            now,
        )
        dead = await self.pool.fetchval("SELECT count(*) FROM requests WHERE status = 'dead_letter'")
        return OutboxStats(
            depth={r["action"]: int(r["depth"]) for r in rows},
            due={r["action"]: int(r["due"]) for r in rows},
            oldest_created_at={r["action"]: r["oldest"] for r in rows},
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
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.fetchval("SELECT status FROM requests WHERE id = $1 FOR UPDATE", request_id)
            if status is None:
                return AdminResult.NOT_FOUND
            if status not in {str(s) for s in from_statuses}:
                return AdminResult.WRONG_STATUS
            now = utcnow()
            await conn.execute(
                "UPDATE requests SET status = 'deferred', error = $1, finished_at = NULL, updated_at = $2 "
                "WHERE id = $3",
                error,
                now,
                request_id,
            )
            await conn.execute(
                "INSERT INTO outbox (request_id, action, due_at, expires_at, attempts, last_error, created_at) "
                "VALUES ($1, 'submit', $2, $3, 0, 'requeued by an operator', $4) "
                "ON CONFLICT (request_id, action) DO UPDATE SET due_at = excluded.due_at, "
                "expires_at = excluded.expires_at, attempts = 0, last_error = excluded.last_error, "
                "claimed_by = NULL, lease_until = NULL, created_at = excluded.created_at",
                request_id,
                due_at,
                expires_at,
                now,
            )
            return AdminResult.DONE

    async def abandon_request(
        self, request_id: str, *, from_statuses: tuple[RequestStatus, ...], error: dict[str, Any], now: datetime
    ) -> AdminResult:
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.fetchval("SELECT status FROM requests WHERE id = $1 FOR UPDATE", request_id)
            if status is None:
                return AdminResult.NOT_FOUND
            if status not in {str(s) for s in from_statuses}:
                return AdminResult.WRONG_STATUS
            leased = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE request_id = $1 AND action IN ('submit', 'poll') "
                "AND lease_until >= $2",
                request_id,
                now,
            )
            if leased:
                return AdminResult.BUSY
            await conn.execute(
                "UPDATE requests SET status = 'dead_letter', error = $1, finished_at = $2, updated_at = $2 "
                "WHERE id = $3",
                error,
                now,
                request_id,
            )
            await conn.execute("DELETE FROM outbox WHERE request_id = $1 AND action IN ('submit', 'poll')", request_id)
            return AdminResult.DONE

    async def drop_outbox_row(self, request_id: str, action: str, *, now: datetime) -> AdminResult:
        async with self.pool.acquire() as conn, conn.transaction():
            lease = await conn.fetchrow(
                "SELECT lease_until FROM outbox WHERE request_id = $1 AND action = $2 FOR UPDATE", request_id, action
            )
            if lease is None:
                return AdminResult.NOT_FOUND
            if lease["lease_until"] is not None and lease["lease_until"] >= now:
                return AdminResult.BUSY
            await conn.execute("DELETE FROM outbox WHERE request_id = $1 AND action = $2", request_id, action)
            return AdminResult.DONE
