"""Running a bundle: its steps in order, each a request of its own, fed by the steps before it.

Every step is an ordinary request (``GET /v1/requests/{id}`` shows it)
whose id is fixed when the bundle is accepted, so a step is recorded once
and its agency, which deduplicates on that id, acts once -- however often
the bundle is advanced, by the intake call, by the outbox finishing a
step, on ``POST /v1/bundles/{id}/resume``, or by a gateway starting after
a restart. Advancing walks the steps: a completed one is passed over, the
first one not yet recorded is run with the materials the earlier ones
feed it, and the walk stops at a step that waits (deferred in the outbox,
or decided later) or that failed. When the last step completes, the
bundle receipt is sealed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from gateway.bundles.chains import Chain, ChainStep, chain_items
from gateway.bundles.checking import step_envelope
from gateway.bundles.receipt import receipt_document, receipt_item
from gateway.callers.model import Caller, caller_by_id
from gateway.delivery.delivery import Delivery
from gateway.errors import SealUnavailable
from gateway.intake.router import Router
from gateway.observability.events import Events
from gateway.observability.logs import get_logger, sensitive
from gateway.problems import ProblemError
from gateway.proxy.authorisation import authorisation_from_stored, sealed_proxy
from gateway.store import BundleRecord, BundleStatus, RequestRecord, RequestStatus, Store, utcnow

WAITING_STATUSES = (RequestStatus.ACCEPTED, RequestStatus.PENDING, RequestStatus.DEFERRED)
UNFINISHED = (BundleStatus.RUNNING, BundleStatus.WAITING, BundleStatus.STOPPED)


class InputMissing(Exception):
    """An earlier step's result lacks the field a later step is fed from."""


def fed_value(field: str, source: RequestRecord) -> Any:
    """The value of ``field`` (``content.<name>``, ``materials.<name>``, ``agency_reference``) of an earlier step."""
    if field == "agency_reference":
        value = source.agency_reference
    elif field.startswith("content."):
        document = (source.result or {}).get("document") or {}
        value = (document.get("content") or {}).get(field.removeprefix("content."))
    else:
        value = (source.envelope.get("materials") or {}).get(field.removeprefix("materials."))
    if value is None or value == "":
        raise InputMissing(f"step {source.item} ({source.id}) has no {field}")
    return value


def _personal(body: dict[str, Any]) -> list[str | None]:
    applicant = body.get("applicant") or {}
    proxy = (body.get("authorisation") or {}).get("proxy") or {}
    return [applicant.get("name"), applicant.get("id_number"), proxy.get("name"), proxy.get("id_number")]


