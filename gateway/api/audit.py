"""``GET /v1/requests/{id}/audit-proof``: a sealed result carrying its audit inclusion proof.

The seal block's ``audit_proof`` (not covered by the seal signature, see
docs/seals.md) becomes an inclusion proof of the request's ``result.sealed``
entry against the latest signed checkpoint: evidence, independent of the
seal's claimed signing time, that this exact document (by its JCS digest)
was logged by then. It can only be given once a checkpoint covers the entry;
until then the answer is 202 with ``Retry-After``.

While the audit log is closed for damage (:mod:`gateway.audit.log`), no proof
is given (503 ``audit-unavailable``), and every ``POST`` is answered the same
way before it is handled (:func:`refuse_while_damaged`): each one is
recorded, and a damaged log records nothing -- so nothing is accepted,
sealed or verified-and-logged until an operator acts.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.api.openapi import CALLER_SECURITY, openapi_problem
from gateway.api.requests import visible_record
from gateway.api.responses import json_response, problem_response
from gateway.audit.proofs import prove_inclusion
from gateway.delivery.results import request_path
from gateway.errors import AuditIntegrityError, AuditUnavailable
from gateway.intake.request_ids import new_ulid
from gateway.observability.logs import get_logger
from gateway.problems import AUDIT_UNAVAILABLE, NO_SEALED_RESULT, ProblemError
from gateway.store import RequestStatus
from signing.audit.checkpoint import SignedCheckpoint
from signing.audit.document_proof import SEALED_KIND, check_audit_proof
from signing.audit.proof_files import build_inclusion_proof_file
from signing.errors import SigningError

_log = get_logger(component="audit-proof")


def damaged_problem(damage: Any) -> ProblemError:
    """The 503 answer while the audit log is closed for ``damage`` (or because its store is behind its witness)."""
    where = damage.where() if damage is not None else "see the gateway log"
    if getattr(damage, "state", "damaged") == "behind_witness":
        return ProblemError(
            AUDIT_UNAVAILABLE,
            f"The audit log is {where}: its store was restored from an older backup, so this gateway records, "
            "seals and proves nothing until an operator reconciles it with the witness.",
            f"审计日志落后于见证方（{where}）：存储已从较早的备份恢复，在运维人员完成核对之前，本网关不受理、不盖章、不出具证明。",
        )
    return ProblemError(
        AUDIT_UNAVAILABLE,
        f"The audit log was found damaged ({where}), so this gateway records, seals and proves nothing "
        "until an operator repairs it.",
        f"审计日志已损坏（{where}），在运维人员修复之前，本网关不受理、不盖章、不出具证明。",
    )


@web.middleware
async def refuse_while_damaged(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """While the audit log is closed, answer every POST with 503 ``audit-unavailable`` before handling it.

    The outermost middleware: a request already under way when the log
    closes meets :class:`AuditUnavailable` on its next event, and gets the
    same answer here.
    """
    audit = request.app[GATEWAY].audit
    if request.method == "POST" and audit is not None and audit.damage is not None:
        return _refusal(request, audit.damage)
    try:
        return await handler(request)
    except AuditUnavailable as exc:
        return _refusal(request, exc.damage)


def _refusal(request: web.Request, damage: Any) -> web.Response:
    request_id = new_ulid()
    response = problem_response(damaged_problem(damage), request_id=request_id, instance=request.path)
    response.headers["X-Request-Id"] = request_id
    return response


async def get_audit_proof(request: web.Request) -> web.Response:
    """The sealed result with ``seal.audit_proof`` filled, once a checkpoint covers it."""
    gateway = request.app[GATEWAY]
    record = await visible_record(request)
    request_id = record.id
    document = (record.result or {}).get("document") if record.status is RequestStatus.COMPLETED else None
    if not isinstance(document, dict) or not isinstance(document.get("seal"), dict):
        raise ProblemError(
            NO_SEALED_RESULT,
            f"Request {request_id} is {record.status}: it has no sealed result to prove.",
            f"申请 {request_id} 当前状态为 {record.status}，没有已盖章的结果。",
        )
    audit = gateway.audit
    if audit is None:
        raise ProblemError(
            AUDIT_UNAVAILABLE, "The audit log is switched off on this gateway.", "本网关未启用审计日志。"
        )
    if audit.damage is not None:
        raise damaged_problem(audit.damage)
    try:
        return await _prove(audit, record, document)
    except (AuditIntegrityError, SigningError, LookupError, ValueError) as exc:  # the store no longer adds up
        _log.error("audit.proof_refused", request_id=record.id, error=f"{type(exc).__name__}: {exc}")
        raise _unprovable() from None


def _unprovable() -> ProblemError:
    return ProblemError(
        AUDIT_UNAVAILABLE,
        "The stored audit tree does not prove this entry against its signed checkpoint.",
        "审计日志存储与已签名检查点不一致，无法出具证明。",
    )


async def _prove(audit: Any, record: Any, document: dict[str, Any]) -> web.Response:
    row = await audit.store.find_entry(record.id, SEALED_KIND)
    if row is None:
        raise ProblemError(
            NO_SEALED_RESULT,
            f"The audit log holds no {SEALED_KIND} entry for request {record.id}.",
            "审计日志中没有该申请的盖章记录。",
        )
    latest = await audit.store.latest_checkpoint()
    if latest is None or row[0] >= latest.tree_size:
        wait = math.ceil(await audit.seconds_to_next_checkpoint())
        body = {
            "status": "awaiting_checkpoint",
            "entry": row[0],
            "checkpoint_size": latest.tree_size if latest else None,
            "retry_after_s": wait,
        }
        headers = {"Retry-After": str(wait), "Location": request_path(record.id) + "/audit-proof"}
        return json_response(202, body, headers)
    signed = SignedCheckpoint.from_dict(latest.signed)
    path = await prove_inclusion(audit.store, row[0], latest.tree_size)
    key = audit.signer.public_key()
    proof = build_inclusion_proof_file(signed, row[0], path, entry=row[1], leaf_hash=row[2], public_key=key)
    verdict = check_audit_proof(document, proof, key)
    if not verdict:  # never hand out a proof that does not hold
        _log.error("audit.proof_refused", request_id=record.id, entry=row[0], error=verdict.reason)
        raise _unprovable()
    return json_response(200, {**document, "seal": {**document["seal"], "audit_proof": proof}})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/requests/{request_id}/audit-proof", get_audit_proof)


_AWAITING: dict[str, Any] = {
    "type": "object",
    "required": ["status", "entry", "retry_after_s"],
    "properties": {
        "status": {"const": "awaiting_checkpoint"},
        "entry": {"type": "integer", "description": "sequence number of the request's result.sealed entry"},
        "checkpoint_size": {"type": ["integer", "null"], "description": "tree size of the latest checkpoint"},
        "retry_after_s": {"type": "integer"},
    },
}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "AuditInclusionProof": {
        "type": "object",
        "description": "onewindow-inclusion-proof/v1 (docs/audit.md): the request's result.sealed entry, its RFC 9162 "
        "inclusion path and the signed checkpoint. Check offline with `onewindow audit check-proof` or "
        "signing.audit.document_proof.check_audit_proof(document, audit_proof, audit_public_key).",
        "required": ["format", "leaf_index", "tree_size", "entry", "proof", "checkpoint"],
        "properties": {
            "format": {"const": "onewindow-inclusion-proof/v1"},
            "leaf_index": {"type": "integer"},
            "tree_size": {"type": "integer"},
            "entry": {"type": "string", "contentEncoding": "base64"},
            "leaf_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "proof": {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
            "checkpoint": {"type": "object"},
            "public_key": {"type": "string"},
        },
    }
}
OPENAPI_PATHS: dict[str, Any] = {
    "/v1/requests/{request_id}/audit-proof": {
        "get": {
            "operationId": "getAuditProof",
            "summary": "The sealed result with seal.audit_proof: its inclusion proof in the signed audit log",
            "security": CALLER_SECURITY,
            "parameters": [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {
                    "description": "The sealed result document; seal.audit_proof is an AuditInclusionProof",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "202": {
                    "description": "Logged, but no signed checkpoint covers it yet: retry after Retry-After seconds",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    "content": {"application/json": {"schema": _AWAITING}},
                },
                "401": openapi_problem(
                    "Not authenticated: no credentials, or a signature or API key refused (docs/api.md)"
                ),
                "404": openapi_problem("No such request visible to this caller"),
                "409": openapi_problem("The request has no sealed result"),
                "503": openapi_problem(
                    "The audit log is off, or was found damaged, or its store does not match its checkpoints"
                ),
            },
        }
    }
}
