"""Retention on PostgreSQL: the part of :class:`~gateway.store.postgres.store.PostgresStore` that purges."""

from __future__ import annotations

from datetime import datetime

import asyncpg

_DUE = "status IN ('completed', 'rejected', 'failed', 'dead_letter') AND purged_at IS NULL AND finished_at < $1"


_BUNDLES_DUE = "status = 'completed' AND finished_at < $1 AND body <> '{\"purged\": true}'::jsonb"


async def _purge_bundles(conn: asyncpg.Connection, finished_before: datetime) -> None:
    """Completed bundles lose their body (the applicant, each step's materials) and receipt, as their steps do."""
    await conn.execute(
        "UPDATE audit_entries SET payload = NULL WHERE payload IS NOT NULL "
        f"AND request_id IN (SELECT id FROM bundles WHERE {_BUNDLES_DUE})",
        finished_before,
    )
    await conn.execute(
        f"UPDATE bundles SET body = '{{\"purged\": true}}'::jsonb, receipt = NULL WHERE {_BUNDLES_DUE}",
        finished_before,
    )


class PostgresRetention:
    """Mixed into the PostgreSQL store; uses its connection pool."""

    @property
    def pool(self) -> asyncpg.Pool:  # provided by PostgresStore
        raise NotImplementedError

    async def purge_finished(self, finished_before: datetime, *, now: datetime, limit: int) -> list[str]:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT id FROM requests WHERE {_DUE} ORDER BY finished_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
                finished_before,
                limit,
            )
            ids = [row["id"] for row in rows]
            await _purge_bundles(conn, finished_before)
            if not ids:
                return []
            await conn.execute(
                "UPDATE requests SET envelope = '{\"purged\": true}'::jsonb, result = NULL, callback_url = NULL, "
                "error = CASE WHEN error IS NULL THEN NULL ELSE jsonb_build_object('code', error->'code') END, "
                "purged_at = $1, updated_at = $1 WHERE id = ANY($2::text[])",
                now,
                ids,
            )
            await conn.execute("DELETE FROM idempotency_keys WHERE request_id = ANY($1::text[])", ids)
            await conn.execute(
                "DELETE FROM receipts WHERE request_id = ANY($1::text[])", ids
            )  # they name the applicant
            await conn.execute(
                "UPDATE audit_entries SET payload = NULL WHERE payload IS NOT NULL AND request_id = ANY($1::text[])",
                ids,
            )
        return ids

    async def count_purgeable(self, finished_before: datetime) -> int:
        return int(await self.pool.fetchval(f"SELECT count(*) FROM requests WHERE {_DUE}", finished_before))
