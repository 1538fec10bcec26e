"""Idempotency keys on PostgreSQL: the part of :class:`~gateway.store.postgres.store.PostgresStore` that claims them.

Row locks make a claim atomic across gateway processes: the insert of a new
key waits for a concurrent insert of the same key to commit, and an existing
key is read ``FOR UPDATE``.

The answer given under a key is written with the next barrier (the flush
awaited before the answer leaves: :mod:`gateway.store.postgres.barrier`), in
the barrier's own statement, rather than in a statement of its own; a claim
of a key whose answer still waits for it flushes first, so this process
reads its own answers back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from gateway.errors import StoreError
from gateway.store.base import ClaimState, IdempotencyClaim, LostKey
from gateway.store.json_documents import json_bytes
from gateway.store.postgres.barrier import Barrier
from gateway.store.postgres.statements import Statements

_INSERT_KEY = (
    "WITH lost AS (SELECT request_id, request_digest FROM lost_requests "
    "WHERE caller_id = $1 AND key_digest = $8::text LIMIT 1), "
    "ins AS (INSERT INTO idempotency_keys (caller_id, key, body_digest, request_id, state, created_at, "
    "expires_at, lease_until) SELECT $1::text, $2::text, $3::text, $4::text, 'in_flight', $5::timestamptz, "
    "$6::timestamptz, $7::timestamptz "
    "WHERE NOT EXISTS (SELECT 1 FROM lost) ON CONFLICT (caller_id, key) DO NOTHING RETURNING 1) "
    "SELECT (SELECT count(*) FROM ins) AS inserted, lost.request_id, lost.request_digest "
    "FROM (SELECT 1) AS one LEFT JOIN lost ON true"
)
"""The key inserted as in flight unless it is there or a restore lost its request; one row either way."""


class PostgresIdempotency:
    """Mixed into the PostgreSQL store; uses its connection pool."""

    barrier: Barrier | None  # provided by PostgresStore

    @property
    def pool(self) -> asyncpg.Pool:  # provided by PostgresStore
        raise NotImplementedError

    @property
    def statements(self) -> Statements:  # provided by PostgresStore
        raise NotImplementedError

    async def durable(self) -> None:  # provided by PostgresStore
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
        lost_key_digest: str | None = None,
    ) -> IdempotencyClaim:
        # A new key (the usual case) is one statement, its own transaction, which also looks the key up in
        # the register of lost requests; a key already there is looked at under its row lock, an expired one
        # removed first. An answer under the key still waiting for the next barrier is written first.
        if self.barrier is not None and self.barrier.holds(caller_id, key):
            await self.durable()

        async def insert(db: Statements | asyncpg.Connection, lost_digest: str | None) -> tuple[bool, LostKey | None]:
            """Insert the key as in flight unless it is there (waits for a concurrent insert of it) or
            ``lost_digest`` names a request a restore lost (then nothing is inserted): whether it was new,
            and the lost request. One statement."""
            row = await db.fetchrow(
                _INSERT_KEY, caller_id, key, body_digest, request_id, now, expires_at, lease_until, lost_digest
            )
            assert row is not None  # the outer SELECT always yields one row
            lost = None if row["request_id"] is None else LostKey(row["request_id"], row["request_digest"])
            return bool(row["inserted"]), lost

        inserted, lost = await insert(self.statements, lost_key_digest)
        if lost is not None:
            return IdempotencyClaim(ClaimState.LOST, lost.request_id, lost=lost)
        if inserted:
            return IdempotencyClaim(ClaimState.NEW, request_id)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE caller_id = $1 AND key = $2 AND expires_at <= $3",
                caller_id,
                key,
                now,
            )
            inserted, _ = await insert(conn, None)
            if inserted:
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
        state = "retryable" if retryable else "done"
        if self.barrier is not None:  # written in the next barrier's transaction, before the answer leaves
            self.barrier.finish_key(caller_id, key, (state, status_code, json_bytes(response).decode()))
            return
        await self.pool.execute(
            "UPDATE idempotency_keys SET state = $1, status_code = $2, response = $3 WHERE caller_id = $4 AND key = $5",
            state,
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
