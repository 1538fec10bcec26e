"""What the per-caller limits count, kept in the store so every instance and worker counts together.

Two counts per caller (tables of migration 0008):

* **requests in the window** -- one row per admitted request; a request is
  admitted while fewer than ``count`` rows are younger than ``window_s``
  (a sliding log: exact for any window, never twice the limit at a window's edge);
* **calls in flight** -- one row per intake call being served, with a lease
  so a call whose instance died stops counting after ``lease_s``.

Each decision is one transaction that first serialises on the caller: on
PostgreSQL a transaction-scoped advisory lock per caller (and schema), so
two instances deciding at once cannot both take the last place; on SQLite
the store's write transaction (``BEGIN IMMEDIATE``), which also holds
across worker processes sharing the file. PostgreSQL decides by the
database's clock, so instances on several hosts agree on the window.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Protocol

_PG_NOW = "SELECT extract(epoch FROM clock_timestamp())::float8"
_PG_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || current_schema() || ':' || $2, 0))"


class LimitCounters(Protocol):
    """The two counts of every caller, on one store."""

    async def take(self, caller_id: str, count: int, window_s: float) -> float | None:
        """Count one request if fewer than ``count`` were admitted in ``window_s``: None; else seconds to wait."""
        ...

    async def enter(self, caller_id: str, limit: int, holder: str, instance: str, lease_s: float) -> bool:
        """Record call ``holder`` in flight if fewer than ``limit`` are; whether it was."""
        ...

    async def leave(self, holder: str) -> None:
        """Call ``holder`` was answered."""
        ...

    async def leave_instance(self, instance: str) -> None:
        """Every call ``instance`` still had in flight (it is stopping)."""
        ...


class PostgresCounters:
    """The counts in PostgreSQL, shared by every instance on the database."""

    def __init__(self, store: Any) -> None:
        self._store = store  # PostgresStore: its pool is opened with the store

    async def take(self, caller_id: str, count: int, window_s: float) -> float | None:
        async with self._store.pool.acquire() as conn, conn.transaction():
            await conn.execute(_PG_LOCK, "onewindow-rate", caller_id)
            now = float(await conn.fetchval(_PG_NOW))
            await conn.execute(
                "DELETE FROM caller_requests WHERE caller_id = $1 AND at <= $2", caller_id, now - window_s
            )
            row = await conn.fetchrow(
                "SELECT count(*) AS n, min(at) AS oldest FROM caller_requests WHERE caller_id = $1", caller_id
            )
            if row["n"] < count:
                await conn.execute("INSERT INTO caller_requests (caller_id, at) VALUES ($1, $2)", caller_id, now)
                return None
            return max(0.0, float(row["oldest"]) + window_s - now)

    async def enter(self, caller_id: str, limit: int, holder: str, instance: str, lease_s: float) -> bool:
        async with self._store.pool.acquire() as conn, conn.transaction():
            await conn.execute(_PG_LOCK, "onewindow-in-flight", caller_id)
            now = float(await conn.fetchval(_PG_NOW))
            await conn.execute(
                "DELETE FROM caller_calls_in_flight WHERE caller_id = $1 AND expires_at <= $2", caller_id, now
            )
            held = await conn.fetchval("SELECT count(*) FROM caller_calls_in_flight WHERE caller_id = $1", caller_id)
            if held >= limit:
                return False
            await conn.execute(
                "INSERT INTO caller_calls_in_flight (holder, caller_id, instance, expires_at) VALUES ($1, $2, $3, $4)",
                holder,
                caller_id,
                instance,
                now + lease_s,
            )
            return True

    async def leave(self, holder: str) -> None:
        await self._store.pool.execute("DELETE FROM caller_calls_in_flight WHERE holder = $1", holder)

    async def leave_instance(self, instance: str) -> None:
        await self._store.pool.execute("DELETE FROM caller_calls_in_flight WHERE instance = $1", instance)


class SqliteCounters:
    """The counts in the SQLite file, by this host's clock, under the store's write transaction."""

    def __init__(self, store: Any, clock: Any = time.time) -> None:
        self._store = store  # SQLiteStore: run_in_transaction() is BEGIN IMMEDIATE, one hop
        self._clock = clock

    async def take(self, caller_id: str, count: int, window_s: float) -> float | None:
        def work(conn: sqlite3.Connection) -> float | None:
            now = float(self._clock())
            conn.execute("DELETE FROM caller_requests WHERE caller_id = ? AND at <= ?", (caller_id, now - window_s))
            n, oldest = conn.execute(
                "SELECT count(*), min(at) FROM caller_requests WHERE caller_id = ?", (caller_id,)
            ).fetchone()
            if n < count:
                conn.execute("INSERT INTO caller_requests (caller_id, at) VALUES (?, ?)", (caller_id, now))
                return None
            return max(0.0, float(oldest) + window_s - now)

        result: float | None = await self._store.run_in_transaction(work)
        return result

    async def enter(self, caller_id: str, limit: int, holder: str, instance: str, lease_s: float) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            now = float(self._clock())
            conn.execute("DELETE FROM caller_calls_in_flight WHERE caller_id = ? AND expires_at <= ?", (caller_id, now))
            (held,) = conn.execute(
                "SELECT count(*) FROM caller_calls_in_flight WHERE caller_id = ?", (caller_id,)
            ).fetchone()
            if held >= limit:
                return False
            conn.execute(
                "INSERT INTO caller_calls_in_flight (holder, caller_id, instance, expires_at) VALUES (?, ?, ?, ?)",
                (holder, caller_id, instance, now + lease_s),
            )
            return True

        entered: bool = await self._store.run_in_transaction(work)
        return entered

    async def leave(self, holder: str) -> None:
        await self._store.run_in_transaction(
            lambda conn: conn.execute("DELETE FROM caller_calls_in_flight WHERE holder = ?", (holder,))
        )

    async def leave_instance(self, instance: str) -> None:
        await self._store.run_in_transaction(
            lambda conn: conn.execute("DELETE FROM caller_calls_in_flight WHERE instance = ?", (instance,))
        )


def counters_for(store: Any) -> LimitCounters:
    """The counters kept in ``store`` (by its backend)."""
    if store.backend == "postgres":
        return PostgresCounters(store)
    if store.backend == "sqlite":
        return SqliteCounters(store)
    raise ValueError(f"no limit counters for a {store.backend} store")
