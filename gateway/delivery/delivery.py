"""Delivery: getting a recorded request to its agency and settling the outcome.

Used both on the intake path (the caller waits) and by the outbox workers
(nobody waits). Every transition is written to the store before the next
step, and the request's outbox row is only removed once its work is done,
so a crash at any point leaves work for a worker, never a lost request.
The agency sees the same deduplication key (the request id) on every
attempt, so redelivery never makes it act twice.

Every status change is *guarded* (:mod:`gateway.delivery.transitions`):
a delivery that outlived its lease while another one finished the request
changes nothing. What happens when the agency cannot be used is
:mod:`gateway.delivery.failures`.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pluggy

from gateway.agencies.extranet import Extranet
from gateway.agencies.guard import HookGuard, check_outcome
from gateway.agencies.installed import Registry
from gateway.catalogue.items import Item
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
from gateway.delivery.accepted import envelope_from_stored, intake_request
from gateway.delivery.failures import Failures
from gateway.delivery.results import Answer, answer_for, reasons_json, result_document
from gateway.delivery.transitions import SUBMITTING, WAITING, Transitions
from gateway.errors import SealUnavailable
from gateway.observability.events import Event, Events
from gateway.observability.logs import get_logger
from gateway.problems import SEAL_UNAVAILABLE, ProblemError
from gateway.proxy.authorisation import sealed_proxy
from gateway.sealing.sealer import Sealer
from gateway.service.receipts import Receipts
from gateway.store import MovedRequest, OutboxEntry, RequestRecord, RequestStatus, Store, utcnow


def poll_expiry(item: Item, created_at: datetime) -> datetime:
    """How long a long-running item may stay pending before it is dead-lettered."""
    return created_at + timedelta(hours=max(item.max_age_hours, (item.time_limit_days + 5) * 24))


T = TypeVar("T")


async def _kept(settling: Coroutine[Any, Any, T]) -> T:
    """Settle what an agency answered even if this call is cancelled meanwhile (a stop's grace ran out).

    The agency has acted: an answer thrown away would leave the request to be
    sent again by the next instance. Sealing and storing take a moment, so
    the first cancel waits for them and is then absorbed (the caller gets
    the settled answer); a second one leaves them running to their end.
    """
    task = asyncio.ensure_future(settling)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        current = asyncio.current_task()
        result = await task
        if current is not None:
            current.uncancel()
        return result


class Unsettled(enum.Enum):
    """Why a completed outcome did not become a completed request."""

    STALE = "stale"  # another delivery settled the request first: nothing of this one is kept
    UNSEALED = "unsealed"  # no seal could sign it: the request failed, and said so (in the background)


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
        #: every hook call at run time goes through it: faults named, loop blocking noticed
        self.guard = HookGuard(pm, owners=registry.plugin_of, watch=extranet.watch)
        self.transitions = Transitions(settings=settings, store=store, pm=pm, clock=clock, guard=self.guard)
        self.receipts = Receipts(
            settings=settings, registry=registry, store=store, sealer=sealer, events=events, clock=clock
        )
        self.failures = Failures(
            outbox=settings.outbox, store=store, events=events, transitions=self.transitions, clock=clock
        )

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next redelivery: exponential, capped, with jitter."""
        return self.failures.retry_delay(attempts)

    # -- submitting ---------------------------------------------------------

    async def _call_agency(self, record: RequestRecord, item: Item, operation: str) -> Outcome:
        """Submit or poll through the extranet, under the request's deadline and dedupe key."""
        agency = self.registry.agency_for(item.code)
        request = intake_request(record.id, envelope_from_stored(record.envelope))  # call.request on polls too
        ticket = record.ticket or ""
        await self.store.durable()  # the agency acts only on what a crash cannot take back (accepted, audited)
        outcome = await self.extranet.call(
            agency.code,
            operation,
            (lambda call: agency.submit(request, call))
            if operation == "submit"
            else (lambda call: agency.poll(ticket, call)),
            dedupe_key=record.id,
            deadline=time.monotonic() + self.settings.request_deadline_s,
            item=item.code,
            log=self.log.bind(request_id=record.id, item=item.code),
            request=request,
        )
        plugin = self.registry.plugin_of.get(agency.code, agency.code)
        check_outcome(self.extranet.watch, plugin, f"agency {agency.code!r} {operation}", outcome)
        return outcome

    async def submit(self, record: RequestRecord, item: Item, *, background: bool) -> Answer:
        """Send a recorded request to its agency and settle what comes back."""
        attempts = record.attempts + 1
        try:
            outcome = await self._call_agency(record, item, "submit")
        except AgencyUnavailable as exc:
            return await self.failures.unavailable(record, item, exc, attempts, background=background)
        except AgencyError as exc:
            return await self.failures.failed(record, item, exc, attempts, background=background)
        settling = self.settle(record, item, outcome, attempts=attempts, action="submit", background=background)
        return await _kept(settling)

    async def poll(self, record: RequestRecord, item: Item, entry: OutboxEntry) -> None:
        """Ask the agency again about a pending request's ticket."""
        await self.events.emit(
            "agency.poll", request_id=record.id, item=item.code, agency=item.agency, poll=entry.attempts + 1
        )
        try:
            outcome = await self._call_agency(record, item, "poll")
        except AgencyError as exc:
            await self.failures.retry_or_give_up(record, item, entry, exc)
            return
        if isinstance(outcome, Pending):
            await self._still_pending(record, item, outcome)
            if self.clock() >= entry.expires_at:
                await self.failures.dead_letter(
                    record,
                    item,
                    f"still pending at the agency when the item's time ran out ({entry.expires_at:%Y-%m-%d})",
                    record.attempts,
                    action="poll",
                    expect=WAITING,
                )
                return
            await self.store.schedule(
                record.id,
                "poll",
                due_at=self.clock() + timedelta(seconds=outcome.poll_after),
                expires_at=entry.expires_at,
                attempts=entry.attempts + 1,
            )
            return
        await _kept(self.settle(record, item, outcome, attempts=record.attempts, action="poll", background=True))

    async def _still_pending(self, record: RequestRecord, item: Item, outcome: Pending) -> None:
        """A poll answered "still deciding": keep the case number and message the agency gives now."""
        reference = outcome.reference or record.agency_reference
        if (reference, outcome.message) == (record.agency_reference, record.agency_message):
            return
        if await self.store.update_request(
            record.id, expect=WAITING, agency_reference=reference, agency_message=outcome.message
        ):
            record.agency_reference, record.agency_message = reference, outcome.message
            await self.receipts.current(record)  # a new version when the case number is new

    # -- outcomes -----------------------------------------------------------

    async def settle(
        self, record: RequestRecord, item: Item, outcome: Outcome, *, attempts: int, action: str, background: bool
    ) -> Answer:
        """Store ``outcome`` as the request's new status (sealing completed results) and finish ``action``."""
        expect = WAITING if action == "poll" else SUBMITTING
        now = self.clock()
        moved: MovedRequest | None = None  # a final status: the request as its move left it (``action`` finished)
        if isinstance(outcome, Completed):
            completed = await self._complete(
                record, item, outcome, attempts, expect=expect, action=action, background=background
            )
            if completed is Unsettled.STALE:
                return await self.transitions.stale(record.id, action)
            if completed is Unsettled.UNSEALED:  # failed, its action finished and announced once: nothing more
                failed = await self.store.get_request(record.id)
                assert failed is not None
                return answer_for(failed)
            moved = completed
        elif isinstance(outcome, Rejected):
            result = {"reasons": reasons_json(outcome.reasons)}
            moved = await self.transitions.move_reading(
                record,
                expect=expect,
                status=RequestStatus.REJECTED,
                finishing=action,
                attempts=attempts,
                agency_reference=outcome.reference or record.agency_reference,
                result=result,
                error=None,
                finished_at=now,
                ticket=None,
            )
            if not moved:
                return await self.transitions.stale(record.id, action)
            result_digest = self.events.digest(result, request_id=record.id)
            await self.events.emit(
                "request.rejected",
                request_id=record.id,
                item=item.code,
                reasons=[r.code for r in outcome.reasons],
                result_digest=result_digest,
                raw=result,
                raw_digest=result_digest,
            )
        elif isinstance(outcome, Pending):
            pending = await self.transitions.move(
                record,
                expect=expect,
                status=RequestStatus.PENDING,
                attempts=attempts,
                ticket=outcome.ticket,
                agency_reference=outcome.reference or record.agency_reference,
                agency_message=outcome.message,
                error=None,
            )
            if not pending:
                return await self.transitions.stale(record.id, action)
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
        if moved is None:  # a move that read the request finished the action with it
            await self.store.finish_outbox(record.id, action)
        answer = await self.transitions.finished(record.id, item, outcome, moved=moved)
        if isinstance(outcome, Pending) and background:  # nobody waits: seal the receipt's news now
            fresh = await self.store.get_request(record.id)
            if fresh is not None:
                await self.receipts.current(fresh)
        return answer

    async def _complete(
        self,
        record: RequestRecord,
        item: Item,
        outcome: Completed,
        attempts: int,
        *,
        expect: tuple[RequestStatus, ...],
        action: str,
        background: bool,
    ) -> MovedRequest | Unsettled:
        """Seal and store a completed result: the request as its move left it, or why it was not completed."""
        if await self.store.request_status(record.id) not in expect:
            return Unsettled.STALE  # never seal a second result for a settled request
        office = self.settings.office(record.office)
        if office is None:
            raise SealUnavailable(f"office {record.office} is no longer configured")
        envelope = envelope_from_stored(record.envelope)
        document = result_document(
            request_id=record.id,
            item=item,
            agency=self.registry.agency_for(item.code),
            office=office,
            applicant=envelope.applicant,
            content=outcome.document,
            reference=outcome.reference,
            proxy=None if envelope.authorisation is None else sealed_proxy(envelope.authorisation),
        )
        try:
            sealing = await self.sealer.seal(document, item=item, office=office, request_id=record.id)
        except SealUnavailable as exc:
            if not await self._unsealable(record, item, outcome, attempts, document, exc, expect=expect, action=action):
                return Unsettled.STALE
            if background:
                return Unsettled.UNSEALED
            raise ProblemError(SEAL_UNAVAILABLE, str(exc), "受理机构没有覆盖该事项的有效电子印章。") from exc
        sealed = sealing.document
        moved = await self.transitions.move_reading(
            record,
            expect=expect,
            status=RequestStatus.COMPLETED,
            finishing=action,
            attempts=attempts,
            agency_reference=outcome.reference or record.agency_reference,
            result={"document": sealed},
            error=None,
            finished_at=self.clock(),
            ticket=None,
        )
        if not moved:
            return Unsettled.STALE  # settled meanwhile by another delivery: this seal is discarded, never handed out
        result_digest = self.events.digest(sealed, request_id=record.id)
        await self.events.emit_all(  # one batch of the audit log, one wait
            Event(
                "result.sealed",
                {
                    "request_id": record.id,
                    "item": item.code,
                    "seal_number": sealed.get("seal", {}).get("number"),
                    "document_digest": sealing.digest,  # what the seal signed, digested once
                },
            ),
            Event(
                "request.completed",
                {"request_id": record.id, "item": item.code, "result_digest": result_digest},
                raw=sealed,
                raw_digest=result_digest,  # the payload's commitment: the same digest, taken once
            ),
        )
        return moved

    async def _unsealable(
        self,
        record: RequestRecord,
        item: Item,
        outcome: Completed,
        attempts: int,
        document: dict[str, Any],
        exc: SealUnavailable,
        *,
        expect: tuple[RequestStatus, ...],
        action: str,
    ) -> bool:
        """The agency decided but no valid seal covers the result: fail the request, keeping the unsealed answer."""
        moved = await self.transitions.move(
            record,
            expect=expect,
            status=RequestStatus.FAILED,
            attempts=attempts,
            agency_reference=outcome.reference or record.agency_reference,
            result={"unsealed": document},
            error={"code": "seal_unavailable", "message": str(exc)},
            finished_at=self.clock(),
        )
        if not moved:
            return False
        await self.store.finish_outbox(record.id, action)
        await self.events.emit("request.failed", request_id=record.id, item=item.code, reason="seal_unavailable")
        await self.transitions.finished(record.id, item, outcome)
        return True
