"""The sandbox application: fault injection around an agency's routes, and ``/_sandbox`` control.

Tests turn the knobs at run time through ``PUT /_sandbox/faults``, read the
ledger from ``GET /_sandbox/stats`` and start afresh with
``POST /_sandbox/reset``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.sandbox.faults import FaultKnobs, default_garbage, reset_connection
from gateway.sandbox.ledger import SubmissionLedger

CONTROL_PREFIX = "/_sandbox"
Renderer = Callable[[web.Request], web.StreamResponse]
ResetHook = Callable[[], Awaitable[None] | None]

KNOBS: web.AppKey[FaultKnobs] = web.AppKey("sandbox_knobs", FaultKnobs)
LEDGER: web.AppKey[SubmissionLedger] = web.AppKey("sandbox_ledger", SubmissionLedger)
SANDBOX_NAME: web.AppKey[str] = web.AppKey("sandbox_name", str)


def sandbox_application(
    *,
    knobs: FaultKnobs,
    ledger: SubmissionLedger,
    unavailable: Renderer,
    malformed: Renderer = default_garbage,
    name: str = "sandbox",
    on_reset: ResetHook | None = None,
) -> web.Application:
    """An aiohttp application with fault injection and the control endpoints.

    ``unavailable`` renders the agency's own "system down" answer (its
    status code and body format); ``malformed`` renders garbage in a way
    typical of that agency. ``on_reset`` (sync or async) clears the
    sandbox's own state -- issued tokens, replay caches, open cases -- when
    ``POST /_sandbox/reset`` is called, so a test starts from scratch.
    Add the agency's routes to the returned app.
    """

    @web.middleware
    async def faults(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000)
        if knobs.maintenance or knobs.flapped_down() or knobs.roll(knobs.error_rate):
            return unavailable(request)
        if knobs.roll(knobs.reset_rate):
            reset_connection(request)
            raise asyncio.CancelledError  # the connection is gone; stop handling
        if knobs.roll(knobs.stall_rate):
            await asyncio.sleep(knobs.stall_seconds)
        if knobs.roll(knobs.malformed_rate):
            return malformed(request)
        return await handler(request)

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response(knobs.public())

    async def put_faults(request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of knob: value")
            knobs.update(changes)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(knobs.public())

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(ledger.stats())

    async def post_reset(request: web.Request) -> web.Response:
        ledger.reset()
        knobs.update({k: v for k, v in FaultKnobs(seed=knobs.seed).public().items()})
        if on_reset is not None:
            cleared = on_reset()
            if asyncio.iscoroutine(cleared):
                await cleared
        return web.json_response({"reset": True})

    app = web.Application(middlewares=[faults])
    app[SANDBOX_NAME] = name
    app[KNOBS] = knobs
    app[LEDGER] = ledger
    app.router.add_get(f"{CONTROL_PREFIX}/faults", get_faults)
    app.router.add_put(f"{CONTROL_PREFIX}/faults", put_faults)
    app.router.add_get(f"{CONTROL_PREFIX}/stats", get_stats)
    app.router.add_post(f"{CONTROL_PREFIX}/reset", post_reset)
    return app
