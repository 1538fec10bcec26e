"""Bundles on SQLite: the part of :class:`~gateway.store.sqlite.store.SQLiteStore` that keeps chained items."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from gateway.store.base import BUNDLE_FIELDS, BUNDLE_UPDATABLE, BundleRecord, BundleStatus, utcnow
from gateway.store.sqlite.connection import Connection
from gateway.store.sqlite.rows import dt, json_text, json_value, ts

_JSON = ("body", "steps", "receipt", "error")
_TIMES = ("created_at", "updated_at", "finished_at")
_COLUMNS = (
    "id", "caller_id", "chain", "office", "operator", "channel", "status",
    "body", "steps", "receipt", "error", "created_at", "updated_at", "finished_at",
)  # fmt: skip


def _value(name: str, value: Any) -> Any:
    if name in _JSON:
        return None if value is None else json_text(value)
    if name in _TIMES:
        return ts(value)
    if name == "status":
        return str(BundleStatus(value))
    return value


def bundle_of(row: sqlite3.Row) -> BundleRecord:
    data = {k: v for k, v in dict(row).items() if k in BUNDLE_FIELDS}  # columns of a later release: ignored
    for column in _JSON:
        data[column] = None if data[column] is None else json_value(data[column])
    for column in _TIMES:
        data[column] = dt(data[column])
    data["status"] = BundleStatus(data["status"])
    return BundleRecord(**data)


class SQLiteBundles:
    """Mixed into the SQLite store; uses its write transaction."""

    def transaction(self, *, single: bool = False) -> AbstractAsyncContextManager[Connection]:  # SQLiteStore's
        raise NotImplementedError

    async def read_one(self, sql: str, params: Sequence[Any] = (), *, tuples: bool = False) -> Any | None:
        raise NotImplementedError  # provided by SQLiteStore

    async def read(self, sql: str, params: Sequence[Any] = (), *, tuples: bool = False) -> list[Any]:
        raise NotImplementedError  # provided by SQLiteStore

    async def insert_bundle(self, record: BundleRecord) -> bool:
        async with self.transaction() as db:
            cursor = await db.execute(
                f"INSERT OR IGNORE INTO bundles ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})",
                [_value(c, getattr(record, c)) for c in _COLUMNS],
            )
            if cursor.rowcount != 1:
                return False
            await db.executemany(
                "INSERT INTO bundle_steps (request_id, bundle_id, position) VALUES (?, ?, ?)",
                [(step["request_id"], record.id, n) for n, step in enumerate(record.steps, start=1)],
            )
            return True

    async def get_bundle(self, bundle_id: str) -> BundleRecord | None:
        row = await self.read_one("SELECT * FROM bundles WHERE id = ?", (bundle_id,))
        return None if row is None else bundle_of(row)

    async def update_bundle(
        self, bundle_id: str, *, expect: Collection[BundleStatus] | None = None, **changes: Any
    ) -> bool:
        unknown = set(changes) - BUNDLE_UPDATABLE
        if unknown:
            raise ValueError(f"cannot update bundle field(s) {sorted(unknown)}")
        changes.setdefault("updated_at", utcnow())
        params = [_value(name, value) for name, value in changes.items()]
        sql = f"UPDATE bundles SET {', '.join(f'{name} = ?' for name in changes)} WHERE id = ?"
        where: list[Any] = [bundle_id]
        if expect is not None:
            sql += f" AND status IN ({', '.join('?' for _ in expect)})"
            where.extend(str(BundleStatus(s)) for s in expect)
        async with self.transaction(single=True) as db:
            cursor = await db.execute(sql, (*params, *where))
            return cursor.rowcount == 1

    async def list_bundles(self, *, statuses: Collection[BundleStatus], limit: int = 100) -> list[BundleRecord]:
        wanted = [str(BundleStatus(s)) for s in statuses]
        if not wanted:
            return []
        rows = await self.read(
            f"SELECT * FROM bundles WHERE status IN ({', '.join('?' for _ in wanted)}) ORDER BY id LIMIT ?",
            (*wanted, limit),
        )
        return [bundle_of(row) for row in rows]

    async def bundle_of_request(self, request_id: str) -> str | None:
        row = await self.read_one("SELECT bundle_id FROM bundle_steps WHERE request_id = ?", (request_id,))
        return None if row is None else str(row["bundle_id"])
