"""The sealed acceptance receipt (受理回执) of a request accepted but not yet decided.

What the window hands the applicant when the agency decides later: the item,
the applicant, the accepting office and operator (首问负责), the promised due
date, where to follow progress and -- as soon as the agency gives one -- its
case number. It is sealed like a result (the item's seal, RFC 8785 + JWS),
verifies with ``onewindow verify`` and prints through :data:`RECEIPT_LAYOUT`.
The applicant's name and ID number are in the document, as in a sealed
result; the audit entry of each version carries only digests.

Receipts are stored by version: a new version is sealed when the agency's
case number appears (or changes) after the last one, never for the same facts twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from gateway.agencies.installed import Registry
from gateway.catalogue.items import Item
from gateway.config import Settings
from gateway.errors import SealUnavailable
from gateway.observability.events import Events
from gateway.observability.logs import get_logger
from gateway.personal_data.identifiers import CHINA_STANDARD_TIME
from gateway.sealing.sealer import Sealer
from gateway.store import RequestRecord, RequestStatus, Store, utcnow
from signing.printout.layout import Layout, parse_layout

RECEIPT_TYPE = "onewindow.receipt.v1"

#: How a receipt prints: the facts the applicant needs at home, in the order a window clerk reads them.
RECEIPT_LAYOUT: Layout = parse_layout(
    {
        "title": "受理回执",
        "fields": [
            {"key": "accepted_at", "label": "受理时间"},
            {"key": "operator", "label": "受理人员"},
            {"key": "channel", "label": "受理渠道"},
            {"key": "case_number", "label": "部门受理编号"},
            {"key": "time_limit_days", "label": "承诺时限（工作日）"},
            {"key": "due_on", "label": "承诺办结日期"},
            {"key": "due_on_unknown", "label": "办结日期说明"},
            {"key": "status_url", "label": "进度查询"},
            {"key": "version", "label": "回执版本"},
        ],
        "note": "本回执仅证明申请已受理，不代表审批结果。请凭业务编号查询办理进度。",
    }
)

#: While the request is still undecided a receipt may get a new version; afterwards the ones given stay.
UNDECIDED = (RequestStatus.ACCEPTED, RequestStatus.DEFERRED, RequestStatus.PENDING)


def receipt_document(
    record: RequestRecord,
    *,
    item: Item,
    agency: Mapping[str, Any],
    office_name: str,
    status_url: str,
    version: int,
    issued_at: datetime,
) -> dict[str, Any]:
    """The receipt to seal for ``record`` as it stands (same header members as a result document)."""
    applicant = record.envelope.get("applicant") or {}
    accepted = record.created_at.astimezone(CHINA_STANDARD_TIME)
    return {
        "document_type": RECEIPT_TYPE,
        "request_id": record.id,
        "item": item.code,
        "item_name": {"zh": item.name_zh, "en": item.name_en},
        "agency": dict(agency),
        "office": {"code": record.office, "name": office_name},
        "applicant": {
            "kind": applicant.get("kind"),
            "name": applicant.get("name"),
            "id_number": applicant.get("id_number"),
        },
        "agency_reference": record.agency_reference,
        "issued_at": issued_at.isoformat(timespec="seconds"),
        "content": {
            "version": version,
            "accepted_at": accepted.strftime("%Y-%m-%d %H:%M") + " (UTC+8)",
            "operator": record.operator,
            "channel": record.channel,
            "case_number": record.agency_reference,
            "time_limit_days": item.time_limit_days,
            "due_on": record.due_on,
            "due_on_unknown": record.due_unknown,
            "status_url": status_url,
        },
    }


class Receipts:
    """Seals, stores and hands out the versions of each request's acceptance receipt."""

    def __init__(
        self,
        *,
        settings: Settings,
        registry: Registry,
        store: Store,
        sealer: Sealer,
        events: Events,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.sealer = sealer
        self.events = events
        self.clock = clock
        self.log = get_logger(component="receipts")

    async def versions(self, request_id: str) -> list[dict[str, Any]]:
        """Every sealed version given so far, oldest first."""
        return await self.store.receipts(request_id)

    async def current(self, record: RequestRecord) -> dict[str, Any] | None:
        """The latest receipt of ``record``, sealing a new version when the facts it shows changed.

        None for a request decided without ever waiting (it has its result,
        not a receipt), or when no valid seal covers the item any more (the
        request itself is unaffected; the reason is logged).
        """
        given = await self.store.receipts(record.id)
        latest = given[-1] if given else None
        if record.status not in UNDECIDED or (latest is not None and not self._news(latest, record)):
            return latest
        item = self.registry.catalogue.get(record.item)
        office = self.settings.office(record.office)
        if item is None or office is None:
            return latest
        version = 1 + (int(latest["content"]["version"]) if latest else 0)
        document = receipt_document(
            record,
            item=item,
            agency=self.registry.agency_for(item.code).identity.as_json(),
            office_name=office.name,
            status_url=f"{self.settings.public_url}/v1/requests/{record.id}",
            version=version,
            issued_at=self.clock(),
        )
        try:
            sealing = await self.sealer.seal(document, item=item, office=office, request_id=record.id)
        except SealUnavailable as exc:
            self.log.warning("receipt.unsealable", request_id=record.id, item=item.code, reason=str(exc))
            return latest
        sealed = sealing.document
        if not await self.store.add_receipt(record.id, version, sealed, now=self.clock()):
            return (await self.store.receipts(record.id))[-1]  # another instance sealed this version first
        await self.events.emit(
            "receipt.issued",
            request_id=record.id,
            item=item.code,
            version=version,
            seal_number=sealed.get("seal", {}).get("number"),
            document_digest=sealing.digest,
            case_number_known=record.agency_reference is not None,
        )
        return sealed

    @staticmethod
    def _news(latest: Mapping[str, Any], record: RequestRecord) -> bool:
        """True when the agency gave a case number the latest version does not show."""
        return record.agency_reference is not None and latest.get("agency_reference") != record.agency_reference
