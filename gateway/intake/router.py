"""The core router: the intake path of one request, from envelope to answer.

The data path of DESIGN.md, in order: look the item up in the catalogue,
authorise the caller, validate everything at once, make sure a result could
be sealed, claim the idempotency key, record the request together with its
outbox row, and hand it to :mod:`gateway.delivery.delivery`. HTTP lives in
:mod:`gateway.api`; this module is the same for every transport.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pluggy

from gateway.agencies.installed import Registry
from gateway.catalogue.items import Item
from gateway.config import Settings
from gateway.contract import Problem
from gateway.delivery.accepted import Envelope, stored_envelope
from gateway.delivery.delivery import Delivery
from gateway.delivery.results import Answer, answer_for
from gateway.errors import SealUnavailable
from gateway.intake.callers import Caller, authorise
from gateway.intake.checking import IntakeChecks
from gateway.intake.kept_answers import is_request_answer, kept_answer, missing_request
from gateway.intake.lost_keys import key_digest, same_body
from gateway.observability.events import Events, digest
from gateway.observability.logs import get_logger, sensitive
from gateway.problems import (
    IDEMPOTENCY_IN_FLIGHT,
    IDEMPOTENCY_MISMATCH,
    SEAL_UNAVAILABLE,
    ProblemError,
    echo,
)
from gateway.proxy.authorisation import audit_fields
from gateway.service.calendar import OfficialCalendar
from gateway.service.time_limits import due_date
from gateway.store import ClaimState, IdempotencyClaim, RequestRecord, RequestStatus, Store, utcnow

LEASE_MARGIN_S = 5.0


def instance_name() -> str:
    """A name for this process, unique among the gateway's instances."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Router:
    """Runs intake requests through the data path."""

    def __init__(
        self,
        *,
        settings: Settings,
        registry: Registry,
        store: Store,
        events: Events,
        pm: pluggy.PluginManager,
        delivery: Delivery,
        instance: str | None = None,
        calendar: OfficialCalendar,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.events = events
        self.pm = pm
        self.delivery = delivery
        self.instance = instance or instance_name()
        self.calendar = calendar
        self.checks = IntakeChecks(settings=settings, registry=registry, events=events, delivery=delivery)
        self.log = get_logger(component="router")
        self._in_flight: set[asyncio.Task[Answer]] = set()  # intake calls waiting on their agency
        self._interrupted = False

    def interrupt(self) -> int:
        """Stopping, at the end of the grace period: interrupt every intake call still waiting on its agency.

        Each interrupted caller is answered ``202`` with its request as it
        stands (accepted, in the outbox, its lease released so the next
        instance delivers it at once); the interrupted attempt is audited.
        Returns how many calls were interrupted.
        """
        self._interrupted = True
        pending = [task for task in self._in_flight if not task.done()]
        for task in pending:
            task.cancel()
        return len(pending)

    async def submit(
        self, caller: Caller, body: Mapping[str, Any], *, request_id: str, idempotency_key: str | None
    ) -> Answer:
        """Handle one ``POST /v1/requests`` envelope from ``caller``."""
        try:
            item = self.checks.item(body)
        except ProblemError:
            requested = body.get("item")
            await self.events.emit(
                "validation.failed",
                request_id=request_id,
                caller=caller.id,
                item_requested=echo(requested) if isinstance(requested, str) else None,
                problems=["item:unknown" if isinstance(requested, str) and requested else "item:required"],
            )
            raise
        office = body.get("office")
        office = office if isinstance(office, str) else caller.office.code
        channel = body.get("channel")
        channel = channel if isinstance(channel, str) else caller.channel
        try:
            authorise(caller, item, office=office, channel=channel)
        except ProblemError as denied:
            await self.events.emit(
                "authorisation.denied",
                request_id=request_id,
                caller=caller.id,
                item=item.code,
                office=echo(office),
                channel=echo(channel),
                reason=denied.detail_en,
            )
            raise
        applicant = body.get("applicant")
        applicant = applicant if isinstance(applicant, Mapping) else {}
        with sensitive([applicant.get("name"), applicant.get("id_number")]):
            envelope = await self.checks.validate(caller, item, body, request_id)
            try:
                self.delivery.sealer.check(item, caller.office)
            except SealUnavailable as exc:  # refuse before the agency acts: no unsealed success, ever
                await self.events.emit(
                    "request.refused",
                    request_id=request_id,
                    caller=caller.id,
                    item=item.code,
                    reason="seal_unavailable",
                    detail=str(exc),
                )
                raise ProblemError(
                    SEAL_UNAVAILABLE, str(exc), "受理机构没有覆盖该事项的有效电子印章，暂不能办理。", item=item.code
                ) from exc
            if idempotency_key is None:
                return await self._run(caller, item, envelope, request_id, resumed=False)
            return await self._run_idempotent(caller, item, envelope, body, request_id, idempotency_key)

    async def submit_as(self, caller: Caller, body: Mapping[str, Any], *, request_id: str) -> Answer:
        """Run ``body`` under an id fixed in advance (a step of a bundle): recorded once, acted on once.

        An id already recorded is not accepted again: its request is reported
        as it stands, and a failed one is tried again under the same id, so
        the agency deduplicates (a bundle resumed).
        """
        record = await self.store.get_request(request_id)
        if record is None:
            return await self.submit(caller, body, request_id=request_id, idempotency_key=None)
        if record.status is not RequestStatus.FAILED:
            return answer_for(record)
        item = self.checks.item({"item": record.item})
        with sensitive(
            [record.envelope.get("applicant", {}).get("name"), record.envelope.get("applicant", {}).get("id_number")]
        ):
            return await self._retry_failed(caller, item, record)

    async def refusal(self, caller: Caller, body: Mapping[str, Any], request_id: str) -> tuple[Item, list[Problem]]:
        """Every problem intake would find with ``body``, without recording or acting on anything.

        For the one-time notice (一次性告知书) of a refused envelope: an unknown
        item or a caller who may not request it is refused as at intake.
        """
        item = self.checks.item(body)
        office, channel = body.get("office"), body.get("channel")
        authorise(
            caller,
            item,
            office=office if isinstance(office, str) else caller.office.code,
            channel=channel if isinstance(channel, str) else caller.channel,
        )
        return item, (await self.checks.problems(caller, item, body, request_id))[1]

    async def _run_idempotent(
        self, caller: Caller, item: Item, envelope: Envelope, body: Mapping[str, Any], request_id: str, key: str
    ) -> Answer:
        keyed = key_digest(self.events, caller.id, key)  # after a restore: a lost request resumes under its own id
        claim = await self._claim(caller, key, body, request_id, keyed)
        if claim.state is ClaimState.LOST and claim.lost is not None:  # its own id again, if the body is the same
            claim = await self._claim(caller, key, body, same_body(self.events, claim.lost, envelope), None)
        if claim.state is ClaimState.REPLAY:
            return await self._replay(claim.request_id, claim.status_code, claim.response, claim.headers)
        if claim.state is ClaimState.MISMATCH:
            raise ProblemError(
                IDEMPOTENCY_MISMATCH,
                "This Idempotency-Key was used with a different body.",
                "该幂等键已用于内容不同的请求。",
                original_request_id=claim.request_id,
            )
        if claim.state is ClaimState.IN_FLIGHT:
            raise ProblemError(
                IDEMPOTENCY_IN_FLIGHT,
                "A request with this Idempotency-Key is still in progress.",
                "相同幂等键的请求正在处理中，请稍后重试。",
                headers={"Retry-After": "1"},
                original_request_id=claim.request_id,
            )
        answer: Answer | None = None
        try:
            resumed = claim.state is ClaimState.RESUME
            answer = await self._run(caller, item, envelope, claim.request_id, resumed=resumed, keyed=keyed)
            return answer
        except ProblemError as problem:
            answer = Answer(
                problem.kind.status,
                problem.body(request_id=claim.request_id, instance=None),
                problem.headers,
                retryable=problem.kind.status >= 500,
            )
            raise
        finally:
            if answer is None:  # an unexpected failure: let the client's retry resume it
                answer = Answer(500, {}, retryable=True)
            await self.store.finish_idempotency_key(
                caller.id,
                key,
                status_code=answer.status,
                response=kept_answer(answer, claim.request_id),
                retryable=answer.retryable,
            )

    async def _claim(
        self, caller: Caller, key: str, body: Mapping[str, Any], request_id: str, keyed: str | None
    ) -> IdempotencyClaim:
        """Claim ``key`` for ``request_id``; LOST (nothing claimed) when ``keyed`` made a request a restore lost."""
        now = utcnow()
        return await self.store.claim_idempotency_key(
            caller.id,
            key,
            body_digest=digest(body),
            request_id=request_id,
            now=now,
            expires_at=now + timedelta(hours=self.settings.idempotency_ttl_hours),
            lease_until=now + timedelta(seconds=self.settings.request_deadline_s + LEASE_MARGIN_S),
            lost_key_digest=keyed,
        )

    async def _replay(
        self, request_id: str, status: int | None, body: Mapping[str, Any] | None, headers: Mapping[str, str] | None
    ) -> Answer:
        """The answer to a key already answered: for a request, its state now; otherwise the stored answer.

        A retry after a lost answer (or a crash, whose retry got "202 accepted")
        must hear what ``GET`` would say -- completed, with its sealed result --
        not the first answer again, which would keep it polling or retrying.
        """
        if is_request_answer(body, request_id):
            record = await self.store.get_request(request_id)
            if record is None:
                raise missing_request(request_id)
            answer = await self.with_receipt(answer_for(record))
        else:
            answer = Answer(status or 200, dict(body or {}), dict(headers or {}))
        answer.headers["Idempotent-Replayed"] = "true"
        return answer

    async def _run(
        self,
        caller: Caller,
        item: Item,
        envelope: Envelope,
        request_id: str,
        *,
        resumed: bool,
        keyed: str | None = None,
    ) -> Answer:
        record = await self.store.get_request(request_id) if resumed else None
        if record is None:
            return await self.with_receipt(await self._accept(caller, item, envelope, request_id, keyed))
        if record.status is not RequestStatus.FAILED:
            return await self.with_receipt(
                answer_for(record)
            )  # done, pending or in the outbox: report, never act twice
        return await self.with_receipt(await self._retry_failed(caller, item, record))

    async def with_receipt(self, answer: Answer) -> Answer:
        """A request accepted but not decided (202) carries its sealed acceptance receipt (受理回执)."""
        request_id = answer.body.get("id")
        if answer.status != 202 or not isinstance(request_id, str):
            return answer
        record = await self.store.get_request(request_id)
        receipt = await self.delivery.receipts.current(record) if record is not None else None
        if receipt is not None:
            answer.body["receipt"] = receipt
            answer.body.setdefault("links", {})["receipt"] = f"/v1/requests/{request_id}/receipt"
        return answer

    async def _retry_failed(self, caller: Caller, item: Item, record: RequestRecord) -> Answer:
        """The client asks to try a failed request again, under the same id so the agency deduplicates.

        It becomes "accepted" again first, with an outbox row due after this attempt's deadline,
        so a crash meanwhile leaves it to a worker like any accepted request.
        """
        transitions = self.delivery.transitions
        if not await transitions.move(
            record, expect=(RequestStatus.FAILED,), status=RequestStatus.ACCEPTED, error=None, finished_at=None
        ):
            return await transitions.stale(record.id, "retry")  # an operator or another instance moved it meanwhile
        now = utcnow()
        await self.store.schedule(
            record.id,
            "submit",
            due_at=now + timedelta(seconds=self.settings.request_deadline_s + LEASE_MARGIN_S),
            expires_at=now + timedelta(hours=item.max_age_hours),
            attempts=record.attempts,
        )
        await self.events.emit(
            "request.retried", request_id=record.id, caller=caller.id, item=item.code, attempts=record.attempts
        )
        record.status = RequestStatus.ACCEPTED
        return await self._deliver(record, item)

    async def _accept(
        self, caller: Caller, item: Item, envelope: Envelope, request_id: str, keyed: str | None
    ) -> Answer:
        """Record a new request as accepted -- in the audit log first -- and deliver it."""
        now = utcnow()
        due = due_date(self.calendar, item, now)  # promised at acceptance, never moved afterwards
        record = RequestRecord(
            id=request_id,
            caller_id=caller.id,
            item=item.code,
            agency=item.agency,
            office=envelope.office,
            operator=envelope.operator,
            channel=envelope.channel,
            status=RequestStatus.ACCEPTED,
            envelope=stored_envelope(envelope),
            created_at=now,
            updated_at=now,
            callback_url=envelope.callback_url,
            due_on=due.on.isoformat() if due.on else None,
            due_unknown=due.unknown,
        )
        # Recorded before it exists: the gateway never acts on a request its audit log does not show accepted.
        await self.events.emit(
            "request.accepted",
            request_id=request_id,
            caller=caller.id,
            office=envelope.office,
            operator=envelope.operator,
            channel=envelope.channel,
            item=item.code,
            request_digest=self.events.digest(record.envelope, request_id=request_id),
            pledge=envelope.pledge is not None,
            idempotency_key_digest=keyed,
            raw=record.envelope,
        )
        if envelope.authorisation is not None:
            await self.events.emit(
                "proxy.authorised", request_id=request_id, item=item.code, **audit_fields(envelope.authorisation)
            )
        accepted = await self.store.accept_request(
            record,
            claimed_by=self.instance,
            lease_until=now + timedelta(seconds=self.settings.request_deadline_s + LEASE_MARGIN_S),
            expires_at=now + timedelta(hours=item.max_age_hours),
        )
        if not accepted:  # an id fixed in advance (a bundle's step) that another call recorded first: never twice
            existing = await self.store.get_request(request_id)
            assert existing is not None
            return answer_for(existing)
        return await self._deliver(record, item)

    async def _deliver(self, record: RequestRecord, item: Item) -> Answer:
        """Deliver now; if that fails unexpectedly the request is still safe in the outbox, so say 202, not 500.

        A 500 would invite a retry without an idempotency key, which would make a second request.
        """
        submit = asyncio.ensure_future(self.delivery.submit(record, item, background=False))
        self._in_flight.add(submit)
        submit.add_done_callback(self._in_flight.discard)
        try:
            return await submit
        except ProblemError:
            raise
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not (submit.cancelled() and self._interrupted) or (current is not None and current.cancelling()):
                raise  # the handler itself is cancelled: nobody is left to answer
            return await self._interrupted_answer(record)
        except Exception:
            self.log.exception("delivery.failed_after_acceptance", request_id=record.id, item=item.code)
            fresh = await self.store.get_request(record.id)
            answer = answer_for(fresh or record)
            answer.headers["Retry-After"] = str(int(self.settings.request_deadline_s + LEASE_MARGIN_S))
            return answer

    async def _interrupted_answer(self, record: RequestRecord) -> Answer:
        """The gateway stopped while the agency had not answered: 202, and the request left for the next instance.

        Its outbox row (written with the request) stays; the instance releases its leases as it stops.
        """
        await self.events.emit("request.interrupted", request_id=record.id, item=record.item, reason="shutdown")
        fresh = await self.store.get_request(record.id)
        answer = answer_for(fresh or record)
        answer.headers["Retry-After"] = "1"
        return answer
