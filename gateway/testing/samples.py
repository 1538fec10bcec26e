"""The standard sample applicants and envelopes built from a catalogue item's samples.

Every plugin's tests, the contract kit and the end-to-end suite submit the
same invented applicants, so a sandbox can be written to know them and an
author can read a failing test without looking up who "the applicant" was.
Envelopes are built from the catalogue -- each material's ``sample`` -- and
checked by the core's own envelope parser, so a sample the gateway would
refuse at the window is found here first.

SAMPLE DATA: valid check characters, invented people and businesses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.catalogue.items import Item

PERSON: dict[str, str] = {"kind": "person", "id_number": "370303199001011239", "name": "张伟"}
OTHER_PERSON: dict[str, str] = {"kind": "person", "id_number": "370303198503120027", "name": "王秀英"}
ORGANISATION: dict[str, str] = {
    "kind": "organisation",
    "id_number": "91370303MA3C4XY85N",
    "name": "淄博房镇鑫源商贸有限公司",
}
SAMPLE_PHONE = "13805330123"
# The sample district's offices (gateway/config/sample.toml), one per level.
OFFICES: dict[str, str] = {"town": "370303105000", "street_office": "370303007000", "village_station": "370303105201"}
OPERATOR = "kit-window-01"


class SampleError(AssertionError):
    """A catalogue sample the core refuses; the message lists every problem (for a readable test failure)."""


def applicant_for(item: Item) -> dict[str, str]:
    """The standard sample applicant of a kind ``item`` accepts: the person if it may, else the organisation."""
    return dict(PERSON if "person" in item.applicant_kinds else ORGANISATION)


def sample_materials(item: Item) -> dict[str, Any]:
    """Every material of ``item`` that has a sample, with it."""
    return {m.name: m.sample for m in item.materials if m.sample is not None}


def envelope_for(
    item: Item,
    *,
    applicant: Mapping[str, Any] | None = None,
    materials: Mapping[str, Any] | None = None,
    office: str | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """A ``POST /v1/requests`` body for ``item``: its samples, overlaid with ``materials``.

    The office is the sample district's office of the first level the item
    allows, and the channel ``window`` when allowed (the window accepts
    everything), else the item's first channel.
    """
    level = next((lvl for lvl in OFFICES if lvl in item.office_levels), item.office_levels[0])
    return {
        "item": item.code,
        "applicant": dict(applicant or applicant_for(item)),
        "materials": {**sample_materials(item), **(materials or {})},
        "office": office or OFFICES[level],
        "operator": OPERATOR,
        "channel": channel or ("window" if "window" in item.channels else item.channels[0]),
    }


def intake_for(item: Item, envelope: Mapping[str, Any], request_id: str, *, max_attachment_bytes: int = 2_097_152):
    """The :class:`~gateway.contract.IntakeRequest` the gateway would hand the plugin for ``envelope``.

    Raises :class:`SampleError` listing every problem the core finds, as the
    window would hear them in one 422 answer.
    """
    from gateway.delivery.accepted import intake_request
    from gateway.intake.envelope import parse_envelope

    parsed, problems = parse_envelope(envelope, item, max_attachment_bytes=max_attachment_bytes)
    if parsed is None:
        listed = "; ".join(f"{p.path}: {p.message_en}" for p in problems)
        raise SampleError(f"the core refuses this {item.code} request: {listed}")
    return intake_request(request_id, parsed)
