"""``/healthz`` (the process is alive) and ``/readyz`` (it can serve)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.api.responses import json_response


async def healthz(request: web.Request) -> web.Response:
    """Alive: answers as long as the event loop runs."""
    return json_response(200, {"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: the store answers; each agency's health and breaker are reported.

    An agency being down does not make the gateway unready: requests for it
    are still accepted (and deferred where the item allows).
    """
    report = await request.app[GATEWAY].readiness()
    return json_response(200 if report["ready"] else 503, report)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
