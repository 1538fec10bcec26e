"""Helpers shared by tests: sample applicants, settings pointed at sandboxes."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from gateway.config import AgencySettings, Settings, WitnessSettings, load_settings
from gateway.contract import Applicant, IntakeRequest
from gateway.intake.request_ids import new_ulid

# The canonical sample applicants live in the test kit; re-exported for the tests.
from gateway.testing.samples import ORGANISATION as ORGANISATION
from gateway.testing.samples import OTHER_PERSON as OTHER_PERSON
from gateway.testing.samples import PERSON as PERSON

# A third person the agency sandboxes know (a housing-fund account holder, a property owner).
LIU_FANG = {"kind": "person", "id_number": "370303200102145629", "name": "刘芳"}

WINDOW_KEY = "sample-fangzhen-window-key"
KIOSK_KEY = "sample-fangzhen-kiosk-key"
BANK_KEY = "sample-bank-outlet-key"
STATION_KEY = "sample-dongcun-station-key"
TOWN = "370303105000"
VILLAGE = "370303105201"


def sample_settings(**changes: Any) -> Settings:
    """The sample district without sandboxes started by the gateway itself (nor its witness in ./var)."""
    settings = load_settings(environ={})
    return dataclasses.replace(settings, **{"sandboxes_start": False, "witness": WitnessSettings(), **changes})


def with_agency(settings: Settings, code: str, base_url: str, **values: Any) -> Settings:
    agencies = dict(settings.agencies)
    current = agencies.get(code, AgencySettings(code=code))
    agencies[code] = dataclasses.replace(current, base_url=base_url, **values)
    return dataclasses.replace(settings, agencies=agencies)


def intake(item: str, applicant: dict[str, Any], materials: dict[str, Any], **extra: Any) -> IntakeRequest:
    return IntakeRequest(
        request_id=extra.pop("request_id", new_ulid()),
        item=item,
        applicant=Applicant(
            kind=applicant["kind"],
            id_type="resident_id" if applicant["kind"] == "person" else "credit_code",
            id_number=applicant["id_number"],
            name=applicant["name"],
        ),
        materials=materials,
        office=TOWN,
        operator="fz-01",
        channel="window",
        **extra,
    )


def deadline(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


# Envelopes the tax sandbox completes.
PAYMENT_RECORD = {
    "item": "tax.payment-record",
    "applicant": PERSON,
    "materials": {"period_start": "2025-01-01", "period_end": "2025-12-31"},
    "office": TOWN,
    "operator": "fz-window-01",
    "channel": "window",
}
CLEARANCE = {
    **PAYMENT_RECORD,
    "item": "tax.clearance-certificate",
    "applicant": ORGANISATION,
    "materials": {
        "reason": "注销登记",
        "contact_phone": "13805330123",
        "invoice_cancellation_proof": {"media_type": "application/pdf", "content_base64": "JVBERi0xLjQK"},
    },
}
