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
from gateway.api.responses import json_response
from gateway.catalogue.items import CHANNELS, ITEM_KINDS, MATERIAL_TYPES, OFFICE_LEVELS, SEAL_KINDS
from gateway.problems import NOT_FOUND, ProblemError, problem_type, problem_types

_REF = "#/components/schemas/"
_PROBLEM = {"application/problem+json": {"schema": {"$ref": _REF + "Problem"}}}
_AUTH: list[dict[str, list[str]]] = [{"apiKey": []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_problem(description: str) -> dict[str, Any]:
    """An OpenAPI response whose body is problem JSON."""
    return {"description": description, "content": _PROBLEM}


def _schemas() -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "Applicant": {
            "type": "object",
            "required": ["kind", "id_number", "name"],
            "properties": {
                "kind": {"enum": ["person", "organisation"]},
                "id_type": {
                    "enum": ["resident_id", "credit_code"],
                    "description": "resident_id for a person (GB 11643), credit_code for an organisation "
                    "(GB 32100); defaults from kind",
                },
                "id_number": {"type": "string", "minLength": 18, "maxLength": 18},
                "name": {"type": "string", "maxLength": 100},
                "phone": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
            },
            "additionalProperties": False,
        },
        "Attachment": {
            "type": "object",
            "required": ["media_type", "content_base64"],
            "properties": {
                "media_type": text,
                "filename": text,
                "content_base64": {"type": "string", "contentEncoding": "base64"},
            },
        },
        "Pledge": {
            "type": "object",
            "description": "The applicant's commitment (告知承诺) replacing named materials.",
            "required": ["replaces", "statement", "signed_by", "signed_at"],
            "properties": {
                "replaces": {"type": "array", "items": text, "minItems": 1},
                "statement": text,
                "signed_by": text,
                "signed_at": {"type": "string", "format": "date-time"},
            },
        },
        "Envelope": {
            "type": "object",
            "required": ["item", "applicant", "materials", "office", "operator", "channel"],
            "properties": {
                "item": {"type": "string", "examples": ["tax.payment-record"]},
                "applicant": _ref("Applicant"),
                "materials": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Material name -> value; attachments are Attachment objects. "
                    "See GET /v1/catalog/{item} for the item's materials.",
                },
                "office": {"type": "string", "pattern": "^[0-9]{12}$"},
                "operator": {
                    "type": "string",
                    "maxLength": 64,
                    "description": "The accepting staff member's id (首问负责).",
                },
                "channel": {"enum": list(CHANNELS)},
                "pledge": {
                    "anyOf": [_ref("Pledge"), {"type": "null"}],
                    "description": "Optional; null or absent when the applicant gives no pledge.",
                },
                "callback_url": {
                    "type": ["string", "null"],
                    "format": "uri",
                    "description": "Optional: where the final request resource is POSTed, signed with the "
                    "caller's callback_secret. It must start with one of the caller's configured "
                    "callback_prefixes, else 422 with error code callback_not_allowed.",
                },
            },
            "additionalProperties": False,
        },
        "RequestResource": {
            "type": "object",
            "required": ["id", "status", "item", "office", "operator", "channel", "created_at", "links"],
            "properties": {
                "id": {"type": "string", "description": "ULID; also the agency-side deduplication key"},
                "status": {
                    "enum": ["accepted", "pending", "deferred", "completed", "rejected", "failed", "dead_letter"]
                },
                "item": text,
                "agency": text,
                "office": text,
                "operator": text,
                "channel": text,
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "finished_at": {"type": "string", "format": "date-time"},
                "attempts": {"type": "integer"},
                "agency_reference": text,
                "result": {"type": "object", "description": "The sealed result document (status completed)."},
                "reasons": {"type": "array", "items": _ref("Reason")},
                "error": {"type": "object"},
                "links": {"type": "object", "properties": {"self": text}},
            },
        },
        "Reason": {
            "type": "object",
            "properties": {"code": text, "message_zh": text, "message_en": {"type": ["string", "null"]}},
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details, with Chinese title/detail and the request id.",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string", "format": "uri-reference"},
                "title": text,
                "detail": text,
                "title_zh": text,
                "detail_zh": text,
                "status": {"type": "integer"},
                "instance": text,
                "request_id": text,
                "errors": {"type": "array", "items": _ref("FieldProblem")},
            },
        },
        "FieldProblem": {
            "type": "object",
            "required": ["path", "code", "message_zh", "message_en"],
            "properties": {"path": text, "code": text, "message_zh": text, "message_en": text},
        },
        "ItemSummary": {
            "type": "object",
            "properties": {
                "code": text,
                "name_zh": text,
                "name_en": text,
                "agency": text,
                "kind": {"enum": list(ITEM_KINDS)},
                "seal": {"enum": list(SEAL_KINDS)},
                "office_levels": {"type": "array", "items": {"enum": list(OFFICE_LEVELS)}},
                "channels": {"type": "array", "items": {"enum": list(CHANNELS)}},
                "time_limit_days": {"type": "integer"},
                "long_running": {"type": "boolean"},
            },
        },
        "CatalogList": {
            "type": "object",
            "properties": {"count": {"type": "integer"}, "items": {"type": "array", "items": _ref("ItemSummary")}},
        },
        "Material": {
            "type": "object",
            "properties": {
                "name": text,
                "type": {"enum": list(MATERIAL_TYPES)},
                "required": {"type": "boolean"},
                "description_zh": text,
                "description_en": text,
                "constraints": {"type": "object"},
            },
        },
        "ServiceGuide": {
            "allOf": [_ref("ItemSummary")],
            "properties": {
                "applicant_kinds": {"type": "array", "items": text},
                "conditions_zh": {"type": "array", "items": text},
                "materials": {"type": "array", "items": _ref("Material")},
                "pledge_replaces": {"type": "array", "items": text},
                "legal_basis": {"type": "array", "items": text},
                "steps": {"type": "array", "items": text},
                "fee_zh": text,
                "deferrable": {"type": "boolean"},
            },
        },
        "Health": {"type": "object", "properties": {"status": text}},
        "Readiness": {
            "type": "object",
            "properties": {
                "ready": {"type": "boolean"},
                "store": {"type": "object"},
                "audit": {
                    "type": "object",
                    "description": "state: off, sound (checked from the latest signed checkpoint) or damaged "
                    "(where, what: the gateway refuses every POST until an operator repairs the log)",
                    "properties": {"ok": {"type": "boolean"}, "state": {"enum": ["off", "sound", "damaged"]}},
                },
                "agencies": {"type": "object"},
            },
        },
    }


