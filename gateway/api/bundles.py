"""``/v1/bundles``: chained items (一链办理) in one call, their status and resuming; each chain's guide."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.admission import IDEMPOTENCY_KEY_PATTERN, admitted, idempotency_key, intake_call
from gateway.api.body import parse_json_object, read_limited
from gateway.api.keys import GATEWAY
from gateway.api.middleware import REQUEST_ID
from gateway.api.openapi import CALLER_SECURITY, openapi_problem
from gateway.api.requests import READ_BODY_LIMIT
from gateway.api.responses import json_response
from gateway.bundles.guide import chain_guide, chain_summary
from gateway.callers.model import Caller
from gateway.intake.item_schema import applicant_schema
from gateway.intake.request_ids import is_ulid
from gateway.observability.logs import personal_values, sensitive
from gateway.problems import NOT_FOUND, ProblemError, echo
from gateway.store import BundleRecord


async def post_bundle(request: web.Request) -> web.Response:
    """Run the steps of a chain in one flow."""
    return await intake_call(request, _submit)


async def _submit(request: web.Request, caller: Caller, raw: bytes) -> web.Response:
    gateway = request.app[GATEWAY]
    key = idempotency_key(request)
    body = parse_json_object(request, raw)
    with sensitive(personal_values(body)):
        answer = await gateway.bundles.submit(caller, body, bundle_id=request[REQUEST_ID], idempotency_key=key)
    return json_response(answer.status, answer.body, answer.headers)


async def _visible(request: web.Request) -> tuple[BundleRecord, Caller]:
    """The bundle in the path, if the caller (authenticated once: a signature's nonce is spent) may read it."""
    gateway = request.app[GATEWAY]
    caller = await admitted(request, await read_limited(request, READ_BODY_LIMIT))
    bundle_id = request.match_info["bundle_id"]
    if not is_ulid(bundle_id):
        raise ProblemError(
            NOT_FOUND,
            f"No bundle '{echo(bundle_id)}' is visible to this caller.",
            f"未找到编号为 {echo(bundle_id)} 的一链办理，或无权查看。",
        )
    bundle: BundleRecord = await gateway.bundles.visible(caller, bundle_id)
    return bundle, caller


async def get_bundle(request: web.Request) -> web.Response:
    """Where a bundle stands: each step's request, where it waits or stopped, the sealed receipt."""
    bundle, _ = await _visible(request)
    return json_response(200, await request.app[GATEWAY].bundles.view(bundle))


async def resume_bundle(request: web.Request) -> web.Response:
    """Go on from the step a bundle waits or stopped at, never repeating a completed one."""
    gateway = request.app[GATEWAY]
    bundle, caller = await _visible(request)
    answer = await gateway.bundles.resume(caller, bundle)
    return json_response(answer.status, answer.body, answer.headers)


async def get_chain(request: web.Request) -> web.Response:
    """The service guide of one chain."""
    gateway = request.app[GATEWAY]
    chain = gateway.bundles.chain(request.match_info["chain"])
    guide = chain_guide(chain, gateway.registry.catalogue, max_attachment_bytes=gateway.settings.max_attachment_bytes)
    return json_response(200, guide)


def chain_summaries(gateway: Any) -> list[dict[str, Any]]:
    """The chains ``GET /v1/catalog`` lists beside the items."""
    return [chain_summary(c, gateway.registry.catalogue) for c in gateway.bundles.chains.values()]


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/bundles", post_bundle)
    app.router.add_get("/v1/bundles/{bundle_id}", get_bundle)
    app.router.add_post("/v1/bundles/{bundle_id}/resume", resume_bundle)
    app.router.add_get("/v1/catalog/chains/{chain}", get_chain)


_BUNDLE = {"application/json": {"schema": {"$ref": "#/components/schemas/Bundle"}}}
_ID = [{"name": "bundle_id", "in": "path", "required": True, "schema": {"type": "string"}}]
OPENAPI_PATHS: dict[str, Any] = {
    "/v1/bundles": {
        "post": {
            "operationId": "submitBundle",
            "summary": "Run a chain of items (一链办理) in one flow",
            "description": "Every step's materials are checked before any step runs: one 422 lists every problem, "
            "with step-qualified paths (steps/<item>/materials/<name>). Steps run in order, each a request of its "
            "own; materials an earlier step feeds are left out. The answer carries each step's sealed result and, "
            "once every step completed, the sealed bundle receipt; a step deferred (its agency down) or decided later "
            "makes it 202 and the bundle goes on by itself when the step completes.",
            "security": CALLER_SECURITY,
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BundleRequest"}}},
            },
            "responses": {
                "201": {
                    "description": "Completed (with the receipt), or stopped at a refused or failed step",
                    "content": _BUNDLE,
                },
                "202": {"description": "A step waits (deferred or pending); poll Location", "content": _BUNDLE},
                "400": openapi_problem("Not I-JSON, over the JSON limits, or an unreadable request head"),
                "401": openapi_problem("Missing or unknown API key"),
                "403": openapi_problem("The caller may not request one of the chain's items"),
                "404": openapi_problem("unknown-chain"),
                "408": openapi_problem("The body did not arrive within server.body_timeout_s"),
                "409": openapi_problem("Same Idempotency-Key still in flight"),
                "413": openapi_problem("Body over the configured limit"),
                "414": openapi_problem("Request line over its limit"),
                "415": openapi_problem("Not application/json"),
                "422": openapi_problem("Every problem of every step, at once; or an Idempotency-Key reused"),
                "429": openapi_problem("This address holds server.max_connections_per_address connections"),
                "431": openapi_problem("A header over its limit, or too many headers"),
                "503": openapi_problem(
                    "seal-unavailable: a step's result or the receipt could not be sealed; or audit-unavailable"
                ),
            },
        }
    },
    "/v1/bundles/{bundle_id}": {
        "get": {
            "operationId": "getBundle",
            "summary": "Where a bundle stands: each step, where it waits or stopped, the receipt",
            "security": CALLER_SECURITY,
            "parameters": _ID,
            "responses": {
                "200": {"description": "The bundle", "content": _BUNDLE},
                "401": openapi_problem("Missing or unknown API key"),
                "404": openapi_problem("No such bundle visible to this caller"),
            },
        }
    },
    "/v1/bundles/{bundle_id}/resume": {
        "post": {
            "operationId": "resumeBundle",
            "summary": "Go on from the step the bundle waits or stopped at (completed steps are never repeated)",
            "security": CALLER_SECURITY,
            "parameters": _ID,
            "responses": {
                "200": {"description": "The bundle, moved as far as it goes", "content": _BUNDLE},
                "202": {"description": "A step still waits", "content": _BUNDLE},
                "401": openapi_problem("Missing or unknown API key"),
                "404": openapi_problem("No such bundle visible to this caller"),
                "409": openapi_problem("bundle-not-resumable: the step was refused or given up for good"),
                "503": openapi_problem("audit-unavailable: the audit log is damaged or behind its witness"),
            },
        }
    },
    "/v1/catalog/chains/{chain}": {
        "get": {
            "operationId": "getChainGuide",
            "summary": "The service guide of a chain: its steps, the materials the caller gives and those fed forward",
            "parameters": [{"name": "chain", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {
                    "description": "The chain's guide",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "404": openapi_problem("unknown-chain"),
            },
        }
    },
}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "BundleRequest": {
        "type": "object",
        "required": ["chain", "applicant", "office", "operator", "channel"],
        "additionalProperties": False,
        "properties": {
            "chain": {"type": "string", "description": "A chain code of GET /v1/catalog (chains)."},
            "applicant": applicant_schema(("person", "organisation")),
            "office": {"type": "string", "pattern": "^[0-9]{12}$"},
            "operator": {"type": "string"},
            "channel": {"type": "string"},
            "authorisation": {
                "type": ["object", "null"],
                "description": "A proxy's authorisation (帮办代办), as in a request; its items must cover every step.",
            },
            "materials": {"type": "object", "description": "Materials given once, used by every step that has them."},
            "steps": {
                "type": "object",
                "description": "By item code: {materials} of that step (not those an earlier step feeds).",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"materials": {"type": "object"}},
                },
            },
        },
    },
    "Bundle": {
        "type": "object",
        "required": ["id", "chain", "status", "steps", "links"],
        "properties": {
            "id": {"type": "string"},
            "chain": {"type": "string"},
            "status": {"enum": ["running", "waiting", "stopped", "completed"]},
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["position", "item", "request_id", "status"],
                    "properties": {
                        "position": {"type": "integer"},
                        "item": {"type": "string"},
                        "request_id": {"type": "string"},
                        "status": {"type": "string", "description": "The step's request status, or not_started"},
                        "request": {"$ref": "#/components/schemas/RequestResource"},
                    },
                },
            },
            "completed": {"type": "array", "items": {"type": "string"}},
            "waiting_at": {"type": "object", "description": "The step it waits at and why"},
            "stopped_at": {"type": "object", "description": "The step it stopped at and why (reasons, error)"},
            "receipt": {"type": "object", "description": "The sealed bundle receipt (onewindow.bundle-receipt.v1)"},
            "links": {"type": "object"},
        },
    },
}
