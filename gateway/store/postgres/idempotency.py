"""Idempotency keys on PostgreSQL: the part of :class:`~gateway.store.postgres.store.PostgresStore` that claims them.

Row locks make a claim atomic across gateway processes: the insert of a new
key waits for a concurrent insert of the same key to commit, and an existing
key is read ``FOR UPDATE``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from gateway.errors import StoreError
from gateway.store.base import ClaimState, IdempotencyClaim, LostKey


class PostgresIdempotency:
    """Mixed into the PostgreSQL store; uses its connection pool."""

    @property
    def pool(self) -> asyncpg.Pool:  # provided by PostgresStore
        raise NotImplementedError

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
    ) -> IdempotencyClaim:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE caller_id = $1 AND key = $2 AND expires_at <= $3",
                caller_id,
                key,
                now,
            )
            inserted = await conn.execute(
                "INSERT INTO idempotency_keys (caller_id, key, body_digest, request_id, state, created_at, "
                "expires_at, lease_until) VALUES ($1, $2, $3, $4, 'in_flight', $5, $6, $7) "
                "ON CONFLICT (caller_id, key) DO NOTHING",
                caller_id,
                key,
                body_digest,
                request_id,
                now,
                expires_at,
                lease_until,
            )
            if inserted.endswith(" 1"):
                return IdempotencyClaim(ClaimState.NEW, request_id)
            row = await conn.fetchrow(
                "SELECT * FROM idempotency_keys WHERE caller_id = $1 AND key = $2 FOR UPDATE", caller_id, key
            )
            if row is None:  # deleted by a concurrent purge between our two statements
                raise StoreError("idempotency key vanished while being claimed; retry")
            if row["body_digest"] != body_digest:
                return IdempotencyClaim(ClaimState.MISMATCH, row["request_id"])
            if row["state"] == "done":
                stored = row["response"]
                return IdempotencyClaim(
                    ClaimState.REPLAY, row["request_id"], row["status_code"], stored["body"], stored["headers"]
                )
            if row["state"] == "in_flight" and row["lease_until"] > now:
                return IdempotencyClaim(ClaimState.IN_FLIGHT, row["request_id"])
            await conn.execute(
                "UPDATE idempotency_keys SET state = 'in_flight', lease_until = $1 WHERE caller_id = $2 AND key = $3",
                lease_until,
                caller_id,
                key,
            )
            return IdempotencyClaim(ClaimState.RESUME, row["request_id"])

    async def finish_idempotency_key(
        self, caller_id: str, key: str, *, status_code: int, response: dict[str, Any], retryable: bool
    ) -> None:
        await self.pool.execute(
            "UPDATE idempotency_keys SET state = $1, status_code = $2, response = $3 WHERE caller_id = $4 AND key = $5",
            "retryable" if retryable else "done",
            status_code,
            response,
            caller_id,
            key,
        )

    async def lost_key(self, caller_id: str, key_digest: str) -> LostKey | None:
        row = await self.pool.fetchrow(
            "SELECT request_id, request_digest FROM lost_requests WHERE caller_id = $1 AND key_digest = $2",
            caller_id,
            key_digest,
        )
        return None if row is None else LostKey(row[0], row[1])

    async def purge_idempotency_keys(self, now: datetime) -> int:
        status = await self.pool.execute("DELETE FROM idempotency_keys WHERE expires_at <= $1", now)
        return int(status.split()[-1])

    async def release_idempotency_leases(self, now: datetime) -> int:
        status = await self.pool.execute(
            "UPDATE idempotency_keys SET lease_until = $1 WHERE state = 'in_flight' AND lease_until > $1", now
        )
        return int(status.split()[-1])
