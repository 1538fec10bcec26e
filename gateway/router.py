"""The core router: one intake request from envelope to sealed answer.

The data path of DESIGN.md, in order: look the item up in the catalogue,
authorise the caller, validate everything at once, claim the idempotency
key, record the request, call the agency through the extranet, turn its
outcome into a final status (sealing completed results), and answer. HTTP
lives in :mod:`gateway.http`; this module is the same for every transport.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import pluggy

from gateway.callers import Caller, authorise
from gateway.catalogue import Item
from gateway.config import Office, Settings
from gateway.contract import (
    AgencyError,
    AgencyProtocolError,
    AgencyUnavailable,
    Completed,
    IntakeRequest,
    Outcome,
    Pending,
    Problem,
    Rejected,
)
from gateway.envelope import Envelope, parse_envelope
from gateway.events import Events, digest
from gateway.extranet import Extranet
from gateway.logs import get_logger, sensitive
from gateway.plugins import gather_hook
from gateway.problems import (
    AGENCY_PROTOCOL_ERROR,
    AGENCY_UNAVAILABLE,
    IDEMPOTENCY_IN_FLIGHT,
    IDEMPOTENCY_MISMATCH,
    SEAL_UNAVAILABLE,
    UNKNOWN_ITEM,
    VALIDATION_FAILED,
    ProblemError,
)
from gateway.registry import Registry
from gateway.results import reasons_json, request_path, request_view, result_document
from gateway.store import ClaimState, RequestRecord, RequestStatus, Store, utcnow


class SealUnavailable(Exception):
    """The accepting office holds no valid seal covering the item."""


class Sealer(Protocol):
    """Seals result documents; see :mod:`gateway.sealing`."""

    def check(self, item: Item, office: Office) -> None:
        """Raise :class:`SealUnavailable` unless a result for ``item`` at ``office`` can be sealed."""

    def seal(self, document: dict[str, Any], *, item: Item, office: Office, request_id: str) -> dict[str, Any]:
        """Return ``document`` with its ``seal`` block."""


@dataclass
class Answer:
    """What to send back: an HTTP status, a JSON body and headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    retryable: bool = False


def problems_json(problems: list[Problem]) -> list[dict[str, str]]:
    return [{"path": p.path, "code": p.code, "message_zh": p.message_zh, "message_en": p.message_en}
            for p in problems]


def intake_request(request_id: str, envelope: Envelope) -> IntakeRequest:
    return IntakeRequest(
        request_id=request_id,
        item=envelope.item,
        applicant=envelope.applicant,
        materials=envelope.materials,
        office=envelope.office,
        operator=envelope.operator,
        channel=envelope.channel,
        pledge=envelope.pledge,
    )


def envelope_json(envelope: Envelope) -> dict[str, Any]:
    """The envelope as stored with the request (so it can be redelivered)."""
    a, p = envelope.applicant, envelope.pledge
    return {
        "item": envelope.item,
        "applicant": {"kind": a.kind, "id_type": a.id_type, "id_number": a.id_number, "name": a.name,
                      "phone": a.phone},
        "materials": dict(envelope.materials),
        "office": envelope.office,
        "operator": envelope.operator,
        "channel": envelope.channel,
        "pledge": None if p is None else {"replaces": list(p.replaces), "statement": p.statement,
                                          "signed_by": p.signed_by, "signed_at": p.signed_at},
        "callback_url": envelope.callback_url,
    }


