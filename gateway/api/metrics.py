"""``GET /metrics``: the Prometheus text exposition (see :mod:`gateway.observability.metrics`).

Unauthenticated like ``/healthz``: it carries item and agency codes and
counts, never personal data. Restrict it to the monitoring network.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.observability.metrics import CONTENT_TYPE

OPENAPI_PATHS: dict[str, Any] = {
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics: requests, agency latency, retries, breakers, outbox, dead letters",
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format 0.0.4",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
}


async def get_metrics(request: web.Request) -> web.Response:
    """Every metric of this gateway (or of every worker, under ``--workers``)."""
    gateway = request.app[GATEWAY]
    body = await gateway.metrics.exposition(gateway.store, gateway.extranet.breakers)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", get_metrics)
