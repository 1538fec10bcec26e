"""The aiohttp application: middlewares, routes, and the OpenAPI document."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from aiohttp import web

from gateway.api import (
    audit,
    bundles,
    catalogue,
    health,
    metrics,
    notices,
    openapi,
    printouts,
    ratings,
    receipts,
    requests,
    verify,
)
from gateway.api.audit import refuse_while_damaged
from gateway.api.keys import GATEWAY
from gateway.api.middleware import problems, request_ids
from gateway.api.schemas import item_envelopes

CORE_ROUTES: tuple[ModuleType, ...] = (
    requests,
    bundles,
    catalogue,
    health,
    metrics,
    openapi,
    verify,
    audit,
    printouts,
    ratings,
    receipts,
    notices,
)


def create_app(gateway: Any, *, extra_routes: tuple[ModuleType, ...] = ()) -> web.Application:
    """The HTTP application serving ``gateway``.

    Each route module has ``add_routes(app)``; modules beyond the core ones
    also describe themselves with ``OPENAPI_PATHS`` and ``OPENAPI_SCHEMAS``.
    """
    app = web.Application(
        middlewares=[refuse_while_damaged, request_ids, problems], client_max_size=gateway.settings.max_body_bytes
    )
    app[GATEWAY] = gateway
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for module in (*CORE_ROUTES, *extra_routes):
        module.add_routes(app)
        paths.update(getattr(module, "OPENAPI_PATHS", {}))
        schemas.update(getattr(module, "OPENAPI_SCHEMAS", {}))
    settings = gateway.settings
    envelopes, examples = item_envelopes(
        gateway.registry.catalogue,
        max_attachment_bytes=settings.max_attachment_bytes,
        offices=list(settings.offices.values()),
    )
    app[openapi.OPENAPI_DOCUMENT] = openapi.openapi_document(paths, schemas, envelopes=envelopes, examples=examples)
    return app
