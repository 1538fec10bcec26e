"""Delivery: getting a recorded request to its agency and settling the outcome.

Used both on the intake path (the caller waits) and by the outbox workers
(nobody waits). Every transition is written to the store before the next
step, and the request's outbox row is only removed once its work is done,
so a crash at any point leaves work for a worker, never a lost request.
The agency sees the same deduplication key (the request id) on every
attempt, so redelivery never makes it act twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pluggy

from gateway.catalogue import Item
from gateway.config import Settings
from gateway.contract import (
    AgencyError,
    AgencyProtocolError,
    AgencyUnavailable,
    Completed,
    Outcome,
    Pending,
    Rejected,
)
from gateway.envelope import envelope_from_stored, intake_request
from gateway.events import Events, digest
from gateway.extranet import Extranet
from gateway.logs import get_logger
from gateway.plugins import gather_hook
from gateway.problems import AGENCY_PROTOCOL_ERROR, AGENCY_UNAVAILABLE, SEAL_UNAVAILABLE, ProblemError
from gateway.registry import Registry
from gateway.results import Answer, answer_for, reasons_json, result_document
from gateway.sealer import Sealer, SealUnavailable
from gateway.store import OutboxEntry, RequestRecord, RequestStatus, Store, utcnow
from signing.audit_entry import document_digest


def poll_expiry(item: Item, created_at: datetime) -> datetime:
    """How long a long-running item may stay pending before it is dead-lettered."""
    return created_at + timedelta(hours=max(item.max_age_hours, (item.time_limit_days + 5) * 24))


class Delivery:
    """Submits, polls and settles requests; owns every status transition after acceptance."""

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
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.extranet = extranet
        self.events = events
        self.pm = pm
        self.sealer = sealer
        self.clock = clock
        self.log = get_logger(component="delivery")

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next redelivery: exponential, capped, with jitter."""
        cfg = self.settings.outbox
        base = min(cfg.retry_max_s, cfg.retry_initial_s * 2 ** max(0, attempts - 1))
        return base * random.uniform(0.5, 1.0)

    # -- submitting ---------------------------------------------------------

    async def submit(self, record: RequestRecord, item: Item, *, background: bool) -> Answer:
        """Send a recorded request to its agency and settle what comes back."""
        agency = self.registry.agency_for(item.code)
        request = intake_request(record.id, envelope_from_stored(record.envelope))
        attempts = record.attempts + 1
        log = self.log.bind(request_id=record.id, item=item.code)
        deadline = time.monotonic() + self.settings.request_deadline_s
        try:
            outcome = await self.extranet.call(
                agency.code,
                "submit",
                lambda call: agency.submit(request, call),
                dedupe_key=record.id,
                deadline=deadline,
                item=item.code,
                log=log,
                request=request,
            )
        except AgencyUnavailable as exc:
            return await self._unavailable(record, item, exc, attempts, action="submit", background=background)
        except AgencyError as exc:
            return await self._failed(record, item, exc, attempts, background=background)
        answer = await self.settle(record, item, outcome, attempts=attempts)
        await self.store.finish_outbox(record.id, "submit")
        return answer

    async def poll(self, record: RequestRecord, item: Item, entry: OutboxEntry) -> None:
        """Ask the agency again about a pending request's ticket."""
        agency = self.registry.agency_for(item.code)
        ticket = record.ticket or ""
        request = intake_request(record.id, envelope_from_stored(record.envelope))  # call.request on polls too
        await self.events.emit(
            "agency.poll", request_id=record.id, item=item.code, agency=agency.code, poll=entry.attempts + 1
        )
        deadline = time.monotonic() + self.settings.request_deadline_s
        try:
            outcome = await self.extranet.call(
                agency.code,
                "poll",
                lambda call: agency.poll(ticket, call),
                dedupe_key=record.id,
                deadline=deadline,
                item=item.code,
                log=self.log.bind(request_id=record.id, item=item.code),
                request=request,
            )
        except AgencyError as exc:
            await self._retry_later(record, item, entry, exc)
            return
        if isinstance(outcome, Pending):
            await self.store.schedule(
                record.id,
                "poll",
                due_at=self.clock() + timedelta(seconds=outcome.poll_after),
                expires_at=entry.expires_at,
                attempts=entry.attempts + 1,
            )
            return
        await self.settle(record, item, outcome, attempts=record.attempts)
        await self.store.finish_outbox(record.id, "poll")

    # -- outcomes -----------------------------------------------------------

    async def settle(self, record: RequestRecord, item: Item, outcome: Outcome, *, attempts: int) -> Answer:
        """Store ``outcome`` as the request's new status; seal completed results."""
        now = self.clock()
        if isinstance(outcome, Completed):
            await self._complete(record, item, outcome, attempts)
        elif isinstance(outcome, Rejected):
            await self.store.update_request(
                record.id,
                status=RequestStatus.REJECTED,
                attempts=attempts,
                agency_reference=outcome.reference,
                result={"reasons": reasons_json(outcome.reasons)},
                error=None,
                finished_at=now,
                ticket=None,
            )
            result = {"reasons": reasons_json(outcome.reasons)}
            await self.events.emit(
                "request.rejected",
                request_id=record.id,
                item=item.code,
                reasons=[r.code for r in outcome.reasons],
                result_digest=digest(result),
                raw=result,
            )
        elif isinstance(outcome, Pending):
            await self.store.update_request(
                record.id, status=RequestStatus.PENDING, attempts=attempts, ticket=outcome.ticket, error=None
            )
            await self.store.schedule(
                record.id,
                "poll",
                due_at=now + timedelta(seconds=outcome.poll_after),
                expires_at=poll_expiry(item, record.created_at),
            )
            await self.events.emit(
                "request.pending", request_id=record.id, item=item.code, poll_after_s=outcome.poll_after
            )
        else:
            raise AgencyProtocolError(f"the plugin returned {type(outcome).__name__}, not an Outcome")
        return await self._after(record.id, item, outcome)

    async def _complete(self, record: RequestRecord, item: Item, outcome: Completed, attempts: int) -> None:
        office = self.settings.office(record.office)
        assert office is not None, "offices are checked when the request is accepted"
        document = result_document(
            request_id=record.id,
            item=item,
            agency=self.registry.agency_for(item.code),
            office=office,
            applicant=envelope_from_stored(record.envelope).applicant,
            content=outcome.document,
            reference=outcome.reference,
        )
        try:
            sealed = self.sealer.seal(document, item=item, office=office, request_id=record.id)
        except SealUnavailable as exc:
            await self.store.update_request(
                record.id,
                status=RequestStatus.FAILED,
                attempts=attempts,
                agency_reference=outcome.reference,
                result={"unsealed": document},
                error={"code": "seal_unavailable", "message": str(exc)},
                finished_at=self.clock(),
            )
            await self.store.finish_outbox(record.id, "submit")
            await self.events.emit("request.failed", request_id=record.id, item=item.code, reason="seal_unavailable")
            raise ProblemError(SEAL_UNAVAILABLE, str(exc), "受理机构没有覆盖该事项的有效电子印章。") from exc
        await self.events.emit(
            "result.sealed",
            request_id=record.id,
            item=item.code,
            seal_number=sealed.get("seal", {}).get("number"),
            document_digest=document_digest(document),
        )
        await self.store.update_request(
            record.id,
            status=RequestStatus.COMPLETED,
            attempts=attempts,
            agency_reference=outcome.reference,
            result={"document": sealed},
            error=None,
            finished_at=self.clock(),
            ticket=None,
        )
        await self.events.emit(
            "request.completed", request_id=record.id, item=item.code, result_digest=digest(sealed), raw=sealed
        )

    async def _after(self, request_id: str, item: Item, outcome: Outcome | None) -> Answer:
        """Reload the record; for a final status notify plugins and schedule the callback."""
        fresh = await self.store.get_request(request_id)
        assert fresh is not None
        if fresh.status.final:
            if fresh.callback_url:
                now = self.clock()
                await self.store.schedule(
                    fresh.id,
                    "callback",
                    due_at=now,
                    expires_at=now + timedelta(hours=self.settings.outbox.callback_max_age_hours),
                )
            try:
                await gather_hook(
                    self.pm.hook.onewindow_request_finished,
                    item=item,
                    request_id=fresh.id,
                    status=str(fresh.status),
                    outcome=outcome,
                )
            except Exception as exc:
                self.log.warning("hook.request_finished.failed", request_id=fresh.id, error=repr(exc))
        return answer_for(fresh)

    # -- failures -----------------------------------------------------------

    async def _unavailable(
        self, record: RequestRecord, item: Item, exc: AgencyUnavailable, attempts: int, *, action: str, background: bool
    ) -> Answer:
        if not item.deferrable:
            return await self._failed(record, item, exc, attempts, background=background)
        now = self.clock()
        expires_at = record.created_at + timedelta(hours=item.max_age_hours)
        if now >= expires_at:
            return await self.dead_letter(
                record, item, f"agency unavailable past the item's maximum age: {exc}", attempts
            )
        delay = max(self.retry_delay(attempts), getattr(exc, "retry_after", None) or 0.0)
        error = {
            "code": "agency_unavailable",
            "kind": type(exc).__name__,
            "message": str(exc),
            "next_attempt_at": (now + timedelta(seconds=delay)).isoformat(),
        }
        await self.store.update_request(record.id, status=RequestStatus.DEFERRED, attempts=attempts, error=error)
        await self.store.schedule(
            record.id,
            action,
            due_at=now + timedelta(seconds=delay),
            expires_at=expires_at,
            attempts=attempts,
            last_error=str(exc),
        )
        await self.events.emit(
            "request.deferred",
            request_id=record.id,
            item=item.code,
            agency=item.agency,
            attempts=attempts,
            retry_in_s=round(delay, 1),
            reason=type(exc).__name__,
        )
        fresh = await self.store.get_request(record.id)
        assert fresh is not None
        answer = answer_for(fresh)
        answer.headers["Retry-After"] = str(max(1, int(delay)))
        return answer

    async def _failed(
        self, record: RequestRecord, item: Item, exc: AgencyError, attempts: int, *, background: bool
    ) -> Answer:
        unavailable = isinstance(exc, AgencyUnavailable)
        await self.store.update_request(
            record.id,
            status=RequestStatus.FAILED,
            attempts=attempts,
            finished_at=self.clock(),
            error={
                "code": "agency_unavailable" if unavailable else "agency_error",
                "kind": type(exc).__name__,
                "message": str(exc),
            },
        )
        await self.store.finish_outbox(record.id, "submit")
        await self.events.emit(
            "request.failed", request_id=record.id, item=item.code, reason=type(exc).__name__, detail=str(exc)
        )
        answer = await self._after(record.id, item, None)
        if background:
            return answer
        if unavailable:
            retry_after = getattr(exc, "retry_after", None) or 30
            raise ProblemError(
                AGENCY_UNAVAILABLE,
                f"The {item.agency} system is unavailable and {item.code} cannot be deferred: {exc}",
                "部门系统暂时无法访问，且该事项不支持延后办理，请稍后使用相同的幂等键重试。",
                headers={"Retry-After": str(int(retry_after + 0.999))},
                item=item.code,
            )
        raise ProblemError(
            AGENCY_PROTOCOL_ERROR,
            f"The {item.agency} system answered unexpectedly: {exc}",
            "部门系统返回了无法识别的结果。",
            item=item.code,
            error_kind=type(exc).__name__,
        )

    async def _retry_later(self, record: RequestRecord, item: Item, entry: OutboxEntry, exc: Exception) -> None:
        now = self.clock()
        if now >= entry.expires_at:
            await self.dead_letter(
                record,
                item,
                f"{entry.action} kept failing until {entry.expires_at.isoformat()}: {exc}",
                record.attempts,
                action=entry.action,
            )
            return
        delay = max(self.retry_delay(entry.attempts + 1), getattr(exc, "retry_after", None) or 0.0)
        await self.store.schedule(
            record.id,
            entry.action,
            due_at=now + timedelta(seconds=delay),
            expires_at=entry.expires_at,
            attempts=entry.attempts + 1,
            last_error=str(exc),
        )
        await self.events.emit(
            "outbox.retry_scheduled",
            request_id=record.id,
            action=entry.action,
            attempts=entry.attempts + 1,
            retry_in_s=round(delay, 1),
            reason=type(exc).__name__,
        )

    async def dead_letter(
        self, record: RequestRecord, item: Item, reason: str, attempts: int, *, action: str = "submit"
    ) -> Answer:
        """Give up on a request: record why, which agency failed and how often it was tried."""
        await self.store.update_request(
            record.id,
            status=RequestStatus.DEAD_LETTER,
            attempts=attempts,
            finished_at=self.clock(),
            error={
                "code": "dead_letter",
                "reason": reason,
                "agency": item.agency,
                "attempts": attempts,
                "action": action,
            },
        )
        await self.store.finish_outbox(record.id, action)
        await self.events.emit(
            "request.dead_lettered",
            request_id=record.id,
            item=item.code,
            agency=item.agency,
            attempts=attempts,
            reason=reason,
        )
        return await self._after(record.id, item, None)
