"""An accepted request: its envelope, the form the store keeps it in, and the plugin's view of it.

Intake produces an :class:`Envelope` once it has checked a body
(:func:`gateway.intake.envelope.parse_envelope`); from then on delivery
works from the stored form, for the first call and for every redelivery
and poll, so a request is delivered exactly as it was accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.contract import Applicant, IntakeRequest, Pledge
from gateway.proxy.authorisation import Authorisation, authorisation_from_stored, stored_authorisation


@dataclass(frozen=True)
class Envelope:
    """A checked envelope, ready to become an :class:`~gateway.contract.IntakeRequest`."""

    item: str
    applicant: Applicant
    materials: Mapping[str, Any]
    office: str
    operator: str
    channel: str
    pledge: Pledge | None
    callback_url: str | None
    authorisation: Authorisation | None = None  # a proxy's, signed by the applicant (帮办代办)


def stored_envelope(envelope: Envelope) -> dict[str, Any]:
    """The envelope as stored with its request, so it can be redelivered or polled later."""
    a, p = envelope.applicant, envelope.pledge
    stored = {
        "item": envelope.item,
        "applicant": {"kind": a.kind, "id_type": a.id_type, "id_number": a.id_number, "name": a.name, "phone": a.phone},
        "materials": dict(envelope.materials),
        "office": envelope.office,
        "operator": envelope.operator,
        "channel": envelope.channel,
        "pledge": None
        if p is None
        else {
            "replaces": list(p.replaces),
            "statement": p.statement,
            "signed_by": p.signed_by,
            "signed_at": p.signed_at,
        },
        "callback_url": envelope.callback_url,
    }
    if envelope.authorisation is not None:
        stored["authorisation"] = stored_authorisation(envelope.authorisation)
    return stored


def envelope_from_stored(data: Mapping[str, Any]) -> Envelope:
    """Rebuild a stored envelope without checking it again.

    It was checked when it was accepted; checking it again on a later day
    could refuse what was valid then (a date "not before today"), and a
    deferred request must be delivered as it was accepted.
    """
    a, p = data["applicant"], data.get("pledge")
    return Envelope(
        item=data["item"],
        applicant=Applicant(a["kind"], a["id_type"], a["id_number"], a["name"], a.get("phone")),
        materials=dict(data["materials"]),
        office=data["office"],
        operator=data["operator"],
        channel=data["channel"],
        pledge=None if p is None else Pledge(tuple(p["replaces"]), p["statement"], p["signed_by"], p["signed_at"]),
        callback_url=data.get("callback_url"),
        authorisation=authorisation_from_stored(data.get("authorisation")),
    )


def intake_request(request_id: str, envelope: Envelope) -> IntakeRequest:
    """The plugin's view of a stored or fresh envelope."""
    return IntakeRequest(
        request_id=request_id,
        item=envelope.item,
        applicant=envelope.applicant,
        materials=envelope.materials,
        office=envelope.office,
        operator=envelope.operator,
        channel=envelope.channel,
        pledge=envelope.pledge,
    )
