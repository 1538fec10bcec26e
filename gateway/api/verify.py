"""Verification for everyone who is handed a sealed result.

``POST /v1/verify`` checks a sealed document against the district's seal
registry (the gateway's current view of it: no root key involved; its own
district, so its root is pinned by construction) and answers with the
ETSI-style report, its plain-words rendering, the document it judged and
the seal drawn as the stamp -- red only when the verdict is TOTAL_PASSED.
The body is parsed as I-JSON: a member name twice is FORMAT_FAILURE naming
it, never a reading of one of the two values.  A request resource
(``{"id": ..., "result": {...}}``) is judged by its ``result``.  With the audit log on, a document's
``seal.audit_proof`` is checked with the gateway's audit key, which gives the
proof of existence a seal revoked for key compromise needs.  ``GET /verify``
is the page security staff use to paste or drop a document;
``GET /v1/trust-bundle`` hands out the signed bundle the bureau exported, so
anyone can verify offline with ``onewindow verify``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from aiohttp import web

from gateway.api.body import read_limited
from gateway.api.keys import GATEWAY
from gateway.api.openapi import openapi_problem
from gateway.api.responses import json_response
from gateway.errors import PrintoutUnavailable, TrustBundleUnavailable
from gateway.observability.logs import personal_values, sensitive
from gateway.printouts.printer import PDF_MEDIA_TYPE, timestamp_roots
from gateway.problems import (
    MALFORMED_REQUEST,
    PRINTOUT_UNAVAILABLE,
    TOO_MANY_REQUESTS,
    TRUST_BUNDLE_UNAVAILABLE,
    UNSUPPORTED_MEDIA_TYPE,
    ProblemError,
)
from signing import render_stamp_svg
from signing.audit.document_proof import audit_checker
from signing.errors import NotJsonError, PrintoutError
from signing.printout.reading import MAX_PDF_BYTES, is_pdf
from signing.printout.render import verification_code
from signing.printout.verify_pdf import verify_printout
from signing.verify.reading import verify_text
from signing.verify.report import VerificationReport
from signing.verify.verifier import AuditChecker

MAX_DOCUMENT_BYTES = 1_048_576
MAX_PRINTOUT_BYTES = MAX_PDF_BYTES
#: On ``GET /v1/trust-bundle``: why the served bundle is out of date (absent when it is not).
STALE_HEADER = "Onewindow-Trust-Bundle-Stale"
_PAGE = resources.files("gateway.api").joinpath("verify_page.html").read_text(encoding="utf-8")  # read once


class RateLimit:
    """A token bucket per client address: the public verification endpoint is open to anyone."""

    def __init__(self, per_second: float = 5.0, burst: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second, self.burst, self.clock = per_second, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> float:
        """0 when a request from ``client`` may go ahead now, else the seconds to wait."""
        now = self.clock()
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.per_second
        self._buckets[client] = (tokens - 1, now)
        if len(self._buckets) > 10_000:  # forget idle clients rather than grow without bound
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
        return 0.0


VERIFY_LIMIT: web.AppKey[RateLimit] = web.AppKey("verify_rate_limit", RateLimit)


async def post_verify(request: web.Request) -> web.Response:
    """Verify one sealed document; the verdict is in the body, the HTTP status is 200 for any verdict."""
    gateway = request.app[GATEWAY]
    wait = request.app[VERIFY_LIMIT].allow(request.remote or "unknown")
    if wait:
        raise ProblemError(
            TOO_MANY_REQUESTS,
            "Too many verification requests from this address.",
            "该地址的验证请求过于频繁，请稍后再试。",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    if request.content_type == PDF_MEDIA_TYPE:
        return await _verify_pdf(request, gateway)
    if request.content_type not in ("application/json", "application/problem+json") and request.body_exists:
        raise ProblemError(
            UNSUPPORTED_MEDIA_TYPE,
            f"Expected application/json or application/pdf, got {request.content_type}.",
            "请以 application/json（盖章的结果文书）或 application/pdf（打印件）格式提交。",
        )
    raw = await read_limited(request, min(MAX_DOCUMENT_BYTES, gateway.settings.max_body_bytes))
    try:
        verified = verify_text(raw, gateway.sealer.trust_view(), audit_checker=_audit_checker(gateway))
    except NotJsonError as exc:
        raise ProblemError(MALFORMED_REQUEST, f"The body is {exc}.", "请求内容不是合法的 JSON。") from None
    report, document = verified.report, verified.document
    await _record(gateway, raw, report, document)
    return json_response(200, {"format": "json", **_verdict(report, document)})


async def _verify_pdf(request: web.Request, gateway: Any) -> web.Response:
    """A printout: the PDF's verdict, and the verdict on the sealed JSON it carries."""
    raw = await read_limited(request, min(MAX_PRINTOUT_BYTES, gateway.settings.max_body_bytes))
    if not is_pdf(raw):
        raise ProblemError(
            MALFORMED_REQUEST, "The body is not a PDF (it does not start with %PDF-).", "请求内容不是 PDF 文件。"
        )
    trust = gateway.sealer.trust_view()
    try:
        roots = timestamp_roots(gateway.settings)
        result = await asyncio.to_thread(
            verify_printout, raw, trust, audit_checker=_audit_checker(gateway), tsa_roots=roots
        )
    except (PrintoutError, PrintoutUnavailable) as exc:
        raise ProblemError(
            PRINTOUT_UNAVAILABLE,
            f"This gateway cannot read printouts now: {exc}.",
            f"本网关暂时无法核验打印件：{exc}。",
        ) from None
    report, document = result.report, result.document
    await _record(gateway, raw, report, document)
    answer = {"format": "pdf", **_verdict(report, document)}
    inner = result.document_report
    answer["document_report"] = inner.to_dict() if inner is not None else None
    answer["document_text"] = inner.render() if inner is not None else None
    return json_response(200, answer)