class Router:
    """Runs intake requests through the data path."""

    def __init__(
        self,
        *,
        settings: Settings,
        registry: Registry,
        store: Store,
        extranet: Extranet,
        events: Events,
        pm: pluggy.PluginManager,
        sealer: Sealer,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.extranet = extranet
        self.events = events
        self.pm = pm
        self.sealer = sealer
        self.log = get_logger(component="router")

    # -- the intake path --------------------------------------------------

    async def submit(
        self, caller: Caller, body: Mapping[str, Any], *, request_id: str, idempotency_key: str | None
    ) -> Answer:
        """Handle one ``POST /v1/requests`` envelope from ``caller``."""
        item = self._item(body)
        office = body.get("office") if isinstance(body.get("office"), str) else caller.office.code
        channel = body.get("channel") if isinstance(body.get("channel"), str) else caller.channel
        try:
            authorise(caller, item, office=office, channel=channel)
        except ProblemError as denied:
            await self.events.emit("authorisation.denied", request_id=request_id, caller=caller.id,
                                   item=item.code, office=office, channel=channel, reason=denied.detail_en)
            raise
        applicant = body.get("applicant") if isinstance(body.get("applicant"), Mapping) else {}
        with sensitive([applicant.get("name"), applicant.get("id_number")]):
            envelope = await self._validate(caller, item, body, request_id)
            self.sealer.check(item, caller.office)
            if idempotency_key is None:
                return await self._run(caller, item, envelope, request_id, resumed=False)
            return await self._run_idempotent(caller, item, envelope, body, request_id, idempotency_key)

    def _item(self, body: Mapping[str, Any]) -> Item:
        code = body.get("item")
        if not isinstance(code, str) or not code:
            raise ProblemError(
                VALIDATION_FAILED, "The envelope names no item.", "请求未指明办理事项。",
                errors=[{"path": "item", "code": "required", "message_zh": "缺少事项编码",
                         "message_en": "item (a catalogue code) is required"}],
            )
        item = self.registry.catalogue.get(code)
        if item is None:
            raise ProblemError(UNKNOWN_ITEM, f"No catalogue item is called {code!r}.",
                               f"事项目录中没有编码为 {code} 的事项。", item=code)
        return item

    async def _validate(self, caller: Caller, item: Item, body: Mapping[str, Any], request_id: str) -> Envelope:
        envelope, problems = parse_envelope(body, item, max_attachment_bytes=self.settings.max_attachment_bytes)
        if envelope is not None:
            request = intake_request(request_id, envelope)
            for extra in await gather_hook(self.pm.hook.onewindow_validate, item=item, request=request):
                problems.extend(extra or [])
        if problems:
            await self.events.emit("validation.failed", request_id=request_id, caller=caller.id, item=item.code,
                                   problems=[f"{p.path}:{p.code}" for p in problems])
            raise ProblemError(
                VALIDATION_FAILED,
                f"{len(problems)} problem(s) with the request; every one is listed in 'errors'.",
                f"申请共有 {len(problems)} 处问题，已在 errors 中一次性列出。",
                errors=problems_json(problems),
                item=item.code,
            )
        assert envelope is not None
        return envelope

    async def _run_idempotent(
        self, caller: Caller, item: Item, envelope: Envelope, body: Mapping[str, Any], request_id: str, key: str
    ) -> Answer:
        now = utcnow()
        claim = await self.store.claim_idempotency_key(
            caller.id,
            key,
            body_digest=digest(body),
            request_id=request_id,
            now=now,
            expires_at=now + timedelta(hours=self.settings.idempotency_ttl_hours),
            lease_until=now + timedelta(seconds=self.settings.request_deadline_s * 2),
        )
        if claim.state is ClaimState.REPLAY:
            headers = {**(claim.headers or {}), "Idempotent-Replayed": "true"}
            return Answer(claim.status_code or 200, claim.response or {}, headers)
        if claim.state is ClaimState.MISMATCH:
            raise ProblemError(IDEMPOTENCY_MISMATCH, "This Idempotency-Key was used with a different body.",
                               "该幂等键已用于内容不同的请求。", original_request_id=claim.request_id)
        if claim.state is ClaimState.IN_FLIGHT:
            raise ProblemError(IDEMPOTENCY_IN_FLIGHT, "A request with this Idempotency-Key is still in progress.",
                               "相同幂等键的请求正在处理中，请稍后重试。", headers={"Retry-After": "1"},
                               original_request_id=claim.request_id)
        answer: Answer | None = None
        try:
            answer = await self._run(caller, item, envelope, claim.request_id,
                                     resumed=claim.state is ClaimState.RESUME)
            return answer
        except ProblemError as problem:
            answer = Answer(problem.kind.status, problem.body(request_id=claim.request_id, instance=None),
                            problem.headers, retryable=problem.kind.status >= 500)
            raise
        finally:
            if answer is None:  # an unexpected failure: let the client's retry resume it
                answer = Answer(500, {}, retryable=True)
            await self.store.finish_idempotency_key(
                caller.id, key, status_code=answer.status, response={"body": answer.body, "headers": answer.headers},
                retryable=answer.retryable,
            )

    async def _run(self, caller: Caller, item: Item, envelope: Envelope, request_id: str, *, resumed: bool) -> Answer:
        record = await self.store.get_request(request_id) if resumed else None
        if record is not None and record.status is not RequestStatus.FAILED and record.status is not RequestStatus.ACCEPTED:
            return self.answer_for(record)
        if record is None:
            now = utcnow()
            record = RequestRecord(
                id=request_id, caller_id=caller.id, item=item.code, agency=item.agency, office=envelope.office,
                operator=envelope.operator, channel=envelope.channel, status=RequestStatus.ACCEPTED,
                envelope=envelope_json(envelope), created_at=now, updated_at=now,
                callback_url=envelope.callback_url,
            )
            await self.store.insert_request(record)
            await self.events.emit(
                "request.accepted", request_id=request_id, caller=caller.id, office=envelope.office,
                operator=envelope.operator, channel=envelope.channel, item=item.code,
                request_digest=digest(record.envelope), pledge=envelope.pledge is not None,
            )
        return await self.deliver(record, item, deadline=time.monotonic() + self.settings.request_deadline_s)

    # -- delivery and outcomes (also used by background workers) ----------

    async def deliver(self, record: RequestRecord, item: Item, *, deadline: float) -> Answer:
        """Submit a recorded request to its agency and settle the outcome."""
        agency = self.registry.agency_for(item.code)
        envelope, _ = parse_envelope(record.envelope, item, max_attachment_bytes=self.settings.max_attachment_bytes)
        if envelope is None:
            raise RuntimeError(f"stored envelope of {record.id} no longer validates against {item.code}")
        request = intake_request(record.id, envelope)
        log = self.log.bind(request_id=record.id, item=item.code)
        attempts_before = record.attempts
        try:
            outcome = await self.extranet.call(
                agency.code, "submit", lambda call: agency.submit(request, call),
                dedupe_key=record.id, deadline=deadline, item=item.code, log=log,
            )
        except AgencyError as exc:
            return await self._agency_failed(record, item, exc, attempts_before + 1)
        return await self.settle(record, item, outcome, attempts=attempts_before + 1)

    async def settle(self, record: RequestRecord, item: Item, outcome: Outcome, *, attempts: int) -> Answer:
        """Store ``outcome`` as the request's new status and answer accordingly."""
        office = self.settings.office(record.office)
        assert office is not None
        now = utcnow()
        if isinstance(outcome, Completed):
            envelope, _ = parse_envelope(record.envelope, item, max_attachment_bytes=self.settings.max_attachment_bytes)
            assert envelope is not None
            document = result_document(
                request_id=record.id, item=item, agency=self.registry.agency_for(item.code), office=office,
                applicant=envelope.applicant, content=outcome.document, reference=outcome.reference,
            )
            try:
                sealed = self.sealer.seal(document, item=item, office=office, request_id=record.id)
            except SealUnavailable as exc:
                await self.store.update_request(
                    record.id, status=RequestStatus.FAILED, attempts=attempts, agency_reference=outcome.reference,
                    result={"unsealed": document}, error={"code": "seal_unavailable", "message": str(exc)},
                )
                await self.events.emit("request.failed", request_id=record.id, item=item.code,
                                       reason="seal_unavailable")
                raise ProblemError(SEAL_UNAVAILABLE, str(exc), "受理机构没有覆盖该事项的有效电子印章。") from exc
            seal = sealed.get("seal", {})
            await self.events.emit("result.sealed", request_id=record.id, item=item.code,
                                   seal_number=seal.get("seal_number"), document_digest=digest(document))
            await self.store.update_request(
                record.id, status=RequestStatus.COMPLETED, attempts=attempts, agency_reference=outcome.reference,
                result={"document": sealed}, error=None, finished_at=now, ticket=None,
            )
            await self.events.emit("request.completed", request_id=record.id, item=item.code,
                                   result_digest=digest(sealed))
        elif isinstance(outcome, Rejected):
            await self.store.update_request(
                record.id, status=RequestStatus.REJECTED, attempts=attempts, agency_reference=outcome.reference,
                result={"reasons": reasons_json(outcome.reasons)}, finished_at=now, ticket=None,
            )
            await self.events.emit("request.rejected", request_id=record.id, item=item.code,
                                   reasons=[r.code for r in outcome.reasons])
        elif isinstance(outcome, Pending):
            await self.store.update_request(record.id, status=RequestStatus.PENDING, attempts=attempts,
                                            ticket=outcome.ticket)
            await self.events.emit("request.pending", request_id=record.id, item=item.code,
                                   poll_after_s=outcome.poll_after)
        else:
            raise AgencyProtocolError(f"plugin returned {type(outcome).__name__}, not an Outcome")
        fresh = await self.store.get_request(record.id)
        assert fresh is not None
        if fresh.status.final:
            await self.notify_finished(item, fresh, outcome)
        return self.answer_for(fresh)

    async def notify_finished(self, item: Item, record: RequestRecord, outcome: Outcome | None) -> None:
        """Tell plugins a request reached a final status; their errors never change it."""
        try:
            await gather_hook(self.pm.hook.onewindow_request_finished, item=item, request_id=record.id,
                              status=str(record.status), outcome=outcome)
        except Exception as exc:
            self.log.warning("hook.request_finished.failed", request_id=record.id, error=repr(exc))

    async def _agency_failed(self, record: RequestRecord, item: Item, exc: AgencyError, attempts: int) -> Answer:
        unavailable = isinstance(exc, AgencyUnavailable)
        await self.store.update_request(
            record.id, status=RequestStatus.FAILED, attempts=attempts,
            error={"code": "agency_unavailable" if unavailable else "agency_error",
                   "kind": type(exc).__name__, "message": str(exc)},
        )
        await self.events.emit("request.failed", request_id=record.id, item=item.code,
                               reason=type(exc).__name__, detail=str(exc))
        if unavailable:
            retry_after = getattr(exc, "retry_after", None) or 30
            raise ProblemError(
                AGENCY_UNAVAILABLE, f"The {item.agency} system is unavailable: {exc}",
                "部门系统暂时无法访问，请稍后使用相同的幂等键重试。",
                headers={"Retry-After": str(int(retry_after + 0.999))}, item=item.code,
            )
        raise ProblemError(AGENCY_PROTOCOL_ERROR, f"The {item.agency} system answered unexpectedly: {exc}",
                           "部门系统返回了无法识别的结果。", item=item.code, error_kind=type(exc).__name__)

    def answer_for(self, record: RequestRecord) -> Answer:
        """The HTTP answer describing ``record`` as it stands."""
        status = 202 if record.status in (RequestStatus.PENDING, RequestStatus.DEFERRED,
                                          RequestStatus.ACCEPTED) else 201
        return Answer(status, request_view(record), {"Location": request_path(record.id)})
