"""The OpenAPI 3.1 document, and the problem-type pages it links to.

Written by hand rather than generated, so it reads as documentation; a test
compares it with the application's routes in both directions and validates
it with an OpenAPI validator, so it cannot drift.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway import __version__
from gateway.api.admission import IDEMPOTENCY_KEY_PATTERN
from gateway.api.responses import json_response
from gateway.api.schemas import component_schemas, ref
from gateway.catalogue.items import FILTERS
from gateway.problems import NOT_FOUND, ProblemError, problem_type, problem_types

_PROBLEM = {"application/problem+json": {"schema": ref("Problem")}}
CALLER_SECURITY: list[dict[str, list[str]]] = [{"httpSignature": []}, {"mutualTLS": []}, {"apiKey": []}]
"""How a caller may authenticate on every caller route: any one of these (docs/api.md)."""


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_problem(description: str) -> dict[str, Any]:
    """An OpenAPI response whose body is problem JSON."""
    return {"description": description, "content": _PROBLEM}


def _filter_parameters() -> list[dict[str, Any]]:
    """The catalogue listing's query parameters, one per filter."""
    words = {
        bool: {"enum": ["true", "false"]},
        int: {"type": "string", "pattern": "^[0-9]{1,4}$"},
        str: {"type": "string"},
    }
    return [
        {"name": name, "in": "query", "schema": {"enum": list(kind)} if isinstance(kind, tuple) else words[kind]}
        for name, kind in FILTERS.items()
    ]


def _paths(examples: dict[str, Any]) -> dict[str, Any]:
    item_param = {"name": "item", "in": "path", "required": True, "schema": {"type": "string"}}
    body: dict[str, Any] = {"schema": ref("Envelope")}
    if examples:
        body["examples"] = examples
    return {
        "/v1/requests": {
            "post": {
                "operationId": "submitRequest",
                "summary": "Submit a request for any catalogue item (一窗通办)",
                "security": CALLER_SECURITY,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                        "description": "1-255 visible ASCII characters (a UUID is best). Same key + same body "
                        "answers with the request's current state (Idempotent-Replayed: true); same key + another "
                        "body is a 422; while the first is in flight, 409. A 4xx before the request is recorded "
                        "(400, 403, 404, 422 validation-failed) does not use up the key.",
                    }
                ],
                "requestBody": {"required": True, "content": {"application/json": body}},
                "responses": {
                    "201": _json(ref("RequestResource"), "Finished: completed (sealed result) or rejected"),
                    "202": _json(
                        ref("RequestResource"), "Accepted: pending at the agency or deferred; poll the Location"
                    ),
                    "400": openapi_problem(
                        "Not I-JSON (a duplicate member name, a lone surrogate), over server.max_json_depth or "
                        "server.max_json_members, or an unreadable request head"
                    ),
                    "401": openapi_problem(
                        "Not authenticated: no credentials, or a signature, client certificate or API key refused "
                        "(docs/api.md)"
                    ),
                    "403": openapi_problem("This caller, office or channel may not request the item"),
                    "404": openapi_problem("Unknown item"),
                    "408": openapi_problem("The body did not arrive within server.body_timeout_s"),
                    "409": openapi_problem("Same Idempotency-Key still in flight"),
                    "413": openapi_problem("Body over the configured limit"),
                    "414": openapi_problem("Request line over its limit"),
                    "415": openapi_problem("Not application/json"),
                    "422": openapi_problem(
                        "Every missing or invalid material, all at once; or an Idempotency-Key reused with another body"
                    ),
                    "429": openapi_problem(
                        "This address holds server.max_connections_per_address connections; or the caller is past "
                        "its rate_limit (caller-rate-limited) or max_concurrent (caller-concurrency-limited): "
                        "nothing was done, retry after Retry-After seconds with the same Idempotency-Key"
                    ),
                    "431": openapi_problem("A header over its limit, or too many headers"),
                    "502": openapi_problem("The agency answered unreadably"),
                    "503": openapi_problem(
                        "Agency unavailable and the item cannot be deferred, or no valid seal, or the gateway's "
                        "audit log was found damaged or behind its witness (audit-unavailable: nothing was done)"
                    ),
                },
            }
        },
        "/v1/requests/{request_id}": {
            "get": {
                "operationId": "getRequest",
                "summary": "Status and result of a request",
                "security": CALLER_SECURITY,
                "parameters": [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _json(ref("RequestResource"), "The request"),
                    "401": openapi_problem(
                        "Not authenticated: no credentials, or a signature, client certificate or API key refused "
                        "(docs/api.md)"
                    ),
                    "404": openapi_problem("No such request visible to this caller"),
                    "429": openapi_problem("The caller is past its rate_limit (caller-rate-limited; Retry-After)"),
                },
            }
        },
        "/v1/catalog": {
            "get": {
                "operationId": "listCatalog",
                "summary": "The service catalogue (事项目录清单)",
                "parameters": _filter_parameters(),
                "responses": {
                    "200": _json(ref("CatalogList"), "Items matching every filter given"),
                    "400": openapi_problem(
                        "Unknown filter, a filter given twice, or a value it does not take; "
                        "'filters' lists every filter and what it takes"
                    ),
                },
            }
        },
        "/v1/catalog/{item}": {
            "get": {
                "operationId": "getServiceGuide",
                "summary": "The service guide (服务指南) of one item",
                "parameters": [item_param],
                "responses": {"200": _json(ref("ServiceGuide"), "The guide"), "404": openapi_problem("Unknown item")},
            }
        },
        "/v1/catalog/{item}/schema": {
            "get": {
                "operationId": "getItemSchema",
                "summary": "The JSON Schema (2020-12) of a request for one item, with its examples",
                "parameters": [item_param],
                "responses": {
                    "200": {
                        "description": "The item's envelope as JSON Schema",
                        "content": {"application/schema+json": {"schema": {"type": "object"}}},
                    },
                    "404": openapi_problem("Unknown item"),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "The process is alive",
                "responses": {"200": _json(ref("Health"), "Alive")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "The store answers; agency health and breakers",
                "responses": {"200": _json(ref("Readiness"), "Ready"), "503": _json(ref("Readiness"), "Not ready")},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1 document", "content": {"application/json": {}}}},
            }
        },
        "/problems/{slug}": {
            "get": {
                "operationId": "problemType",
                "summary": "What a problem type means",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _json({"type": "object"}, "The problem type"),
                    "404": openapi_problem("Unknown problem type"),
                },
            }
        },
    }


