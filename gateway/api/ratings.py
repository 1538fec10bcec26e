"""``/v1/requests/{id}/rating``: the applicant's rating of a finished service (好差评), and reading it back.

Only the intake system that made the request may rate it, once, after it
is finished (see :mod:`gateway.ratings.rating`); whoever may read the
request may read its rating.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.admission import admitted
from gateway.api.body import parse_json_object, read_limited, require_json
from gateway.api.keys import GATEWAY
from gateway.api.openapi import CALLER_SECURITY, openapi_problem
from gateway.api.requests import READ_BODY_LIMIT, record_visible_to, visible_record
from gateway.api.responses import json_response
from gateway.callers.model import Caller
from gateway.intake.request_ids import is_ulid
from gateway.problems import NOT_FOUND, RATE_THE_BUNDLE, ProblemError, echo
from gateway.ratings.grades import COMMENT_MAX_CHARS, TAGS, TAGS_MAX, Grade
from gateway.ratings.rating import Rated, rate, rate_request
from gateway.store import BundleStatus


async def post_rating(request: web.Request) -> web.Response:
    """Rate a finished request: 201 with the rating (and the follow-up a bad one opens)."""
    gateway = request.app[GATEWAY]
    require_json(request)
    raw = await read_limited(request, gateway.settings.max_body_bytes)  # a signature covers the body's digest
    caller = await admitted(request, raw)  # once: a signed request's nonce is used up; counts against its rate
    record = await record_visible_to(request, caller)
    bundle_id = await gateway.store.bundle_of_request(record.id)
    if bundle_id is not None:  # one flow, one rating: a step is rated with its bundle, never twice
        raise ProblemError(
            RATE_THE_BUNDLE,
            f"Request {record.id} is a step of bundle {bundle_id}: rate the bundle.",
            f"申请 {record.id} 是一链办理 {bundle_id} 的一个环节，请对一链办理整体评价。",
            rating=f"/v1/bundles/{bundle_id}/rating",
        )
    body = parse_json_object(request, raw)
    rating = await rate_request(gateway.ratings, gateway.events, caller, record, body)
    return json_response(201, rating.view(), {"Location": f"/v1/requests/{record.id}/rating"})


async def _bundle_visible_to(request: web.Request, caller: Caller) -> Rated:
    bundle_id = request.match_info["bundle_id"]
    if not is_ulid(bundle_id):
        raise ProblemError(
            NOT_FOUND,
            f"No bundle '{echo(bundle_id)}' is visible to this caller.",
            f"未找到编号为 {echo(bundle_id)} 的一链办理，或无权查看。",
        )
    bundle = await request.app[GATEWAY].bundles.visible(caller, bundle_id)
    return Rated(
        "bundle",
        bundle.id,
        bundle.caller_id,
        bundle.office,
        bundle.channel,
        bundle.chain,
        str(bundle.status),
        bundle.status is BundleStatus.COMPLETED,  # a stopped bundle may still be resumed
        bundle.body,
    )


async def post_bundle_rating(request: web.Request) -> web.Response:
    """Rate a completed bundle as one service: 201 with the rating."""
    gateway = request.app[GATEWAY]
    require_json(request)
    raw = await read_limited(request, gateway.settings.max_body_bytes)
    caller = await admitted(request, raw)
    subject = await _bundle_visible_to(request, caller)
    rating = await rate(gateway.ratings, gateway.events, caller, subject, parse_json_object(request, raw))
    return json_response(201, rating.view(), {"Location": subject.path})


async def get_bundle_rating(request: web.Request) -> web.Response:
    """The rating of a bundle, for whoever may read the bundle."""
    caller = await admitted(request, await read_limited(request, READ_BODY_LIMIT))
    subject = await _bundle_visible_to(request, caller)
    rating = await request.app[GATEWAY].ratings.of("bundle", subject.id)
    if rating is None:
        raise ProblemError(NOT_FOUND, f"Bundle {subject.id} has not been rated.", f"一链办理 {subject.id} 尚未评价。")
    return json_response(200, rating.view())


async def get_rating(request: web.Request) -> web.Response:
    """The rating of a request, for whoever may read the request."""
    record = await visible_record(request)
    rating = await request.app[GATEWAY].ratings.of_request(record.id)
    if rating is None:
        raise ProblemError(NOT_FOUND, f"Request {record.id} has not been rated.", f"申请 {record.id} 尚未评价。")
    return json_response(200, rating.view())


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/requests/{request_id}/rating", post_rating)
    app.router.add_get("/v1/requests/{request_id}/rating", get_rating)
    app.router.add_post("/v1/bundles/{bundle_id}/rating", post_bundle_rating)
    app.router.add_get("/v1/bundles/{bundle_id}/rating", get_bundle_rating)


_GRADE = {"type": "string", "enum": [g.value for g in Grade] + [g.zh for g in Grade]}
_PARAMETERS = [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}]

OPENAPI_SCHEMAS: dict[str, Any] = {
    "RatingInput": {
        "type": "object",
        "additionalProperties": False,
        "required": ["grade"],
        "properties": {
            "grade": {**_GRADE, "description": "One of the national five grades, by code or in Chinese"},
            "tags": {
                "type": "array",
                "maxItems": TAGS_MAX,
                "uniqueItems": True,
                "items": {"type": "string", "enum": list(TAGS)},
            },
            "comment": {"type": "string", "maxLength": COMMENT_MAX_CHARS},
        },
    },
    "Rating": {
        "type": "object",
        "required": ["id", "grade", "grade_zh", "tags", "comment", "rated_at", "follow_up"],
        "properties": {
            "id": {"type": "string"},
            "request_id": {"type": "string"},
            "bundle_id": {"type": "string"},
            "grade": {"type": "string", "enum": [g.value for g in Grade]},
            "grade_zh": {"type": "string", "enum": [g.zh for g in Grade]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "comment": {"type": ["string", "null"], "description": "As kept: identifiers and names masked"},
            "rated_at": {"type": "string", "format": "date-time"},
            "follow_up": {
                "type": ["object", "null"],
                "description": "Opened by a bad rating (dissatisfied, very_dissatisfied) until an operator closes it",
                "properties": {"id": {"type": "string"}, "status": {"enum": ["open", "closed"]}},
            },
        },
    },
}

_BUNDLE_PARAMETERS = [{"name": "bundle_id", "in": "path", "required": True, "schema": {"type": "string"}}]

OPENAPI_PATHS: dict[str, Any] = {
    "/v1/requests/{request_id}/rating": {
        "post": {
            "operationId": "rateRequest",
            "summary": "Rate a finished request (好差评): once, by the intake system that made it",
            "security": CALLER_SECURITY,
            "parameters": _PARAMETERS,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RatingInput"}}},
            },
            "responses": {
                "201": {
                    "description": "The rating, kept and audited; a bad one has an open follow-up",
                    "headers": {"Location": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Rating"}}},
                },
                "400": openapi_problem("Not strict JSON, or not an object"),
                "401": openapi_problem("Missing or unknown API key"),
                "403": openapi_problem("The caller may read the request but did not make it"),
                "404": openapi_problem("No such request visible to this caller"),
                "409": openapi_problem("already-rated, request-not-finished, or rate-the-bundle (a step of a bundle)"),
                "415": openapi_problem("Not application/json"),
                "422": openapi_problem("validation-failed: every problem with the grade, tags and comment"),
            },
        },
        "get": {
            "operationId": "getRating",
            "summary": "The rating of a request",
            "security": CALLER_SECURITY,
            "parameters": _PARAMETERS,
            "responses": {
                "200": {
                    "description": "The rating",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Rating"}}},
                },
                "401": openapi_problem("Missing or unknown API key"),
                "404": openapi_problem("No such request visible to this caller, or it has not been rated"),
            },
        },
    },
    "/v1/bundles/{bundle_id}/rating": {
        "post": {
            "operationId": "rateBundle",
            "summary": "Rate a completed bundle (一链办理) as one service: once, by the intake system that made it",
            "security": CALLER_SECURITY,
            "parameters": _BUNDLE_PARAMETERS,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RatingInput"}}},
            },
            "responses": {
                "201": {
                    "description": "The rating, kept and audited; a bad one has an open follow-up",
                    "headers": {"Location": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Rating"}}},
                },
                "400": openapi_problem("Not strict JSON, or not an object"),
                "401": openapi_problem("Missing or unknown credential"),
                "403": openapi_problem("The caller may read the bundle but did not make it"),
                "404": openapi_problem("No such bundle visible to this caller"),
                "409": openapi_problem("already-rated, or request-not-finished (the bundle is not completed)"),
                "415": openapi_problem("Not application/json"),
                "422": openapi_problem("validation-failed: every problem with the grade, tags and comment"),
                "429": openapi_problem("Over the caller's rate limit"),
            },
        },
        "get": {
            "operationId": "getBundleRating",
            "summary": "The rating of a bundle",
            "security": CALLER_SECURITY,
            "parameters": _BUNDLE_PARAMETERS,
            "responses": {
                "200": {
                    "description": "The rating",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Rating"}}},
                },
                "401": openapi_problem("Missing or unknown credential"),
                "404": openapi_problem("No such bundle visible to this caller, or it has not been rated"),
            },
        },
    },
}
