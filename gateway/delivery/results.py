"""What the gateway hands back: result documents and request resources.

A result document is what gets sealed and what an applicant may later show
anyone: it names the item, the agency (as the district's configuration
names it, with the issuing authority and its credit code), the accepting
office, the applicant and the agency's answer. The request resource is the integrator's view of
one request: its status and, when there is one, the sealed result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.catalogue.items import Item
from gateway.config import Office
from gateway.contract import Agency, Applicant, Reason
from gateway.errors import PluginFault
from gateway.personal_data.identifiers import today_in_china
from gateway.problems import PLUGIN_FAILED, ProblemError
from gateway.proxy.authorisation import PROXY_CHANNEL, authorisation_from_stored, sealed_proxy
from gateway.proxy.lifecycle import proxy_steps
from gateway.service.time_limits import is_overdue
from gateway.store import RequestRecord, RequestStatus

DOCUMENT_TYPE = "onewindow.result.v1"


def result_document(
    *,
    request_id: str,
    item: Item,
    agency: Agency,
    office: Office,
    applicant: Applicant,
    content: Mapping[str, Any],
    reference: str | None,
    issued_at: datetime | None = None,
    proxy: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The document to seal for a completed request; a proxy-handled one names the proxy (帮办代办)."""
    document = {
        "document_type": DOCUMENT_TYPE,
        "request_id": request_id,
        "item": item.code,
        "item_name": {"zh": item.name_zh, "en": item.name_en},
        "agency": agency.identity.as_json(),  # the district's configured identity, issuing authority included
        "office": {"code": office.code, "name": office.name},
        "applicant": {"kind": applicant.kind, "name": applicant.name, "id_number": applicant.id_number},
        "agency_reference": reference,
        "issued_at": (issued_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "content": dict(content),
    }
    if proxy is not None:
        document["proxy"] = dict(proxy)
    return document


def reasons_json(reasons: tuple[Reason, ...]) -> list[dict[str, Any]]:
    """Business reasons as JSON."""
    return [{"code": r.code, "message_zh": r.message_zh, "message_en": r.message_en} for r in reasons]


def request_path(request_id: str) -> str:
    return f"/v1/requests/{request_id}"


def request_view(record: RequestRecord) -> dict[str, Any]:
    """The request resource returned by ``POST /v1/requests`` and ``GET /v1/requests/{id}``."""
    view: dict[str, Any] = {
        "id": record.id,
        "status": str(record.status),
        "item": record.item,
        "agency": record.agency,
        "office": record.office,
        "operator": record.operator,
        "channel": record.channel,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "attempts": record.attempts,
        "links": {"self": request_path(record.id)},
    }
    if record.finished_at:
        view["finished_at"] = record.finished_at.isoformat()
    if record.purged_at:
        view["purged_at"] = record.purged_at.isoformat()  # envelope and result removed: docs/operations.md
    if record.agency_reference:  # the agency's case number: shown as soon as it gives one, pending or final
        view["agency_reference"] = record.agency_reference
    if record.agency_message and record.status is RequestStatus.PENDING:
        view["agency_message"] = record.agency_message
    if record.due_on:
        view["due_on"] = record.due_on
        view["overdue"] = is_overdue(record.due_on, record.status.final, today_in_china())
    elif record.due_unknown:
        view["due_on"] = None
        view["due_on_unknown"] = record.due_unknown
    if record.status is RequestStatus.COMPLETED and record.result is not None:
        view["result"] = record.result.get("document")
    if record.status is RequestStatus.REJECTED and record.result is not None:
        view["reasons"] = record.result.get("reasons", [])
    if record.error is not None and record.status is not RequestStatus.COMPLETED:
        view["error"] = record.error
    authorisation = record.envelope.get("authorisation")
    if authorisation or record.channel == PROXY_CHANNEL:
        view["proxy"] = proxy_view(authorisation, record)
    return view


def proxy_view(authorisation: Mapping[str, Any] | None, record: RequestRecord) -> dict[str, Any]:
    """Who handles the request for the applicant, and where it stands in the six steps (帮办代办六步法)."""
    view: dict[str, Any] = {}
    checked = authorisation_from_stored(authorisation)
    if checked is not None:
        view = sealed_proxy(checked) | {"items": list(checked.items)}
    return view | {"steps": proxy_steps(record)}


@dataclass
class Answer:
    """What to send back: an HTTP status, a JSON body and headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    retryable: bool = False


def answer_for(record: RequestRecord) -> Answer:
    """The HTTP answer describing ``record`` as it stands."""
    waiting = record.status in (RequestStatus.PENDING, RequestStatus.DEFERRED, RequestStatus.ACCEPTED)
    return Answer(202 if waiting else 201, request_view(record), {"Location": request_path(record.id)})


def plugin_failed(fault: PluginFault, item: Item) -> ProblemError:
    """The caller's answer to a plugin's fault: 502 ``plugin-failed`` naming plugin and hook, not its error text."""
    return ProblemError(
        PLUGIN_FAILED,
        str(fault),
        f"{item.agency} 部门接入插件出错（{fault.plugin}），本次申请未能办理，请联系运维人员。",
        item=item.code,
        plugin=fault.plugin,
        hook=fault.hook,
    )
