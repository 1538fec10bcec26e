"""A gate in front of an agency sandbox: its calls wait until the test opens it.

Tests about a request that is "still at the agency" (a second instance must
answer 409 meanwhile) cannot get that moment from a sleep and a latency: under
load the first request may not have claimed its key when the sleep ends, or may
already be answered. The gate makes the moment a fact -- ``arrived`` proves the
first request is at the agency (so its idempotency key is claimed and its
record stored, both of which come first), and nothing is answered until
``open()``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.sandbox import CONTROL_PREFIX, SandboxSpec

HOLD_AT_MOST_S = 15.0  # a test that never opens the gate fails rather than hangs


class AgencyGate:
    """Holds every ``POST`` a sandbox receives (its control endpoints aside) while closed, as it starts."""

    def __init__(self) -> None:
        self.arrivals = 0
        self._arrived = asyncio.Event()
        self._open = asyncio.Event()

    def around(self, spec: SandboxSpec) -> SandboxSpec:
        """``spec`` with the gate in front of its routes (for ``start_gateway(sandbox_factories=...)``)."""

        def create_app(knobs: Any, **options: Any) -> web.Application:
            app = spec.create_app(knobs, **options)
            app.middlewares.append(self._hold)
            return app

        return dataclasses.replace(spec, create_app=create_app)

    async def arrived(self, timeout_s: float = HOLD_AT_MOST_S) -> None:
        """Return once a call is waiting at the gate."""
        await asyncio.wait_for(self._arrived.wait(), timeout_s)

    def open(self) -> None:
        """Let every waiting and later call through."""
        self._open.set()

    def close(self) -> None:
        """Hold later calls again; :meth:`arrived` then waits for a new one."""
        self._open.clear()
        self._arrived.clear()

    @web.middleware
    async def _hold(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method == "POST" and not request.path.startswith(CONTROL_PREFIX):
            self.arrivals += 1
            self._arrived.set()
            await asyncio.wait_for(self._open.wait(), HOLD_AT_MOST_S)
        return await handler(request)