async def _record(gateway: Any, raw: bytes, report: VerificationReport, document: dict[str, Any] | None) -> None:
    """``verification.requested`` in the audit log, the document's personal data masked wherever repeated."""
    with sensitive(personal_values(document) if document is not None else ()):
        await gateway.events.emit(
            "verification.requested",
            document_digest=gateway.events.digest(raw, request_id=report.request_id),
            indication=report.indication.value,
            sub_indication=report.sub_indication.value if report.sub_indication else None,
            seal_number=report.seal_number,
            request_id=report.request_id,
        )


def _verdict(report: VerificationReport, document: dict[str, Any] | None) -> dict[str, Any]:
    """The body every verification answers with: the report, its words, the stamp, the content, its code."""
    content = {k: v for k, v in document.items() if k != "seal"} if document is not None else None
    code = _code(document)
    return {
        "report": report.to_dict(),
        "text": report.render(),
        "stamp_svg": _stamp(report),
        "document": content,
        "verification_code": code,
    }


def _code(document: dict[str, Any] | None) -> str | None:
    """The document's verification code (what a printout prints and its QR code names), when it has one."""
    if document is None:
        return None
    try:
        return verification_code(document)
    except ValueError:  # content that has no canonical form has no code
        return None


def _stamp(report: VerificationReport) -> str | None:
    """The seal as a picture: red for TOTAL_PASSED only; grey and struck through for every other verdict."""
    if not (report.seal_number and report.holder_name and report.kind):
        return None
    return render_stamp_svg(report.holder_name, report.seal_number, report.kind.value, void=not report.passed)


def _audit_checker(gateway: Any) -> AuditChecker | None:
    """The audit-proof check with this gateway's audit key; None when the audit log is off."""
    audit = gateway.audit
    if audit is None or audit.signer is None:
        return None
    return audit_checker(audit.signer.public_key())


async def get_trust_bundle(request: web.Request) -> web.Response:
    """The signed trust bundle the bureau exported (byte for byte), for offline verification."""
    try:
        published = request.app[GATEWAY].sealer.published_bundle()
    except TrustBundleUnavailable as exc:
        raise ProblemError(
            TRUST_BUNDLE_UNAVAILABLE,
            f"{exc}.",
            "本网关没有区行政审批服务局导出的有效信任包（印章登记目录中的 trust-bundle.json）："
            "请在保存根证书密钥的计算机上运行 onewindow seal export-trust 并复制到本网关。",
        ) from None
    headers = {"Content-Disposition": 'attachment; filename="trust-bundle.json"', "Cache-Control": "no-cache"}
    stale = published.stale(datetime.now(UTC))
    if stale:
        headers[STALE_HEADER] = ", ".join(stale)
    return web.Response(body=published.body, content_type="application/json", charset="utf-8", headers=headers)


async def get_page(request: web.Request) -> web.Response:
    """The verification page (self-contained: no external scripts, styles or fonts)."""
    return web.Response(
        text=_PAGE,
        content_type="text/html",
        headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'; img-src 'self' data:"
        },
    )


def add_routes(app: web.Application) -> None:
    app[VERIFY_LIMIT] = RateLimit()
    app.router.add_post("/v1/verify", post_verify)
    app.router.add_get("/v1/trust-bundle", get_trust_bundle)
    app.router.add_get("/verify", get_page)


