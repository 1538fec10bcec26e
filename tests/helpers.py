"""Helpers shared by tests: sample applicants, settings pointed at sandboxes."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from gateway.agencies.plugin_manager import hook_results_by_plugin
from gateway.config import IDENTITY_KEYS, AgencySettings, Settings, WitnessSettings, load_settings
from gateway.contract import AgencyIdentity, Applicant, IntakeRequest
from gateway.intake.request_ids import new_ulid
from gateway.store import RequestRecord, RequestStatus, utcnow
from gateway.testing.harness import KIT_CREDIT_CODE

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


def identity_of(code: str, name_zh: str, name_en: str) -> AgencyIdentity:
    """The identity of a test agency (a district would configure it under ``[agencies.<code>]``)."""
    return AgencyIdentity(code, name_zh, name_en, name_zh, name_en, KIT_CREDIT_CODE)


def configuring_test_agencies(settings: Settings, pm: Any) -> Settings:
    """``settings`` configuring every test agency of ``pm`` they do not: its identity as it names
    itself, and an address nothing listens on (a test agency answers in-process).

    A district names every agency it runs and says where it is; the test
    plugins' agencies are configured by the tests, so the gateway's start-up
    checks hold for them as for a district's.
    """
    agencies = dict(settings.agencies)
    for _, adapters in hook_results_by_plugin(pm, "onewindow_agencies", config=settings, refused=[]):
        for adapter in adapters:
            current = settings.agency(adapter.code)
            if not all(getattr(current, key) for key in IDENTITY_KEYS):
                names = {key: getattr(adapter.identity, key) for key in IDENTITY_KEYS}
                current = dataclasses.replace(current, **names)
            agencies[adapter.code] = dataclasses.replace(current, base_url=current.base_url or "http://127.0.0.1:9")
    return dataclasses.replace(settings, agencies=agencies)


def named(adapter_class: Any) -> Any:
    """An agency adapter named as the sample district names it, as its plugin's hook builds it."""
    return adapter_class(load_settings(environ={}).agency_identity(adapter_class.code))


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
# A sale the tax bureau invoices (a deferrable item only while the bureau is up: 503 when it is down).
INVOICE_MATERIALS = {
    "buyer_name": "淄博房镇鑫源商贸有限公司",
    "buyer_credit_code": "91370303MA3C4XY85N",
    "goods_description": "玉米",
    "amount": 100.0,
    "contract": {"media_type": "application/pdf", "content_base64": "JVBERi0xLjQK"},
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


def stored_request(**overrides: Any) -> RequestRecord:
    """A request record as intake stores it (overrides replace any field)."""
    now = utcnow()
    fields = dict(
        id=new_ulid(),
        caller_id="fangzhen-window",
        item="tax.payment-record",
        agency="tax",
        office="370303105000",
        operator="fz-01",
        channel="window",
        status=RequestStatus.ACCEPTED,
        envelope={"item": "tax.payment-record", "materials": {"year": 2025}, "applicant": {"name": "张伟"}},
        created_at=now,
        updated_at=now,
    )
    fields.update(overrides)
    return RequestRecord(**fields)
