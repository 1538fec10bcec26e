"""What an authenticated caller may do: request an item, read a request.

Who is calling is :mod:`gateway.callers`' job; this is authorisation, by
the caller's office, channel and item patterns, and the item's own rules.
"""

from __future__ import annotations

from gateway.callers.model import Caller
from gateway.catalogue.items import Catalogue, Item, matches_any
from gateway.problems import FORBIDDEN, ProblemError, echo
from gateway.store import RequestRecord

__all__ = ["Caller", "authorise", "may_read"]


def _refusals(caller: Caller, item: Item, *, office: str, channel: str) -> list[tuple[str, str]]:
    """Why ``caller`` may not request ``item`` from ``office`` over ``channel`` (English, Chinese); empty if it may."""
    reasons: list[tuple[str, str]] = []
    if office != caller.office.code:
        reasons.append(
            (
                f"this caller belongs to office {caller.office.code}, not {echo(office)}",
                f"该终端隶属于 {caller.office.code}，不能代表 {echo(office)} 受理",
            )
        )
    if channel != caller.channel:
        reasons.append(
            (
                f"this caller is registered for channel '{caller.channel}', not '{echo(channel)}'",
                f"该终端登记的渠道为 {caller.channel}，不是 {echo(channel)}",
            )
        )
    if not matches_any(item.code, caller.items):
        reasons.append((f"this caller may not request {item.code}", f"该终端无权办理事项 {item.code}"))
    if caller.office.level not in item.office_levels:
        reasons.append(
            (
                f"{item.code} cannot be accepted at a {caller.office.level} office",
                f"{caller.office.name}（{caller.office.level}）不能受理该事项",
            )
        )
    if channel not in item.channels:
        reasons.append(
            (
                f"{item.code} cannot be requested over channel '{echo(channel)}'",
                f"该事项不能通过 {echo(channel)} 渠道办理",
            )
        )
    return reasons


def authorise(caller: Caller, item: Item, *, office: str, channel: str) -> None:
    """Raise a 403 problem unless ``caller`` may request ``item`` from ``office`` over ``channel``."""
    reasons = _refusals(caller, item, office=office, channel=channel)
    if reasons:
        raise ProblemError(
            FORBIDDEN,
            "; ".join(r[0] for r in reasons) + ".",
            "；".join(r[1] for r in reasons) + "。",
            item=item.code,
            caller=caller.id,
        )


def may_read(caller: Caller, record: RequestRecord, catalogue: Catalogue) -> bool:
    """Whether ``caller`` may see ``record``: the request it made itself, and nothing else -- unless
    the district set ``read_office_requests`` for it, which adds its office's requests for items it
    could have requested itself (its item list, its channel, its office level).

    A result names the applicant: a bank outlet sharing the town centre's
    office must not read the window's tax records, nor a kiosk a clearance
    certificate its channel may not even request.
    """
    if record.caller_id == caller.id:
        return True
    item = catalogue.get(record.item)
    if not caller.read_office_requests or item is None or record.office != caller.office.code:
        return False
    return not _refusals(caller, item, office=record.office, channel=caller.channel)