_REPORT: dict[str, Any] = {
    "type": "object",
    "required": ["report", "text"],
    "properties": {
        "report": {"$ref": "#/components/schemas/VerificationReport"},
        "text": {"type": "string", "description": "The verdict in plain words, Chinese and English."},
        "stamp_svg": {
            "type": ["string", "null"],
            "description": "The seal drawn as the round stamp (SVG): red for TOTAL_PASSED, grey and struck through "
            "with 未通过验证 / NOT VALID for every other verdict.",
        },
        "format": {"enum": ["json", "pdf"], "description": "What was judged: a sealed JSON result or a printout."},
        "verification_code": {
            "type": ["string", "null"],
            "description": "base64url SHA-256 of the judged document's canonical JSON without its seal: the code a "
            "printout prints and its QR code names",
        },
        "document_report": {
            "oneOf": [{"$ref": "#/components/schemas/VerificationReport"}, {"type": "null"}],
            "description": "For a printout: the verdict on the sealed JSON it carries, on its own.",
        },
        "document_text": {"type": ["string", "null"], "description": "That verdict in plain words."},
        "document": {
            "type": ["object", "null"],
            "description": "The sealed document that was judged, without its seal block (a request resource's "
            "`result`); null when the body held none that could be read unambiguously (e.g. a member name twice).",
        },
    },
}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "VerificationReport": {
        "type": "object",
        "description": "ETSI EN 319 102-1 vocabulary: indication TOTAL_PASSED, TOTAL_FAILED or INDETERMINATE, "
        "with a sub-indication such as HASH_FAILURE, SIG_CRYPTO_FAILURE, REVOKED, REVOKED_NO_POE, EXPIRED, "
        "NOT_YET_VALID, NO_CERTIFICATE_CHAIN_FOUND, FORMAT_FAILURE, SIG_CONSTRAINTS_FAILURE or TRY_LATER. "
        "REVOKED_NO_POE (INDETERMINATE): the seal was revoked for key compromise after the claimed signing time and "
        "no audit-log proof shows the document existed before the revocation. FORMAT_FAILURE includes a document "
        "that names a member twice (I-JSON, RFC 7493). `trust` says which root judged it (this gateway's own "
        "registry) and `words` and each check's `label` give the verdict in words.",
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
            "notes": {"type": "array", "items": {"type": "string"}},
            "root_sha256": {"type": ["string", "null"], "description": "SHA-256 of the district root certificate"},
            "trust": {
                "type": ["object", "null"],
                "description": "root_sha256, anchor {source, detail}, bundle_issued_at, bundle_next_update, "
                "stale_bundle_accepted",
            },
            "words": {"type": "object", "description": "verdict, reason and seal kind as {zh, en} words"},
            "checks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "label": {"type": "object", "description": "{zh, en}"},
                        "passed": {"type": ["boolean", "null"]},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    }
}
OPENAPI_PATHS: dict[str, Any] = {
    "/v1/verify": {
        "post": {
            "operationId": "verifySealedDocument",
            "summary": "Verify a sealed result document, or a request resource by its result (any verdict is a 200)",
            "description": "A sealed result (or the request resource carrying it) as application/json, or a printout "
            "(GET /v1/requests/{id}/document.pdf) as application/pdf: then the report judges the PDF's PAdES "
            "signature, the sealed JSON it carries and what its pages show, and `document_report` is the verdict on "
            "the sealed JSON alone.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                },
            },
            "responses": {
                "200": {"description": "The verification report", "content": {"application/json": {"schema": _REPORT}}},
                "400": openapi_problem(
                    "Not JSON at all, or not a PDF (JSON that is not I-JSON, or a PDF that is no printout, is a "
                    "FORMAT_FAILURE verdict)"
                ),
                "413": openapi_problem("Document over 1 MiB, printout over 8 MiB"),
                "415": openapi_problem("Neither application/json nor application/pdf"),
                "429": openapi_problem("More than 5 verifications a second (bursts of 20) from one address"),
                "503": openapi_problem(
                    "printout-unavailable: this gateway cannot read PDFs now (its PDF libraries or time-stamp roots); "
                    "audit-unavailable: the audit log was found damaged, so it records no verification until repaired"
                ),
            },
        }
    },
    "/v1/trust-bundle": {
        "get": {
            "operationId": "getTrustBundle",
            "summary": "The district's trust bundle (root, seal registry with status history, CRL), signed by the root",
            "description": "The bundle the district bureau exported with `onewindow seal export-trust` into the "
            "gateway's seal registry directory (`trust-bundle.json`), served byte for byte: the gateway never holds "
            "the root key and never signs a bundle itself. When the bundle is out of date it is still served, with "
            f"the `{STALE_HEADER}` header; the bureau should re-export it.",
            "responses": {
                "200": {
                    "description": "Trust bundle",
                    "headers": {
                        STALE_HEADER: {
                            "description": "Present only when the bundle is out of date; comma-separated reasons: "
                            "`registry-changed` (the seal registry holds a change, such as a revocation, that the "
                            "bundle does not show) and `next-update-passed` (the bundle's next_update has passed).",
                            "schema": {"type": "string", "example": "registry-changed"},
                        }
                    },
                    "content": {"application/json": {}},
                },
                "503": openapi_problem(
                    "trust-bundle-unavailable: no exported trust-bundle.json on this gateway, or not a valid "
                    "bundle of this district's root"
                ),
            },
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
