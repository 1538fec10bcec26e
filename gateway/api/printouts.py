"""``GET /v1/requests/{id}/document.pdf``: the sealed result as the printout the applicant takes home.

The official document of the item (its catalogue layout, or the generic one),
the numbered seal drawn as the stamp, a QR code to the verification page,
signed PAdES with the same seal and carrying the sealed JSON (PDF/A-3b):
see docs/seals.md, "Printouts".  Who may read the request may print it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.api.openapi import CALLER_SECURITY, openapi_problem
from gateway.api.requests import visible_record
from gateway.errors import PrintoutUnavailable
from gateway.printouts.printer import PDF_MEDIA_TYPE, print_result
from gateway.problems import NO_SEALED_RESULT, PRINTOUT_UNAVAILABLE, ProblemError
from gateway.store import RequestStatus
from signing.printout.layout import Layout


async def get_printout(request: web.Request) -> web.Response:
    """The signed PDF printout of a completed request's sealed result."""
    record = await visible_record(request)
    document = (record.result or {}).get("document") if record.status is RequestStatus.COMPLETED else None
    if not isinstance(document, dict) or not isinstance(document.get("seal"), dict):
        raise ProblemError(
            NO_SEALED_RESULT,
            f"Request {record.id} is {record.status}: it has no sealed result to print.",
            f"申请 {record.id} 当前状态为 {record.status}，没有可打印的已盖章结果。",
        )
    return await printout_response(
        request, document, what_en=f"The sealed result of request {record.id}", what_zh=f"申请 {record.id} 的盖章结果"
    )


async def printout_response(
    request: web.Request,
    document: dict[str, Any],
    *,
    what_en: str,
    what_zh: str,
    layout: Layout | None = None,
    status: int = 200,
) -> web.Response:
    """``document``'s signed printout as the answer; ``printout-unavailable`` naming ``what`` if it cannot be made."""
    try:
        printed = await print_result(request.app[GATEWAY], document, layout=layout)
    except PrintoutUnavailable as exc:
        raise ProblemError(
            PRINTOUT_UNAVAILABLE,
            f"{what_en} cannot be printed now: {exc}.",
            f"{what_zh}暂时无法出具打印件：{exc}。",
        ) from None
    return web.Response(
        status=status,
        body=printed.pdf,
        content_type=PDF_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'inline; filename="{printed.filename}"',
            "Cache-Control": "no-store",  # personal data: no shared cache keeps it
            "Onewindow-PAdES-Level": printed.pades_level,
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/requests/{request_id}/document.pdf", get_printout)


OPENAPI_PATHS: dict[str, Any] = {
    "/v1/requests/{request_id}/document.pdf": {
        "get": {
            "operationId": "getPrintout",
            "summary": "The sealed result as a signed PDF printout (PDF/A-3b, PAdES, the sealed JSON attached)",
            "description": "The official document of the item, laid out from its catalogue entry, with the numbered "
            "seal drawn as the stamp and a QR code to the verification page; signed by the same seal as a PAdES "
            "signature (B-B, or B-T when a time-stamping authority is configured) with the seal certificate and the "
            "district root embedded. Each call signs afresh; the pages are the same for the same result.",
            "security": CALLER_SECURITY,
            "parameters": [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {
                    "description": "The signed printout",
                    "headers": {
                        "Onewindow-PAdES-Level": {
                            "description": "B-B, or B-T when the signature carries a time-stamp",
                            "schema": {"type": "string", "enum": ["B-B", "B-T"]},
                        }
                    },
                    "content": {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                },
                "401": openapi_problem(
                    "Not authenticated: no credentials, or a signature or API key refused (docs/api.md)"
                ),
                "404": openapi_problem("No such request visible to this caller"),
                "409": openapi_problem("The request has no sealed result (yet)"),
                "503": openapi_problem(
                    "printout-unavailable: the seal can no longer sign, or the host lacks the font or PDF libraries"
                ),
            },
        }
    }
}
