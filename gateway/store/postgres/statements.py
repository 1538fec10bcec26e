"""Single statements on connections of their own: the intake path's steps without the pool's bookkeeping.

Each step of an intake call on PostgreSQL is one statement, its own
transaction (the key's claim, the request and its outbox row, the status
read, the settling move, the audit log's compare-and-set). asyncpg's pool
wraps every one of them in a connection proxy, a timeout scope and a task
of its own to release the connection: measured at 32 concurrent tasks,
``SELECT 1`` costs the event loop 80 µs through the pool and 47 µs here.
:class:`Statements` keeps idle connections in a list and hands a freed one
to the first waiter; nothing else.

A connection goes back to the list only after a statement that completed,
or that the server refused (an error it reported; the connection is then
outside any transaction, as a single statement leaves it). After anything
else -- a broken socket, a call cancelled mid-statement -- it is closed and
its place is free for a new one, so no statement ever runs on a connection
in an unknown state. Transactions of several statements stay on the pool.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from gateway.errors import StoreError


class Statements:
    """Up to ``size`` connections for single statements, opened when first needed."""

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], size: int) -> None:
        self._connect = connect
        self.size = size
        self.opened = 0  # connections open now (idle or running a statement)
        self._idle: list[asyncpg.Connection] = []
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._closed = False

    async def execute(self, query: str, *args: Any) -> str:
        status: str = await self._run("execute", query, args)
        return status

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run("fetch", query, args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run("fetchrow", query, args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run("fetchval", query, args)

    async def _run(self, method: str, query: str, args: tuple[Any, ...]) -> Any:
        conn = await self._take()
        try:
            result = await getattr(conn, method)(query, *args)
        except asyncpg.PostgresError:
            self._put(conn)  # refused by the server, which said so: the connection is as it was (unless closed)
            raise
        except BaseException:
            self._discard(conn)  # a broken socket, a cancelled call: the connection's state is unknown
            raise
        self._put(conn)
        return result

    async def _take(self) -> asyncpg.Connection:
        while True:
            if self._closed:
                raise StoreError("the PostgreSQL store is closed")
            if self._idle:
                conn = self._idle.pop()
                if not conn.is_closed():
                    return conn
                self._discard(conn)  # the server closed it while idle (a restart, a terminated backend)
                continue
            if self.opened < self.size:
                self.opened += 1
                try:
                    return await self._connect()
                except BaseException:
                    self.opened -= 1
                    self._give(None)
                    raise
            waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                conn = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._give(waiter.result())  # handed over as this call was cancelled: pass it on
                raise
            if conn is not None and not conn.is_closed():
                return conn
            if conn is not None:
                self._discard(conn)
            # a connection was closed, its place is free: open one

    def _give(self, conn: asyncpg.Connection | None) -> None:
        """A connection (or, with None, a free place for one) to the first waiter, else to the idle list."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            self._idle.append(conn)

    def _put(self, conn: asyncpg.Connection) -> None:
        if self._closed or conn.is_closed():
            self._discard(conn)
        else:
            self._give(conn)

    def _discard(self, conn: asyncpg.Connection) -> None:
        conn.terminate()
        self.opened -= 1
        if not self._closed:
            self._give(None)

    async def close(self) -> None:
        """Close the idle connections (those running a statement close when it ends); refuse new statements."""
        self._closed = True
        idle, self._idle = self._idle, []
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(StoreError("the PostgreSQL store is closed"))
        self._waiters.clear()
        for conn in idle:
            self.opened -= 1
            try:
                await asyncio.wait_for(conn.close(), 5)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()
