"""What delivery does when an agency cannot be used: defer, fail, retry later or give up.

Each change goes through :class:`~gateway.delivery.transitions.Transitions`,
so it is guarded like the rest of delivery: it applies only while the
request is still where this delivery found it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from gateway.catalogue.items import Item
from gateway.config import OutboxSettings
from gateway.contract import AgencyError, AgencyUnavailable
from gateway.delivery.results import Answer, answer_for, plugin_failed
from gateway.delivery.transitions import SUBMITTING, WAITING, Transitions
from gateway.errors import PluginFault
from gateway.observability.events import Events
from gateway.problems import AGENCY_PROTOCOL_ERROR, AGENCY_UNAVAILABLE, ProblemError
from gateway.store import OutboxEntry, RequestRecord, RequestStatus, Store


def retry_delay(outbox: OutboxSettings, attempts: int) -> float:
    """Seconds before the next redelivery: exponential, capped, with jitter."""
    base = min(outbox.retry_max_s, outbox.retry_initial_s * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.5, 1.0)


class Failures:
    """Defers, fails, reschedules and dead-letters requests an agency could not take."""

    def __init__(
        self,
        *,
        outbox: OutboxSettings,
        store: Store,
        events: Events,
        transitions: Transitions,
        clock: Callable[[], datetime],
    ) -> None:
        self.outbox = outbox
        self.store = store
        self.events = events
        self.transitions = transitions
        self.clock = clock

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next redelivery (see :func:`retry_delay`)."""
        return retry_delay(self.outbox, attempts)

    async def unavailable(
        self, record: RequestRecord, item: Item, exc: AgencyUnavailable, attempts: int, *, background: bool
    ) -> Answer:
        if not item.deferrable:
            return await self.failed(record, item, exc, attempts, background=background)
        now = self.clock()
        expires_at = record.created_at + timedelta(hours=item.max_age_hours)
        if now >= expires_at:
            return await self.dead_letter(
                record, item, f"agency unavailable past the item's maximum age: {exc}", attempts, expect=SUBMITTING
            )
        delay = max(self.retry_delay(attempts), getattr(exc, "retry_after", None) or 0.0)
        error = {
            "code": "agency_unavailable",
            "kind": type(exc).__name__,
            "message": str(exc),
            "next_attempt_at": (now + timedelta(seconds=delay)).isoformat(),
        }
        if not await self.transitions.move(
            record, expect=SUBMITTING, status=RequestStatus.DEFERRED, attempts=attempts, error=error
        ):
            return await self.transitions.stale(record.id, "submit")
        await self.store.schedule(
            record.id,
            "submit",
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

    async def failed(
        self, record: RequestRecord, item: Item, exc: AgencyError, attempts: int, *, background: bool
    ) -> Answer:
        unavailable = isinstance(exc, AgencyUnavailable)
        code = "agency_error" if not isinstance(exc, PluginFault) else "plugin_failed"
        code = "agency_unavailable" if unavailable else code
        moved = await self.transitions.move(
            record,
            expect=SUBMITTING,
            status=RequestStatus.FAILED,
            attempts=attempts,
            finished_at=self.clock(),
            error={"code": code, "kind": type(exc).__name__, "message": str(exc)},
        )
        if not moved:
            return await self.transitions.stale(record.id, "submit")
        await self.store.finish_outbox(record.id, "submit")
        await self.events.emit(
            "request.failed", request_id=record.id, item=item.code, reason=type(exc).__name__, detail=str(exc)
        )
        answer = await self.transitions.finished(record.id, item, None)
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
        if isinstance(exc, PluginFault):
            raise plugin_failed(exc, item)
        raise ProblemError(
            AGENCY_PROTOCOL_ERROR,
            f"The {item.agency} system answered unexpectedly: {exc}",
            "部门系统返回了无法识别的结果。",
            item=item.code,
            error_kind=type(exc).__name__,
        )

    async def retry_or_give_up(
        self, record: RequestRecord, item: Item | None, entry: OutboxEntry, exc: Exception | str
    ) -> None:
        """Schedule ``entry`` again with backoff, or dead-letter the request once the row has expired."""
        now = self.clock()
        if now >= entry.expires_at:
            await self.dead_letter(
                record,
                item,
                f"{entry.action} kept failing until {entry.expires_at.isoformat()}: {exc}",
                record.attempts,
                action=entry.action,
                expect=(*SUBMITTING, *WAITING),
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
            reason=exc if isinstance(exc, str) else type(exc).__name__,
        )

    async def dead_letter(
        self,
        record: RequestRecord,
        item: Item | None,
        reason: str,
        attempts: int,
        *,
        action: str = "submit",
        expect: tuple[RequestStatus, ...] = SUBMITTING,
    ) -> Answer:
        """Give up on a request: record why, which agency failed and how often it was tried."""
        moved = await self.transitions.move(
            record,
            expect=expect,
            status=RequestStatus.DEAD_LETTER,
            attempts=attempts,
            finished_at=self.clock(),
            error={
                "code": "dead_letter",
                "reason": reason,
                "agency": record.agency,
                "attempts": attempts,
                "action": action,
            },
        )
        await self.store.finish_outbox(record.id, action)
        if not moved:
            return await self.transitions.stale(record.id, action)
        await self.events.emit(
            "request.dead_lettered",
            request_id=record.id,
            item=record.item,
            agency=record.agency,
            attempts=attempts,
            reason=reason,
        )
        return await self.transitions.finished(record.id, item, None)
