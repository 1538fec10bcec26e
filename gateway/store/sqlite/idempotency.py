"""Idempotency keys on SQLite: the part of :class:`~gateway.store.sqlite.store.SQLiteStore` that claims them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from gateway.store.base import ClaimState, IdempotencyClaim, LostKey
from gateway.store.sqlite.connection import Connection
from gateway.store.sqlite.rows import dt, json_text, json_value, ts


class SQLiteIdempotency:
    """Mixed into the SQLite store; uses its write transaction."""

    def transaction(self, *, single: bool = False) -> AbstractAsyncContextManager[Connection]:  # SQLiteStore's
        raise NotImplementedError

    async def read_one(self, sql: str, params: Sequence[Any] = (), *, tuples: bool = False) -> Any | None:
        raise NotImplementedError  # provided by SQLiteStore

    async def claim_idempotency_key(
        self,
        caller_id: str,
        key: str,
        *,
        body_digest: str,
        request_id: str,
        now: datetime,
        expires_at: datetime,
        lease_until: datetime,
        lost_key_digest: str | None = None,
    ) -> IdempotencyClaim:
        async with self.transaction() as db:
            # The key and the register of lost requests in one statement: a key that lost nothing (the usual
            # case) costs no look-up of its own.
            cursor = await db.execute(
                "SELECT k.*, l.request_id AS lost_request_id, l.request_digest AS lost_request_digest "
                "FROM (SELECT 1) LEFT JOIN idempotency_keys k ON k.caller_id = ? AND k.key = ? "
                "LEFT JOIN lost_requests l ON l.caller_id = ? AND l.key_digest = ?",
                (caller_id, key, caller_id, lost_key_digest),
            )
            row = (await cursor.fetchall())[0]
            if row["lost_request_id"] is not None:
                lost = LostKey(row["lost_request_id"], row["lost_request_digest"])
                return IdempotencyClaim(ClaimState.LOST, lost.request_id, lost=lost)
            if row["state"] is None:  # no such key
                row = None
            if row is not None and dt(row["expires_at"]) <= now:
                await db.execute("DELETE FROM idempotency_keys WHERE caller_id = ? AND key = ?", (caller_id, key))
                row = None
            if row is None:
                await db.execute(
                    "INSERT INTO idempotency_keys (caller_id, key, body_digest, request_id, state, "
                    "created_at, expires_at, lease_until) VALUES (?, ?, ?, ?, 'in_flight', ?, ?, ?)",
                    (caller_id, key, body_digest, request_id, ts(now), ts(expires_at), ts(lease_until)),
                )
                return IdempotencyClaim(ClaimState.NEW, request_id)
            if row["body_digest"] != body_digest:
                return IdempotencyClaim(ClaimState.MISMATCH, row["request_id"])
            if row["state"] == "done":
                stored = json_value(row["response"])
                return IdempotencyClaim(
                    ClaimState.REPLAY, row["request_id"], row["status_code"], stored["body"], stored["headers"]
                )
            if row["state"] == "in_flight" and dt(row["lease_until"]) > now:
                return IdempotencyClaim(ClaimState.IN_FLIGHT, row["request_id"])
            await db.execute(
                "UPDATE idempotency_keys SET state = 'in_flight', lease_until = ? WHERE caller_id = ? AND key = ?",
                (ts(lease_until), caller_id, key),
            )
            return IdempotencyClaim(ClaimState.RESUME, row["request_id"])

    async def finish_idempotency_key(
        self, caller_id: str, key: str, *, status_code: int, response: dict[str, Any], retryable: bool
    ) -> None:
        async with self.transaction(single=True) as db:
            await db.execute(
                "UPDATE idempotency_keys SET state = ?, status_code = ?, response = ? WHERE caller_id = ? AND key = ?",
                (
                    "retryable" if retryable else "done",
                    status_code,
                    json_text(response),
                    caller_id,
                    key,
                ),
            )

    async def lost_key(self, caller_id: str, key_digest: str) -> LostKey | None:
        row = await self.read_one(
            "SELECT request_id, request_digest FROM lost_requests WHERE caller_id = ? AND key_digest = ?",
            (caller_id, key_digest),
            tuples=True,
        )
        return None if row is None else LostKey(row[0], row[1])

    async def purge_idempotency_keys(self, now: datetime) -> int:
        async with self.transaction() as db:
            cursor = await db.execute("DELETE FROM idempotency_keys WHERE expires_at <= ?", (ts(now),))
            return cursor.rowcount

    async def release_idempotency_leases(self, now: datetime) -> int:
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE idempotency_keys SET lease_until = ? WHERE state = 'in_flight' AND lease_until > ?",
                (ts(now), ts(now)),
            )
            return cursor.rowcount
