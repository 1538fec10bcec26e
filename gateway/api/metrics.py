"""``GET /metrics``: the Prometheus text exposition (see :mod:`gateway.observability.metrics`).

It carries item and agency codes and counts, never personal data. Open by
default like ``/healthz`` -- keep it on the monitoring network -- or, with
``[metrics] token_file``, only for scrapers that send the bearer token.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.api.openapi import openapi_problem
from gateway.observability.metrics import CONTENT_TYPE
from gateway.observability.state_gauges import read_state
from gateway.problems import UNAUTHENTICATED, ProblemError
from gateway.store import utcnow

OPENAPI_PATHS: dict[str, Any] = {
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics: requests, agency latency, retries, breakers, outbox, seals, audit log",
            "description": "Open unless [metrics] token_file is set; then `Authorization: Bearer <token>`.",
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format 0.0.4",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": openapi_problem("A token is required ([metrics] token_file) and was missing or wrong"),
            },
        }
    }
}


def _check_token(request: web.Request, token: bytes) -> None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8", "replace"), token):
        raise ProblemError(
            UNAUTHENTICATED,
            "GET /metrics needs the monitoring bearer token ([metrics] token_file).",
            "读取监控指标需要提供监控令牌。",
            headers={"WWW-Authenticate": 'Bearer realm="onewindow-metrics"'},
        )


async def get_metrics(request: web.Request) -> web.Response:
    """Every metric of this gateway (or of every worker, under ``--workers``)."""
    gateway = request.app[GATEWAY]
    if gateway.metrics_token is not None:
        _check_token(request, gateway.metrics_token)
    state = await read_state(gateway, utcnow())
    body = await gateway.metrics.exposition(gateway.store, gateway.extranet.breakers, state)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", get_metrics)
