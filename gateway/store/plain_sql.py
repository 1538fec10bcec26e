"""Plain SQL on either backend, for rooms with tables of their own (ratings, the district report).

The request tables are behind :class:`~gateway.store.Store`'s domain methods;
a room that owns a few tables of its own writes its SQL once, with ``?``
placeholders, and runs it on the store's own connections through
:class:`Tables`: on PostgreSQL the placeholders become ``$n``, on SQLite
times and JSON become text on the way in and come back as aware datetimes
and objects on the way out, so both backends answer with the same values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

_PLACEHOLDER = re.compile(r"\?")


class Tables:
    """SQL over an open store's connections, the same values on SQLite and PostgreSQL.

    ``times`` and ``json`` name the result columns to turn back into
    datetimes and objects (SQLite stores them as text; PostgreSQL's
    ``TIMESTAMPTZ`` and ``JSONB`` already come back that way).
    """

    def __init__(self, store: Any) -> None:
        if store.backend not in ("sqlite", "postgres"):
            raise ValueError(f"no plain SQL for the {store.backend} store")
        self.store = store
        self.postgres = store.backend == "postgres"

    def _sql(self, sql: str) -> str:
        if not self.postgres:
            return sql
        counter = iter(range(1, 10_000))
        return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)

    def _param(self, value: Any) -> Any:
        if self.postgres:
            return value
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("the store only takes timezone-aware datetimes")
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        if isinstance(value, (list, dict)):
            return json.dumps(value, ensure_ascii=False)
        return value

    def _row(self, row: Any, times: Sequence[str], json_columns: Sequence[str]) -> dict[str, Any]:
        data = dict(row)
        if self.postgres:
            return data
        for column in times:
            if isinstance(data.get(column), str):
                data[column] = datetime.fromisoformat(data[column])
        for column in json_columns:
            if isinstance(data.get(column), str):
                data[column] = json.loads(data[column])
        return data

    async def rows(
        self, sql: str, *params: Any, times: Sequence[str] = (), json: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Every row of one query, as dicts (one committed snapshot on each backend)."""
        values = [self._param(p) for p in params]
        if self.postgres:
            found = await self.store.pool.fetch(self._sql(sql), *values)
        else:
            found = await self.store.read(sql, values, large=True)  # reports and listings: off the loop
        return [self._row(row, times, json) for row in found]

    async def scalar(self, sql: str, *params: Any) -> Any:
        """The first column of the first row of one query (None when there is no row)."""
        rows = await self.rows(sql, *params)
        return next(iter(rows[0].values())) if rows else None

    async def write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run ``(sql, params)`` statements in one transaction; the rows each changed, in order."""
        counts: list[int] = []
        if self.postgres:
            async with self.store.pool.acquire() as conn, conn.transaction():
                for sql, params in statements:
                    status = await conn.execute(self._sql(sql), *params)
                    tail = status.rsplit(" ", 1)[-1]
                    counts.append(int(tail) if tail.isdigit() else 0)
            return counts
        async with self.store.transaction() as db:
            for sql, params in statements:
                cursor = await db.execute(sql, [self._param(p) for p in params])
                counts.append(cursor.rowcount)
        return counts
