"""Bundles on PostgreSQL: the part of :class:`~gateway.store.postgres.store.PostgresStore` that keeps chained items."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg

from gateway.store.base import BUNDLE_FIELDS, BUNDLE_UPDATABLE, BundleRecord, BundleStatus, utcnow

_COLUMNS = (
    "id", "caller_id", "chain", "office", "operator", "channel", "status",
    "body", "steps", "receipt", "error", "created_at", "updated_at", "finished_at",
)  # fmt: skip


def _bundle(row: asyncpg.Record) -> BundleRecord:
    data = {k: v for k, v in dict(row).items() if k in BUNDLE_FIELDS}  # columns of a later release: ignored
    data["status"] = BundleStatus(data["status"])
    return BundleRecord(**data)


class PostgresBundles:
    """Mixed into the PostgreSQL store; uses its connection pool."""

    @property
    def pool(self) -> asyncpg.Pool:  # provided by PostgresStore
        raise NotImplementedError

    async def insert_bundle(self, record: BundleRecord) -> bool:
        values = [getattr(record, c) for c in _COLUMNS]
        values[_COLUMNS.index("status")] = str(record.status)
        marks = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                f"INSERT INTO bundles ({', '.join(_COLUMNS)}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING", *values
            )
            if not status.endswith(" 1"):
                return False
            await conn.executemany(
                "INSERT INTO bundle_steps (request_id, bundle_id, position) VALUES ($1, $2, $3)",
                [(step["request_id"], record.id, n) for n, step in enumerate(record.steps, start=1)],
            )
        return True

    async def get_bundle(self, bundle_id: str) -> BundleRecord | None:
        row = await self.pool.fetchrow("SELECT * FROM bundles WHERE id = $1", bundle_id)
        return None if row is None else _bundle(row)

    async def update_bundle(
        self, bundle_id: str, *, expect: Collection[BundleStatus] | None = None, **changes: Any
    ) -> bool:
        unknown = set(changes) - BUNDLE_UPDATABLE
        if unknown:
            raise ValueError(f"cannot update bundle field(s) {sorted(unknown)}")
        changes.setdefault("updated_at", utcnow())
        if "status" in changes:
            changes["status"] = str(BundleStatus(changes["status"]))
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=1))
        sql = f"UPDATE bundles SET {assignments} WHERE id = ${len(changes) + 1}"
        params: list[Any] = [*changes.values(), bundle_id]
        if expect is not None:
            params.append([str(BundleStatus(s)) for s in expect])
            sql += f" AND status = ANY(${len(params)}::text[])"
        status = await self.pool.execute(sql, *params)
        return bool(status.endswith(" 1"))

    async def list_bundles(self, *, statuses: Collection[BundleStatus], limit: int = 100) -> list[BundleRecord]:
        rows = await self.pool.fetch(
            "SELECT * FROM bundles WHERE status = ANY($1::text[]) ORDER BY id LIMIT $2",
            [str(BundleStatus(s)) for s in statuses],
            limit,
        )
        return [_bundle(row) for row in rows]

    async def bundle_of_request(self, request_id: str) -> str | None:
        found = await self.pool.fetchval("SELECT bundle_id FROM bundle_steps WHERE request_id = $1", request_id)
        return None if found is None else str(found)
