"""``GET /v1/requests/{id}/receipt`` (and ``receipt.pdf``): the sealed acceptance receipt (受理回执).

A request accepted but not yet decided gets a sealed receipt with its ``202``;
when the agency's case number becomes known a new version is sealed, and
this route hands out the latest (``?version=N`` an earlier one). Who may read
the request may read its receipts. The JSON verifies with ``onewindow verify``
and ``POST /v1/verify`` like a sealed result; the PDF is its signed printout.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.api.openapi import CALLER_SECURITY, openapi_problem
from gateway.api.printouts import printout_response
from gateway.api.requests import visible_record
from gateway.api.responses import json_response
from gateway.printouts.printer import PDF_MEDIA_TYPE
from gateway.problems import MALFORMED_REQUEST, NO_RECEIPT, ProblemError
from gateway.service.receipts import RECEIPT_LAYOUT


async def _receipt(request: web.Request) -> dict[str, Any]:
    """The version asked for (default: the latest, sealing a new one if the case number is new)."""
    gateway = request.app[GATEWAY]
    record = await visible_record(request)
    asked = request.query.get("version")
    if asked is not None and not (asked.isascii() and asked.isdigit() and 0 < len(asked) <= 6):
        raise ProblemError(
            MALFORMED_REQUEST, "version must be a positive whole number.", "version 应为正整数（回执版本号）。"
        )
    receipts = gateway.delivery.receipts
    latest = await receipts.current(record)
    if asked is None and latest is not None:
        return latest
    versions = await receipts.versions(record.id) if asked is not None else []
    wanted = [r for r in versions if r.get("content", {}).get("version") == int(asked or 0)]
    if not wanted:
        which = f"version {asked} of " if asked else ""
        raise ProblemError(
            NO_RECEIPT,
            f"There is no {which}an acceptance receipt of request {record.id} (it is {record.status}).",
            f"申请 {record.id}（当前状态 {record.status}）没有{'该版本的' if asked else ''}受理回执。",
        )
    return wanted[0]


async def get_receipt(request: web.Request) -> web.Response:
    """The sealed receipt, as JSON to verify or store."""
    return json_response(200, await _receipt(request), {"Cache-Control": "no-store"})


async def get_receipt_pdf(request: web.Request) -> web.Response:
    """The sealed receipt as a signed printout laid out as a 受理回执."""
    receipt = await _receipt(request)
    request_id = receipt.get("request_id")
    return await printout_response(
        request,
        receipt,
        what_en=f"The receipt of request {request_id}",
        what_zh=f"申请 {request_id} 的受理回执",
        layout=RECEIPT_LAYOUT,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/requests/{request_id}/receipt", get_receipt)
    app.router.add_get("/v1/requests/{request_id}/receipt.pdf", get_receipt_pdf)


_PARAMETERS = [
    {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}},
    {
        "name": "version",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1},
        "description": "An earlier version (default: the latest)",
    },
]
_ERRORS = {
    "400": openapi_problem("version is not a positive whole number"),
    "401": openapi_problem("Not authenticated: no credentials, or a signature or API key refused (docs/api.md)"),
    "404": openapi_problem("No such request visible to this caller"),
    "409": openapi_problem("no-receipt: the request was decided without waiting, or no such version"),
}

OPENAPI_PATHS: dict[str, Any] = {
    "/v1/requests/{request_id}/receipt": {
        "get": {
            "operationId": "getReceipt",
            "summary": "The sealed acceptance receipt (受理回执) of a request accepted but not yet decided",
            "description": "Sealed like a result (document_type onewindow.receipt.v1): item, applicant, accepting "
            "office and operator, the agency's case number once known (a new version is sealed when it appears), "
            "the promised due date and the status URL. Verify it with POST /v1/verify or onewindow verify.",
            "security": CALLER_SECURITY,
            "parameters": _PARAMETERS,
            "responses": {
                "200": {
                    "description": "The sealed receipt",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Receipt"}}},
                },
                **_ERRORS,
            },
        }
    },
    "/v1/requests/{request_id}/receipt.pdf": {
        "get": {
            "operationId": "getReceiptPrintout",
            "summary": "The sealed acceptance receipt as a signed PDF printout (PDF/A-3b, PAdES)",
            "security": CALLER_SECURITY,
            "parameters": _PARAMETERS,
            "responses": {
                "200": {
                    "description": "The signed printout of the receipt",
                    "content": {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                },
                **_ERRORS,
                "503": openapi_problem("printout-unavailable: the seal can no longer sign, or no CJK font"),
            },
        }
    },
}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Receipt": {
        "type": "object",
        "description": "A sealed acceptance receipt (受理回执): the members of a result document, its content "
        "the acceptance facts, and the seal block",
        "required": ["document_type", "request_id", "item", "office", "applicant", "content", "seal"],
        "properties": {
            "document_type": {"const": "onewindow.receipt.v1"},
            "request_id": {"type": "string"},
            "item": {"type": "string"},
            "agency_reference": {"type": ["string", "null"], "description": "The agency's case number, once known"},
            "content": {
                "type": "object",
                "properties": {
                    "version": {"type": "integer"},
                    "accepted_at": {"type": "string"},
                    "operator": {"type": "string"},
                    "channel": {"type": "string"},
                    "case_number": {"type": ["string", "null"]},
                    "time_limit_days": {"type": "integer"},
                    "due_on": {"type": ["string", "null"], "format": "date"},
                    "due_on_unknown": {"type": ["string", "null"]},
                    "status_url": {"type": "string"},
                },
            },
            "seal": {"type": "object"},
        },
    }
}
