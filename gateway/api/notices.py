"""``POST /v1/notices``: the sealed one-time notice (一次性告知书) of a refused request.

The intake system posts the envelope ``POST /v1/requests`` refused with
``422``; the gateway checks it exactly as intake does -- recording and
sending nothing -- and answers the notice sealed, as JSON or (``Accept:
application/pdf``) as a signed printout. See :mod:`gateway.service.notices`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.admission import intake_call
from gateway.api.body import parse_json_object
from gateway.api.keys import GATEWAY
from gateway.api.middleware import REQUEST_ID
from gateway.api.openapi import CALLER_SECURITY, openapi_problem
from gateway.api.printouts import printout_response
from gateway.api.responses import json_response
from gateway.callers.model import Caller
from gateway.errors import SealUnavailable
from gateway.observability.logs import personal_values, sensitive
from gateway.printouts.printer import PDF_MEDIA_TYPE
from gateway.problems import NOTICE_NOT_NEEDED, SEAL_UNAVAILABLE, ProblemError
from gateway.service.notices import NOTICE_LAYOUT, notice_document


async def post_notice(request: web.Request) -> web.Response:
    """Check a refused envelope as intake would and answer its sealed one-time notice."""
    return await intake_call(request, _notice)  # checked like an intake call, within the caller's limits


async def _notice(request: web.Request, caller: Caller, raw: bytes) -> web.Response:
    gateway = request.app[GATEWAY]
    body = parse_json_object(request, raw)
    notice_id = request[REQUEST_ID]
    with sensitive(personal_values(body)):  # masked in every log line and audit entry, as at intake
        item, problems = await gateway.router.refusal(caller, body, notice_id)
        if not problems:
            raise ProblemError(
                NOTICE_NOT_NEEDED,
                f"The envelope for {item.code} has no problem to notify: submit it with POST /v1/requests.",
                "该申请没有需要补正的材料或信息，可直接提交申请。",
                item=item.code,
            )
        office = gateway.settings.office(body.get("office")) if isinstance(body.get("office"), str) else None
        office = office or caller.office
        document = notice_document(
            notice_id=notice_id,
            item=item,
            agency=gateway.registry.agency_for(item.code).identity.as_json(),
            office=office,
            body=body,
            problems=problems,
            public_url=gateway.settings.public_url,
            max_attachment_bytes=gateway.settings.max_attachment_bytes,
            issued_at=gateway.delivery.clock(),
        )
        try:
            sealing = await gateway.sealer.seal(document, item=item, office=office, request_id=notice_id)
        except SealUnavailable as exc:
            raise ProblemError(
                SEAL_UNAVAILABLE, str(exc), "受理机构没有覆盖该事项的有效电子印章，暂不能出具告知书。", item=item.code
            ) from exc
        sealed = sealing.document
        await gateway.events.emit(
            "notice.issued",
            request_id=notice_id,
            caller=caller.id,
            item=item.code,
            office=office.code,
            problems=[f"{p.path}:{p.code}" for p in problems],
            seal_number=sealed.get("seal", {}).get("number"),
            document_digest=sealing.digest,
        )
    if "application/pdf" not in request.headers.get("Accept", ""):
        return json_response(201, sealed, {"Cache-Control": "no-store"})
    return await printout_response(
        request, sealed, what_en="The notice", what_zh="告知书", layout=NOTICE_LAYOUT, status=201
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/notices", post_notice)


OPENAPI_PATHS: dict[str, Any] = {
    "/v1/notices": {
        "post": {
            "operationId": "postNotice",
            "summary": "The sealed one-time notice (一次性告知书) of an envelope intake refused (422)",
            "description": "The envelope is checked exactly as POST /v1/requests checks it, and nothing is recorded "
            "or sent to an agency. The answer lists every missing or wrong material beside the item's requirement "
            "from its service guide, and every material of the item, sealed with the item's seal for the office "
            "(document_type onewindow.notice.v1). `Accept: application/pdf` answers the signed printout instead.",
            "security": CALLER_SECURITY,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "description": "The envelope POST /v1/requests refused (see Envelope for what it should "
                            "have been): a JSON object naming its item; everything else is checked as at intake",
                            "required": ["item"],
                        }
                    }
                },
            },
            "responses": {
                "201": {
                    "description": "The sealed notice (JSON), or its signed printout with Accept: application/pdf",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Notice"}},
                        PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "400": openapi_problem("The body is not a JSON object"),
                "401": openapi_problem(
                    "Not authenticated: no credentials, or a signature or API key refused (docs/api.md)"
                ),
                "403": openapi_problem("The caller may not request this item, office or channel"),
                "404": openapi_problem("No such catalogue item"),
                "408": openapi_problem("The body did not arrive within server.body_timeout_s"),
                "409": openapi_problem("notice-not-needed: intake would accept the envelope"),
                "413": openapi_problem("Body over the configured limit"),
                "414": openapi_problem("Request line over its limit"),
                "415": openapi_problem("Not application/json"),
                "422": openapi_problem("The envelope names no item: a notice lists an item's requirements"),
                "429": openapi_problem("This address holds server.max_connections_per_address connections"),
                "431": openapi_problem("A header over its limit, or too many headers"),
                "503": openapi_problem("seal-unavailable or printout-unavailable"),
            },
        }
    }
}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Notice": {
        "type": "object",
        "description": "A sealed one-time notice: the members of a result document, its content the problems "
        "and the item's requirements, and the seal block",
        "required": ["document_type", "request_id", "item", "office", "content", "seal"],
        "properties": {
            "document_type": {"const": "onewindow.notice.v1"},
            "request_id": {"type": "string", "description": "The notice's own id (the id of the POST)"},
            "item": {"type": "string"},
            "content": {
                "type": "object",
                "properties": {
                    "noticed_at": {"type": "string"},
                    "operator": {"type": ["string", "null"]},
                    "channel": {"type": ["string", "null"]},
                    "time_limit_days": {"type": "integer"},
                    "guide_url": {"type": "string"},
                    "problems": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                k: {"type": "string"}
                                for k in (
                                    "path",
                                    "code",
                                    "material",
                                    "message_zh",
                                    "message_en",
                                    "requirement_zh",
                                    "requirement_en",
                                )
                            },
                        },
                    },
                    "requirements": {"type": "array", "items": {"type": "object"}},
                    "conditions_zh": {"type": "string"},
                },
            },
            "seal": {"type": "object"},
        },
    }
}
