"""``POST /v1/bundles`` and its companions, transport aside: accept, answer, resume, show.

Accepting a bundle checks the whole body first (every step's materials,
the caller's right to each item, a seal for each result and for the
receipt), claims the ``Idempotency-Key`` as ``POST /v1/requests`` does,
records the bundle with the request id of every step fixed in advance, and
advances it as far as it goes while the caller waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from gateway.bundles.chains import Chain, chain_items
from gateway.bundles.checking import check_bundle
from gateway.bundles.receipt import receipt_item
from gateway.bundles.runner import BundleRunner
from gateway.catalogue.items import Catalogue
from gateway.delivery.results import Answer, request_view
from gateway.errors import SealUnavailable
from gateway.intake.callers import Caller, may_read
from gateway.intake.checking import problems_json
from gateway.intake.request_ids import new_ulid
from gateway.observability.events import digest
from gateway.problems import (
    BUNDLE_NOT_RESUMABLE,
    IDEMPOTENCY_IN_FLIGHT,
    IDEMPOTENCY_MISMATCH,
    NOT_FOUND,
    SEAL_UNAVAILABLE,
    UNKNOWN_CHAIN,
    VALIDATION_FAILED,
    ProblemError,
    echo,
)
from gateway.store import BundleRecord, BundleStatus, ClaimState, RequestRecord, RequestStatus, utcnow

KEY_PREFIX = "bundle:"  # a bundle's Idempotency-Key is its own, apart from the caller's request keys
LEASE_S = 120.0


def bundle_path(bundle_id: str) -> str:
    return f"/v1/bundles/{bundle_id}"


class Bundles:
    """Chained items (一链办理) for intake systems."""

    def __init__(self, runner: BundleRunner) -> None:
        self.runner = runner
        self.store = runner.store
        self.router = runner.router
        self.events = runner.events

    @property
    def chains(self) -> dict[str, Chain]:
        return self.runner.chains

    @property
    def catalogue(self) -> Catalogue:
        return self.router.registry.catalogue

    def chain(self, code: Any) -> Chain:
        chain = self.chains.get(code) if isinstance(code, str) else None
        if chain is None:
            if not isinstance(code, str) or not code:
                raise ProblemError(
                    VALIDATION_FAILED,
                    "The bundle names no chain.",
                    "请求未指明一链办理事项。",
                    errors=[
                        {
                            "path": "chain",
                            "code": "required",
                            "message_zh": "缺少一链办理编码",
                            "message_en": "chain (a chain code of GET /v1/catalog) is required",
                        }
                    ],
                )
            raise ProblemError(
                UNKNOWN_CHAIN, f"No chain is called '{echo(code)}'.", f"没有编码为 {echo(code)} 的一链办理事项。"
            )
        return chain

    async def submit(
        self, caller: Caller, body: Mapping[str, Any], *, bundle_id: str, idempotency_key: str | None
    ) -> Answer:
        """Handle one ``POST /v1/bundles`` body."""
        chain = self.chain(body.get("chain"))
        settings = self.router.settings
        checked, problems = check_bundle(
            body, chain, self.catalogue, caller, max_attachment_bytes=settings.max_attachment_bytes
        )
        if problems or checked is None:
            await self.events.emit(
                "validation.failed",
                request_id=bundle_id,
                caller=caller.id,
                chain=chain.code,
                problems=[f"{p.path}:{p.code}" for p in problems],
            )
            raise ProblemError(
                VALIDATION_FAILED,
                f"{len(problems)} problem(s) across the chain's steps; every one is listed in 'errors'.",
                f"各环节共有 {len(problems)} 处问题，已在 errors 中一次性列出。",
                errors=problems_json(problems),
                chain=chain.code,
            )
        self._check_seals(chain, checked.body["office"])
        if idempotency_key is None:
            return await self._run(caller, chain, checked.body, bundle_id)
        now = utcnow()
        key = KEY_PREFIX + idempotency_key
        claim = await self.store.claim_idempotency_key(
            caller.id,
            key,
            body_digest=digest(body),
            request_id=bundle_id,
            now=now,
            expires_at=now + timedelta(hours=settings.idempotency_ttl_hours),
            lease_until=now + timedelta(seconds=LEASE_S),
        )
        if claim.state is ClaimState.MISMATCH:
            raise ProblemError(
                IDEMPOTENCY_MISMATCH,
                "This Idempotency-Key was used with a different body.",
                "该幂等键已用于内容不同的请求。",
                original_bundle_id=claim.request_id,
            )
        if claim.state is ClaimState.IN_FLIGHT:
            raise ProblemError(
                IDEMPOTENCY_IN_FLIGHT,
                "A bundle with this Idempotency-Key is still being accepted.",
                "相同幂等键的一链办理正在受理中，请稍后重试。",
                headers={"Retry-After": "1"},
                original_bundle_id=claim.request_id,
            )
        stored = await self.store.get_bundle(claim.request_id)
        if claim.state is ClaimState.REPLAY and stored is not None:
            answer = await self.answer(stored)
            answer.headers["Idempotent-Replayed"] = "true"
            return answer
        answer = Answer(500, {}, retryable=True)
        try:
            answer = await self._run(caller, chain, checked.body, claim.request_id)
            return answer
        finally:
            await self.store.finish_idempotency_key(
                caller.id,
                key,
                status_code=answer.status,
                response={"body": {"id": claim.request_id}, "headers": {}},
                retryable=answer.retryable,
            )

    def _check_seals(self, chain: Chain, office_code: str) -> None:
        """Refuse before any step runs when a step's result or the receipt could not be sealed."""
        office = self.router.settings.office(office_code)
        items = chain_items(chain, self.catalogue)
        try:
            if office is None:
                raise SealUnavailable(f"office {office_code} is not configured")
            for item in (*items, receipt_item(chain, items[0])):
                self.router.delivery.sealer.check(item, office)
        except SealUnavailable as exc:
            raise ProblemError(
                SEAL_UNAVAILABLE, str(exc), "受理机构没有覆盖该一链办理各环节（或办理回执）的有效电子印章。"
            ) from exc

    async def _run(self, caller: Caller, chain: Chain, body: dict[str, Any], bundle_id: str) -> Answer:
        if await self.store.get_bundle(bundle_id) is None:
            now = utcnow()
            record = BundleRecord(
                id=bundle_id,
                caller_id=caller.id,
                chain=chain.code,
                office=body["office"],
                operator=body["operator"],
                channel=body["channel"],
                status=BundleStatus.RUNNING,
                body=body,
                steps=[{"item": step.item, "request_id": new_ulid()} for step in chain.steps],
                created_at=now,
                updated_at=now,
            )
            # Recorded before it exists, as a request is: nothing runs that the audit log does not show accepted.
            await self.events.emit(
                "bundle.accepted",
                request_id=bundle_id,
                caller=caller.id,
                chain=chain.code,
                office=record.office,
                operator=record.operator,
                channel=record.channel,
                steps=[s["request_id"] for s in record.steps],
                request_digest=self.events.digest(body, request_id=bundle_id),
                proxy=body.get("authorisation") is not None,
                raw=body,
            )
            await self.store.insert_bundle(record)
        bundle = await self.runner.advance(bundle_id, caller=caller)
        return await self.answer(bundle)

    async def resume(self, caller: Caller, bundle: BundleRecord) -> Answer:
        """``POST /v1/bundles/{id}/resume``: try the step it waits or stopped at again, and go on."""
        if bundle.status is not BundleStatus.COMPLETED:
            error = bundle.error or {}
            stuck = await self.store.get_request(error["request_id"]) if error.get("request_id") else None
            if stuck is not None and stuck.status in (RequestStatus.REJECTED, RequestStatus.DEAD_LETTER):
                raise ProblemError(
                    BUNDLE_NOT_RESUMABLE,
                    f"Step {stuck.item} was {stuck.status}: resuming would repeat it.",
                    f"环节 {stuck.item} 已被拒绝或终止办理，无法继续。",
                    step=error.get("step"),
                )
            await self.events.emit(
                "bundle.resumed", request_id=bundle.id, caller=caller.id, chain=bundle.chain, step=error.get("step")
            )
            bundle = await self.runner.advance(bundle.id, caller=caller, resume=True)
        answer = await self.answer(bundle)
        answer.status = 202 if answer.status == 202 else 200
        return answer

    async def answer(self, bundle: BundleRecord) -> Answer:
        """The bundle resource, ``201`` once it has come to a stop (completed or stopped), else ``202``."""
        view = await self.view(bundle)
        waiting = bundle.status in (BundleStatus.RUNNING, BundleStatus.WAITING)
        return Answer(202 if waiting else 201, view, {"Location": bundle_path(bundle.id)})

    async def view(self, bundle: BundleRecord) -> dict[str, Any]:
        """The bundle resource: every step's request as it stands, where it waits or stopped, the receipt."""
        steps = []
        for n, entry in enumerate(bundle.steps, start=1):
            record = await self.store.get_request(entry["request_id"])
            step: dict[str, Any] = {"position": n, "item": entry["item"], "request_id": entry["request_id"]}
            if record is None:
                step["status"] = "not_started"
            else:
                step["status"] = str(record.status)
                step["request"] = request_view(record)
            steps.append(step)
        view: dict[str, Any] = {
            "id": bundle.id,
            "chain": bundle.chain,
            "status": str(bundle.status),
            "office": bundle.office,
            "operator": bundle.operator,
            "channel": bundle.channel,
            "created_at": bundle.created_at.isoformat(),
            "updated_at": bundle.updated_at.isoformat(),
            "steps": steps,
            "completed": [s["item"] for s in steps if s["status"] == "completed"],
            "links": {"self": bundle_path(bundle.id), "resume": bundle_path(bundle.id) + "/resume"},
        }
        if bundle.finished_at:
            view["finished_at"] = bundle.finished_at.isoformat()
        if bundle.status is BundleStatus.WAITING and bundle.error:
            view["waiting_at"] = bundle.error
        if bundle.status is BundleStatus.STOPPED and bundle.error:
            view["stopped_at"] = bundle.error
        if bundle.receipt is not None:
            view["receipt"] = bundle.receipt
        return view

    async def may_read(self, caller: Caller, bundle: BundleRecord) -> bool:
        """The caller made it, or reads its office's requests and may read every step of it (see ``may_read``)."""
        if bundle.caller_id == caller.id:
            return True
        if not caller.read_office_requests or bundle.office != caller.office.code:
            return False
        for entry in bundle.steps:
            record = await self.store.get_request(entry["request_id"])
            probe = record or RequestRecord(
                id=entry["request_id"],
                caller_id=bundle.caller_id,
                item=entry["item"],
                agency="",
                office=bundle.office,
                operator=bundle.operator,
                channel=bundle.channel,
                status=RequestStatus.ACCEPTED,
                envelope={},
                created_at=bundle.created_at,
                updated_at=bundle.updated_at,
            )
            if not may_read(caller, probe, self.catalogue):
                return False
        return True

    async def visible(self, caller: Caller, bundle_id: str) -> BundleRecord:
        """The bundle, if ``caller`` may read it (:meth:`may_read`); else 404, as for a request."""
        bundle = await self.store.get_bundle(bundle_id)
        if bundle is None or not await self.may_read(caller, bundle):
            raise ProblemError(
                NOT_FOUND,
                f"No bundle '{echo(bundle_id)}' is visible to this caller.",
                f"未找到编号为 {echo(bundle_id)} 的一链办理，或无权查看。",
            )
        return bundle
