"""Callers' signing keys and signature nonces on PostgreSQL: part of the PostgreSQL store.

The nonce's primary key makes a replay fail on every gateway sharing the
database: two instances inserting the same nonce at once, one insert wins.
Adding a key takes a transaction-scoped advisory lock on the caller, so
two ``add-key`` commands at once cannot leave a caller with three keys.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.store.base import StoredCallerKey

_COLUMNS = "key_id, caller_id, alg, public_key, sealed_secret, created_at, retired_at"


def _key(row: asyncpg.Record) -> StoredCallerKey:
    return StoredCallerKey(*row)


class PostgresCallerKeys:
    """Mixed into the PostgreSQL store; uses its connection pool."""

    @property
    def pool(self) -> asyncpg.Pool:  # provided by PostgresStore
        raise NotImplementedError

    async def add_caller_key(self, key: StoredCallerKey, *, max_active: int) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('onewindow caller key ' || $1))", key.caller_id)
            active = await conn.fetchval(
                "SELECT COUNT(*) FROM caller_keys WHERE caller_id = $1 AND retired_at IS NULL", key.caller_id
            )
            if active >= max_active:
                return False
            await conn.execute(
                f"INSERT INTO caller_keys ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                key.key_id,
                key.caller_id,
                key.alg,
                key.public_key,
                key.sealed_secret,
                key.created_at,
            )
            return True

    async def caller_key(self, key_id: str) -> StoredCallerKey | None:
        row = await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM caller_keys WHERE key_id = $1", key_id)
        return None if row is None else _key(row)

    async def caller_keys(self, caller_id: str | None = None) -> list[StoredCallerKey]:
        if caller_id is None:
            rows = await self.pool.fetch(f"SELECT {_COLUMNS} FROM caller_keys ORDER BY created_at, key_id")
        else:
            rows = await self.pool.fetch(
                f"SELECT {_COLUMNS} FROM caller_keys WHERE caller_id = $1 ORDER BY created_at, key_id", caller_id
            )
        return [_key(row) for row in rows]

    async def retire_caller_key(self, caller_id: str, key_id: str, *, now: datetime) -> bool:
        status = await self.pool.execute(
            "UPDATE caller_keys SET retired_at = $1 WHERE caller_id = $2 AND key_id = $3 AND retired_at IS NULL",
            now,
            caller_id,
            key_id,
        )
        return bool(status.endswith(" 1"))

    async def remember_nonce(self, key_id: str, nonce: str, *, now: datetime, expires_at: datetime) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM signature_nonces WHERE key_id = $1 AND nonce = $2 AND expires_at <= $3", key_id, nonce, now
            )
            status = await conn.execute(
                "INSERT INTO signature_nonces (key_id, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                key_id,
                nonce,
                expires_at,
            )
            return bool(status.endswith(" 1"))

    async def purge_nonces(self, now: datetime) -> int:
        status = await self.pool.execute("DELETE FROM signature_nonces WHERE expires_at <= $1", now)
        return int(status.split()[-1])
