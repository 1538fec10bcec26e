"""The tax plugin against its sandbox, over real HTTP on loopback."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.agencies.extranet import Extranet
from gateway.contract import (
    AgencyAuthError,
    AgencyProtocolError,
    AgencyUnavailable,
    Completed,
    Rejected,
)
from gateway.sandbox import FaultKnobs, start_sandbox
from plugins.tax import sandbox as tax_sandbox
from plugins.tax.client import TaxAgency
from tests.helpers import ORGANISATION, PERSON, deadline, intake, named, sample_settings, with_agency


@pytest.fixture
async def tax():
    running = await start_sandbox(tax_sandbox.spec())
    yield running
    await running.stop()


def extranet_for(running, **values) -> Extranet:
    settings = with_agency(
        sample_settings(),
        "tax",
        running.url,
        secrets=running.spec.config["secrets"],
        max_attempts=values.pop("max_attempts", 1),
        **values,
    )
    return Extranet(settings)


async def submit(extranet: Extranet, request):
    agency = named(TaxAgency)
    try:
        return await extranet.call(
            "tax",
            "submit",
            lambda call: agency.submit(request, call),
            dedupe_key=request.request_id,
            deadline=deadline(),
        )
    finally:
        await extranet.close()


async def test_a_payment_record_query_completes_with_records(tax) -> None:
    outcome = await submit(
        extranet_for(tax),
        intake("tax.payment-record", PERSON, {"period_start": "2025-01-01", "period_end": "2025-12-31"}),
    )
    assert isinstance(outcome, Completed)
    assert outcome.document["records"] and outcome.reference.startswith("(2026)鲁税完证")


async def test_the_sample_data_is_deterministic(tax) -> None:
    materials = {"period_start": "2025-01-01", "period_end": "2025-12-31"}
    one = await submit(extranet_for(tax), intake("tax.payment-record", PERSON, materials))
    two = await submit(extranet_for(tax), intake("tax.payment-record", PERSON, materials))
    assert one.document == two.document


async def test_arrears_reject_a_clearance_certificate_with_the_bureaus_reason(tax) -> None:
    outcome = await submit(
        extranet_for(tax),
        intake(
            "tax.clearance-certificate",
            tax.spec.rejection["applicant"],
            {"reason": "注销登记", "contact_phone": "13805330123"},
        ),
    )
    assert isinstance(outcome, Rejected)
    (reason,) = outcome.reasons
    assert reason.code == "tax.2002" and "欠税" in reason.message_zh


async def test_a_wrong_secret_is_an_auth_error_not_a_retry(tax) -> None:
    extranet = extranet_for(tax, max_attempts=3)
    extranet.settings.agencies["tax"] = dataclasses.replace(
        extranet.settings.agencies["tax"], secrets={"app_key": tax_sandbox.APP_KEY, "app_secret": "wrong"}
    )
    with pytest.raises(AgencyAuthError, match="1001"):
        await submit(extranet, intake("tax.credit-grade", ORGANISATION, {"year": 2025}))


async def test_maintenance_is_agency_unavailable(tax) -> None:
    tax.knobs.update({"maintenance": True})
    with pytest.raises(AgencyUnavailable):
        await submit(extranet_for(tax), intake("tax.credit-grade", ORGANISATION, {"year": 2025}))


async def test_garbage_is_a_protocol_error(tax) -> None:
    tax.knobs.update({"malformed_rate": 1.0})
    with pytest.raises(AgencyProtocolError):
        await submit(extranet_for(tax), intake("tax.credit-grade", ORGANISATION, {"year": 2025}))


async def test_a_repeated_submission_is_acted_on_once(tax) -> None:
    request = intake("tax.clearance-certificate", ORGANISATION, {"reason": "注销登记", "contact_phone": "13805330123"})
    first = await submit(extranet_for(tax), request)
    second = await submit(extranet_for(tax), request)
    assert first == second
    stats = tax.ledger.stats()
    assert stats["effective_submissions"] == 1 and stats["duplicate_submissions"] == 1


async def test_health_pings_the_signed_endpoint(tax) -> None:
    extranet = extranet_for(tax)
    try:
        health = await extranet.call("tax", "health", named(TaxAgency).health, dedupe_key="h", deadline=deadline())
    finally:
        await extranet.close()
    assert health.ok and health.detail == "2.3.1"


def test_sandbox_knobs_refuse_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown fault knob"):
        FaultKnobs().update({"latency": 5})
