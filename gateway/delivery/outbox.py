"""Outbox workers: redeliver deferred requests, poll pending ones, call back.

Each gateway process runs a worker loop that claims due outbox rows (on
PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several processes share the
work without taking the same row), handles each under a lease, and sleeps
when there is nothing due. A row whose holder died becomes claimable again
when its lease runs out; on SQLite, where only one process may use the
database, leases left by a crashed predecessor are dropped at start-up.
The same loop deletes expired idempotency keys now and then.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

from gateway.delivery.callbacks import CallbackSender
from gateway.delivery.delivery import Delivery, poll_expiry
from gateway.delivery.transitions import SUBMITTING, WAITING
from gateway.errors import AuditUnavailable
from gateway.observability.logs import get_logger, sensitive
from gateway.problems import ProblemError
from gateway.store import OutboxEntry, RequestRecord, RequestStatus, Store, utcnow

PURGE_EVERY_S = 600.0  # expired idempotency keys are deleted at most this often per process


class OutboxWorker:
    """Claims and runs due outbox work for one gateway process."""

    def __init__(self, *, store: Store, delivery: Delivery, callbacks: CallbackSender, instance: str) -> None:
        self.store = store
        self.delivery = delivery
        self.callbacks = callbacks
        self.instance = instance
        self.settings = delivery.settings.outbox
        self.log = get_logger(component="outbox", instance=instance)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._running: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self.purge_every_s = PURGE_EVERY_S
        self._next_purge = 0.0  # monotonic time of the next purge; the first runs at start

    def lease(self) -> timedelta:
        """How long a claimed row stays ours: one delivery's deadline and a margin."""
        return timedelta(seconds=self.delivery.settings.request_deadline_s + 5.0)

    async def start(self) -> None:
        if self.store.backend == "sqlite":  # one process per database: every lease is a dead predecessor's
            released = await self.store.release_outbox_claims()
            keys = await self.store.release_idempotency_leases(utcnow())
            if released or keys:
                self.log.info("outbox.recovered_leases", rows=released, idempotency_keys=keys)
        self._task = asyncio.create_task(self._loop(), name="onewindow-outbox")

    def wake(self) -> None:
        """Look for due work now rather than at the next tick."""
        self._wake.set()

    async def stop(self, grace_s: float | None = None, *, release: bool = True) -> None:
        """Stop claiming; let running work finish within ``grace_s``, then cancel it (its lease frees it).

        ``release`` drops this instance's leases at the end, so another instance need not wait for
        them to run out; pass False while intake calls of this instance may still hold some (the
        caller releases them later by calling ``stop`` again). Safe to call twice.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._running:
            _, pending = await asyncio.wait(
                self._running, timeout=self.settings.shutdown_grace_s if grace_s is None else grace_s
            )
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
                self.log.warning("outbox.left_for_later", rows=len(pending))
        if release:
            with contextlib.suppress(Exception):
                await self.store.release_outbox_claims(self.instance)

    async def purge_expired_keys(self) -> int:
        """Delete expired idempotency keys if the last purge is ``purge_every_s`` old; returns how many."""
        if time.monotonic() < self._next_purge:
            return 0
        self._next_purge = time.monotonic() + self.purge_every_s
        purged = await self.store.purge_idempotency_keys(utcnow())
        if purged:
            await self.delivery.events.emit("idempotency.purged", keys=purged)
        return purged

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.purge_expired_keys()
            except Exception:
                self.log.exception("outbox.purge_failed")
            try:
                claimed = await self.run_once()
            except Exception:
                self.log.exception("outbox.claim_failed")
                claimed = 0
            if claimed == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.tick_s)

    async def run_once(self) -> int:
        """Claim what is due (as many as free slots allow) and start handling it; returns how many."""
        free = self.settings.concurrency - len(self._running)
        if free <= 0 or self._stopping:
            await asyncio.sleep(0.05)
            return 0
        now = utcnow()
        entries = await self.store.claim_outbox(
            self.instance, now=now, lease_until=now + self.lease(), limit=min(free, self.settings.batch)
        )
        for entry in entries:
            task = asyncio.create_task(self._handle(entry), name=f"outbox-{entry.action}-{entry.request_id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(entries)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Run until nothing is due or running (for tests and ``outbox retry``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            claimed = await self.run_once()
            if self._running:
                await asyncio.wait(self._running, timeout=0.1)
            elif claimed == 0:
                return
        raise TimeoutError("the outbox did not drain in time")

    async def _handle(self, entry: OutboxEntry) -> None:
        async with self._slots:
            try:
                await self._dispatch(entry)
            except ProblemError:
                pass  # already recorded on the request (e.g. no valid seal)
            except AuditUnavailable:  # the audit log closed under it: leave the row as it is, leased, for later
                self.log.warning("outbox.left_for_later", request_id=entry.request_id, reason="audit log damaged")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.exception("outbox.handling_failed", request_id=entry.request_id, action=entry.action)
                await self._give_up_or_retry(entry, f"internal error ({type(exc).__name__}); see the gateway log")

    async def _give_up_or_retry(self, entry: OutboxEntry, reason: str) -> None:
        record = await self.store.get_request(entry.request_id)
        if record is None:
            await self.store.finish_outbox(entry.request_id, entry.action)
            return
        if entry.action == "callback":
            await self.store.schedule(
                record.id,
                "callback",
                due_at=utcnow() + timedelta(seconds=self.delivery.retry_delay(entry.attempts + 1)),
                expires_at=entry.expires_at,
                attempts=entry.attempts + 1,
                last_error=reason,
            )
            return
        item = self.delivery.registry.catalogue.get(record.item)
        await self.delivery.failures.retry_or_give_up(record, item, entry, reason)

    async def _dispatch(self, entry: OutboxEntry) -> None:
        record = await self.store.get_request(entry.request_id)
        if record is None:
            await self.store.finish_outbox(entry.request_id, entry.action)
            return
        if entry.action == "callback":
            await self.callbacks.send(record, entry)
            return
        applicant = record.envelope.get("applicant") or {}
        with sensitive([applicant.get("name"), applicant.get("id_number"), applicant.get("phone")]):
            await self._deliver(record, entry)

    async def _deliver(self, record: RequestRecord, entry: OutboxEntry) -> None:
        if await self._repair(record, entry):
            return
        item = self.delivery.registry.catalogue.get(record.item)
        if item is None:  # withdrawn from the catalogue (or its plugin removed): nothing can deliver it any more
            await self.delivery.failures.dead_letter(
                record,
                None,
                f"item {record.item} is no longer in the catalogue",
                record.attempts,
                action=entry.action,
                expect=(*SUBMITTING, *WAITING),
            )
            return
        if entry.action == "submit":
            await self.delivery.events.emit(
                "outbox.redeliver", request_id=record.id, item=item.code, attempt=record.attempts + 1
            )
            await self.delivery.submit(record, item, background=True)
        elif entry.action == "poll":
            await self.delivery.poll(record, item, entry)

    async def _repair(self, record: RequestRecord, entry: OutboxEntry) -> bool:
        """Finish what a crash between two writes left undone; True when ``entry`` had nothing else to do.

        A status and its follow-up row are separate writes: a request may be
        ``pending`` with no poll row, or final with no callback row. The row
        that is still there (the submit or poll being worked on) shows it.
        """
        wanted = SUBMITTING if entry.action == "submit" else WAITING
        if record.status in wanted:
            return False
        if record.status is RequestStatus.PENDING and not any(
            e.action == "poll" for e in await self.store.list_outbox(request_id=record.id)
        ):
            item = self.delivery.registry.catalogue.get(record.item)
            expires = poll_expiry(item, record.created_at) if item else entry.expires_at
            await self.store.schedule(record.id, "poll", due_at=utcnow(), expires_at=expires)
        if record.status.final and record.callback_url:
            # callbacks are at-least-once: receivers dedupe by request id and status
            await self._ensure_callback(record)
        await self.store.finish_outbox(record.id, entry.action)
        return True

    async def _ensure_callback(self, record: RequestRecord) -> None:
        if any(e.action == "callback" for e in await self.store.list_outbox(request_id=record.id)):
            return
        now = utcnow()
        await self.store.schedule(
            record.id,
            "callback",
            due_at=now,
            expires_at=now + timedelta(hours=self.delivery.settings.outbox.callback_max_age_hours),
        )