class BundleRunner:
    """Advances bundles; one advance at a time per bundle in this process."""

    def __init__(
        self, *, chains: dict[str, Chain], store: Store, router: Router, delivery: Delivery, events: Events
    ) -> None:
        self.chains = chains
        self.store = store
        self.router = router
        self.delivery = delivery
        self.events = events
        self.log = get_logger(component="bundles")
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    # -- in the background ----------------------------------------------------

    async def start(self) -> int:
        """Pick up every bundle a stopped gateway left running or waiting; returns how many."""
        found = await self.store.list_bundles(statuses=(BundleStatus.RUNNING, BundleStatus.WAITING), limit=10_000)
        for bundle in found:
            self._spawn(self.advance(bundle.id))
        return len(found)

    async def stop(self) -> None:
        """Stop advancing; a step under way stays recorded and the next start picks its bundle up."""
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def request_finished(self, request_id: str, *, bundle_id: str | None, bundle_known: bool) -> None:
        """A request reached a final status: if it is a bundle's step, move that bundle on (not in this call).

        When the move that finished it said which bundle it belongs to (``bundle_known``), a request
        of its own costs nothing here; otherwise the store is asked.
        """
        if self._stopping or (bundle_known and bundle_id is None):
            return
        self._spawn(self.advance(bundle_id) if bundle_id is not None else self._follow(request_id))

    async def _follow(self, request_id: str) -> None:
        bundle_id = await self.store.bundle_of_request(request_id)
        if bundle_id is not None:
            await self.advance(bundle_id)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(self._guarded(work), name="onewindow-bundle-advance")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Coroutine[Any, Any, Any]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("bundle.advance_failed")

    async def idle(self, timeout_s: float = 30.0) -> None:
        """Wait until no bundle is being advanced in the background (tests, a clean stop)."""
        async with asyncio.timeout(timeout_s):
            while self._tasks:
                await asyncio.wait(set(self._tasks))

    # -- advancing --------------------------------------------------------------

    async def advance(self, bundle_id: str, *, caller: Caller | None = None, resume: bool = False) -> BundleRecord:
        """Run the bundle's next steps as far as they go; returns it as it then stands."""
        async with self._locks.setdefault(bundle_id, asyncio.Lock()):
            bundle = await self.store.get_bundle(bundle_id)
            assert bundle is not None, bundle_id
            if bundle.status is BundleStatus.COMPLETED:
                return bundle
            with sensitive(_personal(bundle.body)):
                await self._walk(bundle, caller, resume=resume)
            fresh = await self.store.get_bundle(bundle_id)
            assert fresh is not None
            return fresh

    async def _walk(self, bundle: BundleRecord, caller: Caller | None, *, resume: bool) -> None:
        chain = self.chains.get(bundle.chain)
        if chain is None:
            await self._stop(bundle, 0, None, {"code": "chain_withdrawn", "message": "the chain is no longer offered"})
            return
        caller = caller or caller_by_id(self.router.settings, bundle.caller_id)
        if caller is None:
            await self._stop(bundle, 0, None, {"code": "caller_withdrawn", "message": "the caller is not configured"})
            return
        done: list[RequestRecord] = []
        for n, step in enumerate(chain.steps, start=1):
            request_id = bundle.steps[n - 1]["request_id"]
            record = await self.store.get_request(request_id)
            if record is None or (resume and record.status in (RequestStatus.FAILED, RequestStatus.DEFERRED)):
                refused = await self._run_step(bundle, step, n, caller, record, done)
                record = await self.store.get_request(request_id)
                if record is None or refused is not None:
                    await self._stop(bundle, n, record, refused or {"code": "not_recorded"})
                    return
            if record.status is RequestStatus.COMPLETED:
                done.append(record)
                continue
            if record.status in WAITING_STATUSES:
                await self._wait(bundle, n, record)
            else:
                await self._stop(bundle, n, record, None)
            return
        await self._complete(bundle, chain, done)

    async def _run_step(
        self,
        bundle: BundleRecord,
        step: ChainStep,
        n: int,
        caller: Caller,
        record: RequestRecord | None,
        done: list[RequestRecord],
    ) -> dict[str, Any] | None:
        """Hand step ``n`` to its agency (a deferred one tried now); the reason when it was refused unrecorded."""
        request_id = bundle.steps[n - 1]["request_id"]
        if bundle.status is not BundleStatus.RUNNING:
            await self.store.update_bundle(bundle.id, expect=UNFINISHED, status=BundleStatus.RUNNING)
            bundle.status = BundleStatus.RUNNING
        try:
            if record is not None and record.status is RequestStatus.DEFERRED:
                item = self.router.registry.catalogue.get(record.item)
                if item is not None:
                    await self.delivery.submit(record, item, background=False)
                return None
            materials = dict(bundle.body["steps"][step.item]["materials"])
            for feed in step.inputs:
                materials[feed.material] = fed_value(feed.field, done[feed.from_step - 1])
            envelope = step_envelope(bundle.body, step.item, materials)
            await self.router.submit_as(caller, envelope, request_id=request_id)
        except InputMissing as exc:
            return {"code": "input_missing", "message": str(exc)}
        except ProblemError as problem:
            if await self.store.get_request(request_id) is None:  # refused before it was recorded
                return {"code": "refused", "problem": problem.body(request_id=request_id, instance=None)}
        return None

    async def _wait(self, bundle: BundleRecord, n: int, record: RequestRecord) -> None:
        error = {"step": n, "item": record.item, "request_id": record.id, "status": str(record.status)}
        if record.error:
            error["reason"] = record.error
        if bundle.status is BundleStatus.WAITING and (bundle.error or {}).get("step") == n:
            return
        if await self.store.update_bundle(bundle.id, expect=UNFINISHED, status=BundleStatus.WAITING, error=error):
            await self.events.emit(
                "bundle.waiting",
                request_id=bundle.id,
                chain=bundle.chain,
                step=n,
                item=record.item,
                step_request_id=record.id,
                step_status=str(record.status),
            )

    async def _stop(
        self, bundle: BundleRecord, n: int, record: RequestRecord | None, why: dict[str, Any] | None
    ) -> None:
        error: dict[str, Any] = {"step": n}
        if n:
            error |= {"item": bundle.steps[n - 1]["item"], "request_id": bundle.steps[n - 1]["request_id"]}
        if record is not None:
            error["status"] = str(record.status)
            if record.status is RequestStatus.REJECTED and record.result:
                error["reasons"] = record.result.get("reasons", [])
            elif record.error:
                error["reason"] = record.error
        if why:
            error["reason"] = why
        if bundle.status is BundleStatus.STOPPED and bundle.error == error:
            return
        if await self.store.update_bundle(bundle.id, expect=UNFINISHED, status=BundleStatus.STOPPED, error=error):
            await self.events.emit(
                "bundle.stopped",
                request_id=bundle.id,
                chain=bundle.chain,
                step=n,
                item=error.get("item"),
                step_status=error.get("status"),
                reason=_reason_code(error),
            )

    async def _complete(self, bundle: BundleRecord, chain: Chain, done: list[RequestRecord]) -> None:
        settings = self.router.settings
        items = chain_items(chain, self.router.registry.catalogue)
        office = settings.office(bundle.office)
        stored = authorisation_from_stored(bundle.body.get("authorisation"))
        proxy = None if stored is None else sealed_proxy(stored)
        try:
            if office is None:
                raise SealUnavailable(f"office {bundle.office} is no longer configured")
            document = receipt_document(bundle, chain, items, done, office, proxy)
            sealed = (
                await self.delivery.sealer.seal(
                    document, item=receipt_item(chain, items[0]), office=office, request_id=bundle.id
                )
            ).document
        except SealUnavailable as exc:
            await self._stop(bundle, 0, None, {"code": "seal_unavailable", "message": str(exc)})
            return
        moved = await self.store.update_bundle(
            bundle.id,
            expect=UNFINISHED,
            status=BundleStatus.COMPLETED,
            receipt=sealed,
            error=None,
            finished_at=utcnow(),
        )
        if moved:
            await self.events.emit(
                "bundle.completed",
                request_id=bundle.id,
                chain=bundle.chain,
                steps=[r.id for r in done],
                seal_number=(sealed.get("seal") or {}).get("number"),
                result_digest=self.events.digest(sealed, request_id=bundle.id),
                raw=sealed,
            )


def _reason_code(error: dict[str, Any]) -> str | None:
    reason = error.get("reason")
    if isinstance(reason, dict):
        return str(reason.get("code")) if reason.get("code") else None
    if error.get("reasons"):
        return "rejected"
    return None
