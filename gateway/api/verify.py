"""Verification for everyone who is handed a sealed result.

``POST /v1/verify`` checks a sealed document against the district's trust
bundle and answers with the ETSI-style report, its plain-words rendering and
the seal drawn as the red stamp; ``GET /verify`` is the page security staff
use to paste or drop a document; ``GET /v1/trust-bundle`` hands out the
bundle itself so anyone can verify offline with ``onewindow verify``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from aiohttp import web

from gateway.api.body import read_json_object
from gateway.api.keys import GATEWAY
from gateway.api.openapi import problem_response
from gateway.api.requests import json_response
from gateway.events import digest
from signing import render_stamp_svg, verify_document

MAX_DOCUMENT_BYTES = 1_048_576
_PAGE = resources.files("gateway.api").joinpath("verify_page.html")


async def post_verify(request: web.Request) -> web.Response:
    """Verify one sealed document; the verdict is in the body, the HTTP status is 200 for any verdict."""
    gateway = request.app[GATEWAY]
    document = await read_json_object(request, min(MAX_DOCUMENT_BYTES, gateway.settings.max_body_bytes))
    _, trust = gateway.sealer.trust_bundle()
    report = verify_document(document, trust)
    stamp = None
    if report.seal_number and report.holder_name and report.kind:
        stamp = render_stamp_svg(report.holder_name, report.seal_number, report.kind.value)
    await gateway.events.emit(
        "verification.requested",
        document_digest=digest(document),
        indication=report.indication.value,
        sub_indication=report.sub_indication.value if report.sub_indication else None,
        seal_number=report.seal_number,
        request_id=report.request_id,
    )
    return json_response(200, {"report": report.to_dict(), "text": report.render(), "stamp_svg": stamp})


async def get_trust_bundle(request: web.Request) -> web.Response:
    """The district's signed trust bundle, for offline verification."""
    data, _ = request.app[GATEWAY].sealer.trust_bundle()
    return web.Response(
        text=json.dumps(data, ensure_ascii=False),
        content_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="trust-bundle.json"', "Cache-Control": "no-cache"},
    )


async def get_page(request: web.Request) -> web.Response:
    """The verification page (self-contained: no external scripts, styles or fonts)."""
    return web.Response(
        text=_PAGE.read_text(encoding="utf-8"),
        content_type="text/html",
        headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'; img-src 'self' data:"
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/verify", post_verify)
    app.router.add_get("/v1/trust-bundle", get_trust_bundle)
    app.router.add_get("/verify", get_page)


_REPORT: dict[str, Any] = {
    "type": "object",
    "required": ["report", "text"],
    "properties": {
        "report": {"$ref": "#/components/schemas/VerificationReport"},
        "text": {"type": "string", "description": "The verdict in plain words, Chinese and English."},
        "stamp_svg": {"type": ["string", "null"], "description": "The seal drawn as the red round stamp (SVG)."},
    },
}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "VerificationReport": {
        "type": "object",
        "description": "ETSI EN 319 102-1 vocabulary: indication TOTAL_PASSED, TOTAL_FAILED or INDETERMINATE, "
        "with a sub-indication such as HASH_FAILURE, SIG_CRYPTO_FAILURE, REVOKED, EXPIRED, NOT_YET_VALID, "
        "NO_CERTIFICATE_CHAIN_FOUND, FORMAT_FAILURE or SIG_CONSTRAINTS_FAILURE.",
        "properties": {
            "indication": {"enum": ["TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"]},
            "sub_indication": {"type": ["string", "null"]},
            "seal_number": {"type": ["string", "null"]},
            "holder": {"type": "object"},
            "kind": {"type": ["string", "null"]},
            "item": {"type": ["string", "null"]},
            "request_id": {"type": ["string", "null"]},
            "signed_at": {"type": ["string", "null"]},
            "revocation_note": {"type": ["string", "null"]},
            "checks": {"type": "array", "items": {"type": "object"}},
        },
    }
}
OPENAPI_PATHS: dict[str, Any] = {
    "/v1/verify": {
        "post": {
            "operationId": "verifySealedDocument",
            "summary": "Verify a sealed result document (any verdict is a 200)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": {"description": "The verification report", "content": {"application/json": {"schema": _REPORT}}},
                "400": problem_response("Not JSON, or not a JSON object"),
                "413": problem_response("Document over 1 MiB"),
                "415": problem_response("Not application/json"),
            },
        }
    },
    "/v1/trust-bundle": {
        "get": {
            "operationId": "getTrustBundle",
            "summary": "The district's trust bundle (root, seal registry with status history, CRL), signed by the root",
            "responses": {"200": {"description": "Trust bundle", "content": {"application/json": {}}}},
        }
    },
    "/verify": {
        "get": {
            "operationId": "verificationPage",
            "summary": "The verification page for security staff",
            "responses": {"200": {"description": "HTML page", "content": {"text/html": {}}}},
        }
    },
}
