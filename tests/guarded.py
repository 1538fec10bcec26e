"""A gateway served the way ``onewindow serve`` serves it (the guarded runner), and raw connections to it.

The aiohttp test client speaks well-formed HTTP; these tests need clients
that do not: slow ones, half-open ones, ones whose heads break the limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.api.app import create_app
from gateway.api.guard import GuardedServer, make_runner
from gateway.core import Gateway


@dataclass
class Served:
    """The gateway on a loopback port behind the guarded runner."""

    gateway: Gateway
    runner: web.AppRunner
    port: int

    @property
    def server(self) -> GuardedServer:
        assert isinstance(self.runner.server, GuardedServer)
        return self.runner.server

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def exchange(self, raw: bytes, *, timeout_s: float = 5.0) -> tuple[int, dict[str, str], bytes]:
        """Send ``raw`` on a new connection; the status, headers and body of the answer."""
        reader, writer = await self.connect()
        try:
            writer.write(raw)
            await writer.drain()
            async with asyncio.timeout(timeout_s):
                return parse_answer(await reader.read())
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def served(gateway: Gateway) -> AsyncIterator[Served]:
    """Serve ``gateway`` on 127.0.0.1 (port 0) with its configured HTTP limits."""
    runner = make_runner(create_app(gateway), gateway.settings.http, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield Served(gateway, runner, runner.addresses[0][1])
    finally:
        await runner.cleanup()


def parse_answer(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """An HTTP/1.1 answer read to the end: status, headers (lower-case names), body."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def problem(data: tuple[int, dict[str, str], bytes]) -> dict[str, Any]:
    """The problem JSON of an answer, checked to be one."""
    status, headers, body = data
    assert headers.get("content-type", "").startswith("application/problem+json"), (status, headers, body[:200])
    document = json.loads(body)
    assert document["status"] == status and document["type"].startswith("/problems/")
    return document


async def closed_after(reader: asyncio.StreamReader, started: float, *, limit_s: float) -> tuple[float, bytes]:
    """Seconds from ``started`` until the server closed the connection (reading whatever it sent)."""
    received = b""
    async with asyncio.timeout(limit_s):
        while True:
            try:
                chunk = await reader.read(65536)
            except ConnectionError:
                break
            if not chunk:
                break
            received += chunk
    return time.monotonic() - started, received


async def trickle(writer: asyncio.StreamWriter, data: bytes, *, every_s: float, stop: asyncio.Event) -> None:
    """Send ``data`` one byte at a time until it is sent, the connection breaks, or ``stop`` is set."""
    for byte in data:
        if stop.is_set() or writer.is_closing():
            return
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(every_s):
                await stop.wait()