def _paths() -> dict[str, Any]:
    item_param = {"name": "item", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/v1/requests": {
            "post": {
                "operationId": "submitRequest",
                "summary": "Submit a request for any catalogue item (一窗通办)",
                "security": _AUTH,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 255},
                        "description": "Same key + same body replays the stored answer; same key + "
                        "another body is a 422; while the first is in flight, 409.",
                    }
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Envelope")}}},
                "responses": {
                    "201": _json(_ref("RequestResource"), "Finished: completed (sealed result) or rejected"),
                    "202": _json(
                        _ref("RequestResource"), "Accepted: pending at the agency or deferred; poll the Location"
                    ),
                    "400": openapi_problem("Malformed JSON or envelope"),
                    "401": openapi_problem("Missing or unknown API key"),
                    "403": openapi_problem("This caller, office or channel may not request the item"),
                    "404": openapi_problem("Unknown item"),
                    "409": openapi_problem("Same Idempotency-Key still in flight"),
                    "413": openapi_problem("Body over the configured limit"),
                    "415": openapi_problem("Not application/json"),
                    "422": openapi_problem(
                        "Every missing or invalid material, all at once; or an Idempotency-Key reused with another body"
                    ),
                    "502": openapi_problem("The agency answered unreadably"),
                    "503": openapi_problem(
                        "Agency unavailable and the item cannot be deferred, or no valid seal, or the gateway's "
                        "audit log was found damaged (audit-unavailable: nothing was done)"
                    ),
                },
            }
        },
        "/v1/requests/{request_id}": {
            "get": {
                "operationId": "getRequest",
                "summary": "Status and result of a request",
                "security": _AUTH,
                "parameters": [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _json(_ref("RequestResource"), "The request"),
                    "401": openapi_problem("Missing or unknown API key"),
                    "404": openapi_problem("No such request visible to this caller"),
                },
            }
        },
        "/v1/catalog": {
            "get": {
                "operationId": "listCatalog",
                "summary": "The service catalogue (事项目录清单)",
                "parameters": [
                    {"name": "agency", "in": "query", "schema": {"type": "string"}},
                    {"name": "office_level", "in": "query", "schema": {"enum": list(OFFICE_LEVELS)}},
                    {"name": "channel", "in": "query", "schema": {"enum": list(CHANNELS)}},
                    {"name": "kind", "in": "query", "schema": {"enum": list(ITEM_KINDS)}},
                ],
                "responses": {
                    "200": _json(_ref("CatalogList"), "Matching items"),
                    "400": openapi_problem("Unknown filter or value"),
                },
            }
        },
        "/v1/catalog/{item}": {
            "get": {
                "operationId": "getServiceGuide",
                "summary": "The service guide (服务指南) of one item",
                "parameters": [item_param],
                "responses": {"200": _json(_ref("ServiceGuide"), "The guide"), "404": openapi_problem("Unknown item")},
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "The process is alive",
                "responses": {"200": _json(_ref("Health"), "Alive")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "The store answers; agency health and breakers",
                "responses": {"200": _json(_ref("Readiness"), "Ready"), "503": _json(_ref("Readiness"), "Not ready")},
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
    extra_paths: dict[str, Any] | None = None, extra_schemas: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route.

    Route modules other than the core ones contribute their own paths and
    schemas (their ``OPENAPI_PATHS`` and ``OPENAPI_SCHEMAS``).
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
        "paths": {**_paths(), **(extra_paths or {})},
        "components": {
            "schemas": {**_schemas(), **(extra_schemas or {})},
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The caller's API key as a bearer token (or in X-Api-Key).",
                }
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
