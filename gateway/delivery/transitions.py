"""Guarded status transitions: the one owner of every status change after acceptance.

A change applies only while the request is still where this delivery
found it (``expect``). A delivery that outlived its lease -- a stalled
process, a paused machine -- while another one finished the request
therefore changes nothing: it neither seals a second result nor turns a
completed request back into a deferred one. It reports what stands instead
(:meth:`Transitions.stale`).

Reaching a final status has consequences owned here too
(:meth:`Transitions.finished`): the callback is scheduled and plugins hear
of it through ``onewindow_request_finished``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import pluggy

from gateway.agencies.guard import HookGuard
from gateway.catalogue.items import Item
from gateway.config import Settings
from gateway.contract import Outcome
from gateway.delivery.results import Answer, answer_for
from gateway.observability.logs import get_logger
from gateway.store import MovedRequest, RequestRecord, RequestStatus, Store

#: Where a request may be while its submission is under way (a retry of a failed one is made ``accepted`` first).
SUBMITTING = (RequestStatus.ACCEPTED, RequestStatus.DEFERRED)
#: Where a request is while the agency decides.
WAITING = (RequestStatus.PENDING,)


class FinishObserver(Protocol):
    """Told that a request reached a final status, and the bundle it is a step of when that is known
    (``bundle_known``): the move that finished it read it, so the observer need not ask the store."""

    def __call__(self, request_id: str, *, bundle_id: str | None, bundle_known: bool) -> None: ...


class Transitions:
    """Moves requests between statuses, guarded, and finishes them."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        pm: pluggy.PluginManager,
        clock: Callable[[], datetime],
        guard: HookGuard | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.pm = pm
        self.guard = guard or HookGuard(pm)
        self.clock = clock
        self.log = get_logger(component="delivery")
        #: Told of every request that reached a final status (a bundle moves on to its next step).
        self.observers: list[FinishObserver] = []

    async def move(
        self, record: RequestRecord, *, expect: tuple[RequestStatus, ...], status: RequestStatus, **fields: Any
    ) -> bool:
        """Set ``status`` and ``fields`` if the request is still in ``expect``; False when it has moved on."""
        return await self.store.update_request(record.id, expect=expect, status=status, **fields)

    async def move_reading(
        self,
        record: RequestRecord,
        *,
        expect: tuple[RequestStatus, ...],
        status: RequestStatus,
        finishing: str | None = None,
        **fields: Any,
    ) -> MovedRequest | None:
        """:meth:`move`, and the request as the move left it (None when it has moved on): for
        :meth:`finished`, which then reads nothing again. With ``finishing``, a move also finishes
        that outbox action of the request (one statement where the store can)."""
        if finishing is None:
            return await self.store.move_request(record.id, expect=expect, status=status, **fields)
        return await self.store.move_request_finishing(record.id, finishing, expect=expect, status=status, **fields)

    async def stale(self, request_id: str, action: str) -> Answer:
        """This delivery lost its request to another (its lease ran out): change nothing, report what stands."""
        fresh = await self.store.get_request(request_id)
        assert fresh is not None
        self.log.warning("delivery.stale", request_id=request_id, action=action, status=str(fresh.status))
        return answer_for(fresh)

    async def finished(
        self, request_id: str, item: Item | None, outcome: Outcome | None, *, moved: MovedRequest | None = None
    ) -> Answer:
        """Reload the record (unless ``moved`` says how the move left it); for a final status schedule the
        callback and tell plugins."""
        fresh = moved.record if moved is not None else await self.store.get_request(request_id)
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
            if item is not None:  # a plugin's fault here is logged naming it, and never changes the request
                await self.guard.each(
                    "onewindow_request_finished",
                    stop_on_fault=False,
                    item=item,
                    request_id=fresh.id,
                    status=str(fresh.status),
                    outcome=outcome,
                )
            bundle_id = None if moved is None else moved.bundle_id
            for observer in self.observers:
                observer(fresh.id, bundle_id=bundle_id, bundle_known=moved is not None)
        return answer_for(fresh)
