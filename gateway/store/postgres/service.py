"""Service promises on PostgreSQL: overdue requests and sealed acceptance receipts (part of the store)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from gateway.store.base import RECORD_FIELDS, RequestRecord, RequestStatus

_OVERDUE = "finished_at IS NULL AND due_on IS NOT NULL AND due_on < $1 AND status NOT IN " + (
    "('completed', 'rejected', 'failed', 'dead_letter')"
)


def _record(row: asyncpg.Record) -> RequestRecord:
    data = {k: v for k, v in dict(row).items() if k in RECORD_FIELDS}
    data["status"] = RequestStatus(data["status"])
    return RequestRecord(**data)


class PostgresService:
    """Mixed into the PostgreSQL store; uses its connection pool."""

    @property
    def pool(self) -> asyncpg.Pool:  # provided by PostgresStore
        raise NotImplementedError

    async def list_overdue(self, today: str, *, office: str | None = None, limit: int = 1000) -> list[RequestRecord]:
        if office is None:
            rows = await self.pool.fetch(
                f"SELECT * FROM requests WHERE {_OVERDUE} ORDER BY due_on, id LIMIT $2", today, limit
            )
        else:
            rows = await self.pool.fetch(
                f"SELECT * FROM requests WHERE {_OVERDUE} AND office = $2 ORDER BY due_on, id LIMIT $3",
                today,
                office,
                limit,
            )
        return [_record(row) for row in rows]

    async def count_overdue(self, today: str) -> dict[tuple[str, str], int]:
        rows = await self.pool.fetch(
            f"SELECT office, item, count(*) AS n FROM requests WHERE {_OVERDUE} GROUP BY office, item", today
        )
        return {(row["office"], row["item"]): int(row["n"]) for row in rows}

    async def add_receipt(self, request_id: str, version: int, document: dict[str, Any], *, now: datetime) -> bool:
        status = await self.pool.execute(
            "INSERT INTO receipts (request_id, version, document, created_at) VALUES ($1, $2, $3::jsonb, $4) "
            "ON CONFLICT (request_id, version) DO NOTHING",
            request_id,
            version,
            document,
            now,
        )
        return bool(status.endswith(" 1"))

    async def receipts(self, request_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch("SELECT document FROM receipts WHERE request_id = $1 ORDER BY version", request_id)
        return [row["document"] for row in rows]