def openapi_document(
    extra_paths: dict[str, Any] | None = None,
    extra_schemas: dict[str, Any] | None = None,
    *,
    envelopes: dict[str, Any] | None = None,
    examples: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route.

    Route modules other than the core ones contribute their own paths and
    schemas (their ``OPENAPI_PATHS`` and ``OPENAPI_SCHEMAS``); ``envelopes``
    are the per-item envelope schemas and their union, ``examples`` the
    items' example requests (:func:`gateway.api.schemas.item_envelopes`).
    """
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Onewindow intake API",
            "version": __version__,
            "description": "One endpoint for every catalogue item of the township and village service "
            "centres. Errors are RFC 9457 problem JSON; see /problems/{slug}.",
        },
        "servers": [{"url": "/"}],
        "paths": {**_paths(examples or {}), **(extra_paths or {})},
        "components": {
            "schemas": {**component_schemas(), **(envelopes or {}), **(extra_schemas or {})},
            "securitySchemes": {
                "httpSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Signature",
                    "description": "HTTP Message Signatures (RFC 9421) over @method, @target-uri and content-digest "
                    "(RFC 9530), with created, nonce and keyid: Signature-Input, Signature and Content-Digest headers "
                    "(docs/api.md, Authentication).",
                },
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The API key as a bearer token (or X-Api-Key), where the district allows it.",
                },
                "mutualTLS": {
                    "type": "mutualTLS",
                    "description": "A client certificate the district issued the caller (onewindow client-cert "
                    "issue), where the gateway listens with TLS and server.client_certificates is not off.",
                },
            },
        },
    }


OPENAPI_DOCUMENT: web.AppKey[dict[str, Any]] = web.AppKey("openapi_document", dict)


async def get_openapi(request: web.Request) -> web.Response:
    return web.Response(
        text=json.dumps(request.app[OPENAPI_DOCUMENT], ensure_ascii=False), content_type="application/json"
    )


async def get_problem_type(request: web.Request) -> web.Response:
    kind = problem_type(request.match_info["slug"])
    if kind is None:
        raise ProblemError(
            NOT_FOUND, "No such problem type.", "没有该错误类型。", known=[k.slug for k in problem_types()]
        )
    return json_response(
        200,
        {
            "type": kind.uri,
            "status": kind.status,
            "title": kind.title_en,
            "title_zh": kind.title_zh,
            "explanation": kind.explanation,
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/openapi.json", get_openapi)
    app.router.add_get("/problems/{slug}", get_problem_type)
