"""Callers' signing keys and signature nonces on SQLite: part of the SQLite store."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from gateway.store.base import StoredCallerKey
from gateway.store.sqlite.connection import Connection
from gateway.store.sqlite.rows import dt, ts

_COLUMNS = "key_id, caller_id, alg, public_key, sealed_secret, created_at, retired_at"


def _key(row: Sequence[Any]) -> StoredCallerKey:
    return StoredCallerKey(row[0], row[1], row[2], row[3], row[4], dt(row[5]), dt(row[6]))


class SQLiteCallerKeys:
    """Mixed into the SQLite store; uses its write transaction and its reader."""

    def transaction(self, *, single: bool = False) -> AbstractAsyncContextManager[Connection]:  # SQLiteStore's
        raise NotImplementedError

    async def read(self, sql: str, params: Sequence[Any] = (), *, tuples: bool = False) -> list[Any]:
        raise NotImplementedError  # provided by SQLiteStore

    async def add_caller_key(self, key: StoredCallerKey, *, max_active: int) -> bool:
        async with self.transaction() as db:
            cursor = await db.execute(
                "SELECT COUNT(*) FROM caller_keys WHERE caller_id = ? AND retired_at IS NULL", (key.caller_id,)
            )
            row = await cursor.fetchone()
            if row is not None and row[0] >= max_active:
                return False
            await db.execute(
                f"INSERT INTO caller_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key.key_id, key.caller_id, key.alg, key.public_key, key.sealed_secret, ts(key.created_at), None),
            )
            return True

    async def caller_key(self, key_id: str) -> StoredCallerKey | None:
        rows = await self.read(f"SELECT {_COLUMNS} FROM caller_keys WHERE key_id = ?", (key_id,), tuples=True)
        return _key(rows[0]) if rows else None

    async def caller_keys(self, caller_id: str | None = None) -> list[StoredCallerKey]:
        where, params = ("WHERE caller_id = ?", (caller_id,)) if caller_id is not None else ("", ())
        rows = await self.read(
            f"SELECT {_COLUMNS} FROM caller_keys {where} ORDER BY created_at, key_id", params, tuples=True
        )
        return [_key(row) for row in rows]

    async def retire_caller_key(self, caller_id: str, key_id: str, *, now: datetime) -> bool:
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE caller_keys SET retired_at = ? WHERE caller_id = ? AND key_id = ? AND retired_at IS NULL",
                (ts(now), caller_id, key_id),
            )
            return cursor.rowcount == 1

    async def remember_nonce(self, key_id: str, nonce: str, *, now: datetime, expires_at: datetime) -> bool:
        async with self.transaction() as db:
            await db.execute(
                "DELETE FROM signature_nonces WHERE key_id = ? AND nonce = ? AND expires_at <= ?",
                (key_id, nonce, ts(now)),
            )
            cursor = await db.execute(
                "INSERT INTO signature_nonces (key_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (key_id, nonce, ts(expires_at)),
            )
            return cursor.rowcount == 1

    async def purge_nonces(self, now: datetime) -> int:
        async with self.transaction() as db:
            cursor = await db.execute("DELETE FROM signature_nonces WHERE expires_at <= ?", (ts(now),))
            return cursor.rowcount
