"""The medical insurance plugin against its OAuth2 + JSON sandbox, over real HTTP on loopback."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from gateway.agencies.extranet import Extranet
from gateway.catalogue.files import load_items
from gateway.catalogue.items import Item
from gateway.contract import (
    AgencyAuthError,
    AgencyProtocolError,
    AgencyUnavailable,
    Completed,
    Pledge,
    Rejected,
)
from gateway.intake.validation import check_materials
from gateway.sandbox import start_sandbox
from gateway.testing.samples import sample_materials
from plugins.medical import sandbox as yb_sandbox
from plugins.medical.client import CATALOGUE, SERVICES, MedicalAgency, bearer_error
from plugins.medical.oauth import basic_credentials
from plugins.medical.sandbox_data import SERVICES as SANDBOX_SERVICES
from tests.helpers import (
    ORGANISATION,
    OTHER_PERSON,
    PERSON,
    deadline,
    intake,
    named,
    sample_settings,
    with_agency,
)

AGENCY = "medical"
ITEMS = load_items(CATALOGUE, plugin=AGENCY, agency=AGENCY)
APPLICANTS = {"person": (PERSON, OTHER_PERSON), "organisation": (ORGANISATION,)}
RECORD = {"start_year": 2023, "end_year": 2025}


def item(code: str) -> Item:
    return next(i for i in ITEMS if i.code == code)


@pytest.fixture
async def bureau():
    running = await start_sandbox(yb_sandbox.spec())
    yield running
    await running.stop()


@pytest.fixture
async def short_lived():
    """A sandbox whose access tokens live one second."""
    running = await start_sandbox(yb_sandbox.spec(), options={"token_ttl_s": 1})
    yield running
    await running.stop()


def extranet_for(running, **values) -> Extranet:
    config = running.spec.config
    secrets = values.pop("secrets", config["secrets"])
    attempts = values.pop("max_attempts", 1)
    settings = with_agency(
        sample_settings(),
        AGENCY,
        running.url,
        secrets=secrets,
        options=config["options"],
        max_attempts=attempts,
        **values,
    )
    return Extranet(settings)


async def submit(extranet: Extranet, request, agency: MedicalAgency | None = None):
    adapter = agency or named(MedicalAgency)
    return await extranet.call(
        AGENCY, "submit", lambda call: adapter.submit(request, call), dedupe_key=request.request_id, deadline=deadline()
    )


async def submit_once(running, request, agency: MedicalAgency | None = None):
    extranet = extranet_for(running)
    try:
        return await submit(extranet, request, agency)
    finally:
        await extranet.close()


async def control(running, method: str, path: str, body: dict | None = None) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{running.url}/_sandbox/{path}", json=body) as response,
    ):
        assert response.status == 200
        return await response.json()


def certificate_query():
    return intake("medical.contribution-record", PERSON, RECORD)


@pytest.mark.parametrize(
    ("code", "applicant"),
    [
        pytest.param(i.code, a, id=f"{i.code}-{a['name']}")
        for i in ITEMS
        for kind in i.applicant_kinds
        for a in APPLICANTS[kind]
    ],
)
async def test_every_item_completes_for_the_sample_applicants(bureau, code: str, applicant: dict) -> None:
    outcome = await submit_once(bureau, intake(code, applicant, sample_materials(item(code))))
    assert isinstance(outcome, Completed), outcome
    assert outcome.reference and outcome.reference.startswith("YB")


async def test_the_contribution_record_is_deterministic_and_lists_years(bureau) -> None:
    one = await submit_once(bureau, certificate_query())
    two = await submit_once(bureau, certificate_query())
    assert one.document == two.document
    assert [r["year"] for r in one.document["records"]] == [2023, 2024, 2025]


async def test_the_documented_applicant_is_rejected_with_every_reason(bureau) -> None:
    rejection = bureau.spec.rejection
    outcome = await submit_once(bureau, intake(rejection["item"], rejection["applicant"], rejection["materials"]))
    assert isinstance(outcome, Rejected) and outcome.reference
    assert [r.code for r in outcome.reasons] == ["medical.20002", "medical.20002"]
    assert "职工基本医疗保险" in outcome.reasons[0].message_zh


@pytest.mark.parametrize(("token_cached", "said"), [(False, "token endpoint"), (True, "50001")])
async def test_maintenance_is_unavailable_with_the_retry_after_hint(bureau, token_cached: bool, said: str) -> None:
    agency = named(MedicalAgency)
    if token_cached:
        await submit_once(bureau, certificate_query(), agency)
    bureau.knobs.update({"maintenance": True})
    with pytest.raises(AgencyUnavailable, match=said) as caught:
        await submit_once(bureau, certificate_query(), agency)
    assert caught.value.retry_after == yb_sandbox.RETRY_AFTER_S


async def test_truncated_json_from_the_api_is_a_protocol_error(bureau) -> None:
    agency = named(MedicalAgency)
    await submit_once(bureau, certificate_query(), agency)  # the token is now cached
    bureau.knobs.update({"malformed_rate": 1.0})
    with pytest.raises(AgencyProtocolError, match="not its JSON envelope"):
        await submit_once(bureau, certificate_query(), agency)


async def test_truncated_json_from_the_token_endpoint_is_a_protocol_error(bureau) -> None:
    bureau.knobs.update({"malformed_rate": 1.0})
    with pytest.raises(AgencyProtocolError, match="token endpoint"):
        await submit_once(bureau, certificate_query())


async def test_a_wrong_client_secret_is_an_auth_error_not_a_retry(bureau) -> None:
    extranet = extranet_for(
        bureau, max_attempts=3, secrets={"client_id": yb_sandbox.CLIENT_ID, "client_secret": "wrong"}
    )
    try:
        with pytest.raises(AgencyAuthError, match="invalid_client"):
            await submit(extranet, certificate_query())
    finally:
        await extranet.close()
    assert (await control(bureau, "GET", "tokens"))["issued"] == 0


async def test_a_repeated_submission_is_acted_on_once(bureau) -> None:
    request = intake("medical.offsite-care-filing", PERSON, sample_materials(item("medical.offsite-care-filing")))
    first = await submit_once(bureau, request)
    second = await submit_once(bureau, request)
    assert first == second
    stats = bureau.ledger.stats()
    assert stats["effective_submissions"] == 1 and stats["duplicate_submissions"] == 1


async def test_queries_are_not_counted_as_submissions(bureau) -> None:
    await submit_once(bureau, certificate_query())
    assert bureau.ledger.stats()["effective_submissions"] == 0


async def test_a_pledge_replaces_the_residence_proof(bureau) -> None:
    materials = sample_materials(item("medical.offsite-care-filing"))
    del materials["residence_proof"]
    pledge = Pledge(
        replaces=("residence_proof",),
        statement="本人承诺长期居住于上海市浦东新区，如有不实愿承担责任",
        signed_by=PERSON["name"],
        signed_at="2026-05-01T10:00:00+08:00",
    )
    outcome = await submit_once(bureau, intake("medical.offsite-care-filing", PERSON, materials, pledge=pledge))
    assert isinstance(outcome, Completed) and outcome.document["valid_to"] == "长期有效"


async def test_one_token_serves_many_calls(bureau) -> None:
    agency = named(MedicalAgency)
    for _ in range(3):
        await submit_once(bureau, certificate_query(), agency)
    assert (await control(bureau, "GET", "tokens"))["issued"] == 1


async def test_a_call_after_expiry_renews_the_token_before_sending(short_lived) -> None:
    agency = named(MedicalAgency)
    await submit_once(short_lived, certificate_query(), agency)
    await asyncio.sleep(1.1)
    outcome = await submit_once(short_lived, certificate_query(), agency)
    assert isinstance(outcome, Completed)
    tokens = await control(short_lived, "GET", "tokens")
    assert tokens["issued"] == 2 and tokens["invalid_token_answers"] == 0


async def test_a_revoked_token_is_renewed_once_and_the_call_repeated(bureau) -> None:
    agency = named(MedicalAgency)
    await submit_once(bureau, certificate_query(), agency)
    await control(bureau, "POST", "tokens/revoke")
    outcome = await submit_once(bureau, certificate_query(), agency)
    assert isinstance(outcome, Completed)
    tokens = await control(bureau, "GET", "tokens")
    assert tokens["issued"] == 2 and tokens["invalid_token_answers"] == 1


async def test_twenty_concurrent_calls_after_expiry_renew_once(short_lived) -> None:
    agency = named(MedicalAgency)
    await submit_once(short_lived, certificate_query(), agency)
    await asyncio.sleep(1.1)
    extranet = extranet_for(short_lived)
    try:
        outcomes = await asyncio.gather(*(submit(extranet, certificate_query(), agency) for _ in range(20)))
    finally:
        await extranet.close()
    assert all(isinstance(o, Completed) for o in outcomes)
    assert (await control(short_lived, "GET", "tokens"))["issued"] == 2


async def test_twenty_concurrent_refusals_of_one_token_renew_once(bureau) -> None:
    agency = named(MedicalAgency)
    await submit_once(bureau, certificate_query(), agency)
    await control(bureau, "POST", "tokens/revoke")
    extranet = extranet_for(bureau)
    try:
        outcomes = await asyncio.gather(*(submit(extranet, certificate_query(), agency) for _ in range(20)))
    finally:
        await extranet.close()
    assert all(isinstance(o, Completed) for o in outcomes)
    tokens = await control(bureau, "GET", "tokens")
    assert tokens["issued"] == 2 and tokens["invalid_token_answers"] == 20


async def test_a_freshly_renewed_token_refused_again_is_an_auth_error(bureau) -> None:
    await control(bureau, "PUT", "tokens", {"accept_tokens": False})
    with pytest.raises(AgencyAuthError, match="40001"):
        await submit_once(bureau, certificate_query())
    tokens = await control(bureau, "GET", "tokens")
    assert tokens["issued"] == 2 and tokens["invalid_token_answers"] == 2


async def test_health_pings_with_a_bearer_token(bureau) -> None:
    extranet = extranet_for(bureau)
    try:
        health = await extranet.call(AGENCY, "health", named(MedicalAgency).health, dedupe_key="h", deadline=deadline())
    finally:
        await extranet.close()
    assert health.ok and health.detail == "1.8.4"


async def test_the_token_endpoint_speaks_rfc_6749(bureau) -> None:
    url = f"{bureau.url}/oauth/token"
    good = basic_credentials(yb_sandbox.CLIENT_ID, yb_sandbox.CLIENT_SECRET)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data={"grant_type": "password"}, headers={"Authorization": good}) as r:
            assert r.status == 400 and (await r.json())["error"] == "unsupported_grant_type"
        async with session.post(url, data={"grant_type": "client_credentials"}) as r:
            assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
        async with session.post(url, data={"grant_type": "client_credentials"}, headers={"Authorization": good}) as r:
            token = await r.json()
            assert r.headers["Cache-Control"] == "no-store"
    assert token["token_type"] == "Bearer" and token["expires_in"] == yb_sandbox.DEFAULT_TOKEN_TTL_S


def test_a_bearer_challenge_is_read_for_its_error() -> None:
    assert bearer_error('Bearer realm="x", error="invalid_token", error_description="gone"') == "invalid_token"
    assert bearer_error('Bearer realm="x"') is None and bearer_error('Basic realm="x"') is None


def test_the_catalogue_declares_the_year_range_and_the_newborns_rules() -> None:
    def codes(code: str, materials: dict) -> list[str]:
        found = check_materials(
            item(code), materials, pledged=frozenset(), max_attachment_bytes=1 << 20, applicant_id=PERSON["id_number"]
        )
        return [p.code for p in found]

    record, newborn = "medical.contribution-record", item("medical.newborn-enrolment")
    assert codes(record, {"start_year": 2025, "end_year": 2023}) == ["period_order"]
    assert codes(record, {"start_year": 2015, "end_year": 2025}) == ["period_too_long"]
    assert codes(record, {"start_year": 2016, "end_year": 2025}) == []  # ten years, both counted
    good = sample_materials(newborn)
    assert codes(newborn.code, {**good, "birth_date": "2025-03-16"}) == ["birth_date_mismatch"]
    assert codes(newborn.code, {**good, "newborn_id_number": PERSON["id_number"], "birth_date": "1990-01-01"}) == [
        "is_applicant"
    ]
    assert codes(newborn.code, good) == []


def test_every_catalogue_material_is_a_field_of_its_service() -> None:
    assert {i.code for i in ITEMS} == set(SERVICES)
    for i in ITEMS:
        service = SANDBOX_SERVICES[SERVICES[i.code][0]]
        assert {m.name for m in i.materials} == set(service.required) | set(service.optional), i.code
    assert any("partner_outlet" in i.channels for i in ITEMS)
    assert any("village_station" in i.channels for i in ITEMS)
