"""Retention on SQLite: the part of :class:`~gateway.store.sqlite.store.SQLiteStore` that purges personal data."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from gateway.store.sqlite.connection import Connection
from gateway.store.sqlite.rows import ts

_FINAL = "('completed', 'rejected', 'failed', 'dead_letter')"
_DUE = f"status IN {_FINAL} AND purged_at IS NULL AND finished_at < ?"


_BUNDLES_DUE = "status = 'completed' AND finished_at < ? AND body != '{\"purged\": true}'"


async def _purge_bundles(db: Connection, finished_before: datetime) -> None:
    """Completed bundles lose their body (the applicant, each step's materials) and receipt, as their steps do."""
    await db.execute(
        f"UPDATE audit_entries SET payload = NULL WHERE payload IS NOT NULL "
        f"AND request_id IN (SELECT id FROM bundles WHERE {_BUNDLES_DUE})",
        (ts(finished_before),),
    )
    await db.execute(
        f"UPDATE bundles SET body = '{{\"purged\": true}}', receipt = NULL WHERE {_BUNDLES_DUE}",
        (ts(finished_before),),
    )


class SQLiteRetention:
    """Mixed into the SQLite store; uses its write transaction and its reader."""

    def transaction(self, *, single: bool = False) -> AbstractAsyncContextManager[Connection]:  # SQLiteStore's
        raise NotImplementedError

    async def read_row(self, sql: str, params: Any = (), *, tuples: bool = False) -> Any:  # provided by SQLiteStore
        raise NotImplementedError

    async def purge_finished(self, finished_before: datetime, *, now: datetime, limit: int) -> list[str]:
        async with self.transaction() as db:
            cursor = await db.execute(
                f"SELECT id FROM requests WHERE {_DUE} ORDER BY finished_at, id LIMIT ?", (ts(finished_before), limit)
            )
            ids = [row[0] for row in await cursor.fetchall()]
            await _purge_bundles(db, finished_before)
            if not ids:
                return []
            marks = ", ".join("?" for _ in ids)
            await db.execute(
                "UPDATE requests SET envelope = '{\"purged\": true}', result = NULL, callback_url = NULL, "
                "error = CASE WHEN error IS NULL THEN NULL "
                "ELSE json_object('code', json_extract(error, '$.code')) END, "
                f"purged_at = ?, updated_at = ? WHERE id IN ({marks})",
                (ts(now), ts(now), *ids),
            )
            await db.execute(f"DELETE FROM idempotency_keys WHERE request_id IN ({marks})", ids)
            await db.execute(f"DELETE FROM receipts WHERE request_id IN ({marks})", ids)  # they name the applicant
            await db.execute(
                f"UPDATE audit_entries SET payload = NULL WHERE payload IS NOT NULL AND request_id IN ({marks})", ids
            )
        return ids

    async def count_purgeable(self, finished_before: datetime) -> int:
        row = await self.read_row(f"SELECT count(*) FROM requests WHERE {_DUE}", (ts(finished_before),))
        return int(row[0])
