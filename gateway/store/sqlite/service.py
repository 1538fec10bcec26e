"""Service promises on SQLite: overdue requests and sealed acceptance receipts (part of the SQLite store)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from gateway.store.base import RequestRecord
from gateway.store.sqlite.connection import Connection
from gateway.store.sqlite.rows import json_text, json_value, record_of, ts

_OVERDUE = "finished_at IS NULL AND due_on IS NOT NULL AND due_on < ? AND status NOT IN " + (
    "('completed', 'rejected', 'failed', 'dead_letter')"
)


class SQLiteService:
    """Mixed into the SQLite store; uses its write transaction and its reader."""

    def transaction(self, *, single: bool = False) -> AbstractAsyncContextManager[Connection]:  # SQLiteStore's
        raise NotImplementedError

    async def read(
        self, sql: str, params: Any = (), *, tuples: bool = False, large: bool = False
    ) -> list[Any]:  # provided by SQLiteStore
        raise NotImplementedError

    async def list_overdue(self, today: str, *, office: str | None = None, limit: int = 1000) -> list[RequestRecord]:
        where, params = _OVERDUE, [today]
        if office is not None:
            where += " AND office = ?"
            params.append(office)
        rows = await self.read(
            f"SELECT * FROM requests WHERE {where} ORDER BY due_on, id LIMIT ?", (*params, limit), large=True
        )
        return [record_of(row) for row in rows]

    async def count_overdue(self, today: str) -> dict[tuple[str, str], int]:
        rows = await self.read(
            f"SELECT office, item, count(*) FROM requests WHERE {_OVERDUE} GROUP BY office, item",
            (today,),
            tuples=True,
            large=True,
        )
        return {(office, item): int(count) for office, item, count in rows}

    async def add_receipt(self, request_id: str, version: int, document: dict[str, Any], *, now: datetime) -> bool:
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO receipts (request_id, version, document, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (request_id, version) DO NOTHING",
                (request_id, version, json_text(document), ts(now)),
            )
            return cursor.rowcount == 1

    async def receipts(self, request_id: str) -> list[dict[str, Any]]:
        rows = await self.read(
            "SELECT document FROM receipts WHERE request_id = ? ORDER BY version", (request_id,), tuples=True
        )
        return [json_value(row[0]) for row in rows]
