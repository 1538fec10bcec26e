"""The social security plugin against its SOAP sandbox, over real HTTP on loopback."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import aiohttp
import pytest

from gateway.agencies.extranet import Extranet
from gateway.catalogue.files import load_items
from gateway.catalogue.items import Item
from gateway.contract import (
    AgencyAuthError,
    AgencyProtocolError,
    AgencyRejectedCall,
    AgencyUnavailable,
    Completed,
    Pledge,
    Rejected,
)
from gateway.intake.validation import check_materials
from gateway.sandbox import start_sandbox
from gateway.testing.samples import sample_materials
from plugins.social_security import sandbox as si_sandbox
from plugins.social_security.client import (
    CATALOGUE,
    OPERATIONS,
    SocialSecurityAgency,
    security_header,
)
from plugins.social_security.soap import (
    SERVICE_PATH,
    SOAP_ENV,
    UnsafeXml,
    parse_xml,
    qn,
    si,
    soap_action,
    to_bytes,
)
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

AGENCY = "social_security"
ITEMS = load_items(CATALOGUE, plugin=AGENCY, agency=AGENCY)
APPLICANTS = {"person": (PERSON, OTHER_PERSON), "organisation": (ORGANISATION,)}
CERTIFICATE = {"start_month": "2025-01", "end_month": "2025-12"}


def item(code: str) -> Item:
    return next(i for i in ITEMS if i.code == code)


@pytest.fixture
async def bureau():
    running = await start_sandbox(si_sandbox.spec())
    yield running
    await running.stop()


def extranet_for(running, **values) -> Extranet:
    config = running.spec.config
    settings = with_agency(
        sample_settings(),
        AGENCY,
        running.url,
        secrets=values.pop("secrets", config["secrets"]),
        options=config["options"],
        max_attempts=values.pop("max_attempts", 1),
        **values,
    )
    return Extranet(settings)


async def submit(extranet: Extranet, request):
    agency = named(SocialSecurityAgency)
    try:
        return await extranet.call(
            AGENCY,
            "submit",
            lambda call: agency.submit(request, call),
            dedupe_key=request.request_id,
            deadline=deadline(),
        )
    finally:
        await extranet.close()


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
    outcome = await submit(extranet_for(bureau), intake(code, applicant, sample_materials(item(code))))
    assert isinstance(outcome, Completed), outcome
    assert outcome.reference and outcome.document["business_no"] == outcome.reference


async def test_the_certificate_lists_monthly_records_as_a_list(bureau) -> None:
    outcome = await submit(
        extranet_for(bureau),
        intake(
            "social_security.payment-certificate",
            PERSON,
            {**CERTIFICATE, "insurance_type": "失业保险"},
        ),
    )
    records = outcome.document["records"]
    assert isinstance(records, list) and len(records) == 12
    assert {r["insurance_type"] for r in records} == {"失业保险"} and records[0]["month"] == "2025-01"


async def test_the_sample_data_is_deterministic(bureau) -> None:
    request = lambda: intake("social_security.payment-certificate", ORGANISATION, CERTIFICATE)  # noqa: E731
    one = await submit(extranet_for(bureau), request())
    two = await submit(extranet_for(bureau), request())
    assert one.document == two.document


async def test_the_documented_applicant_is_rejected_with_the_fault_reason(bureau) -> None:
    rejection = bureau.spec.rejection
    outcome = await submit(
        extranet_for(bureau),
        intake(rejection["item"], rejection["applicant"], rejection["materials"]),
    )
    assert isinstance(outcome, Rejected)
    (reason,) = outcome.reasons
    assert reason.code == "social_security.BIZ-2001" and "未查询到申请人在淄博市张店区" in reason.message_zh


async def test_an_age_rule_is_a_business_rejection(bureau) -> None:
    child = {"kind": "person", "id_number": "370303202503150022", "name": "张小雨"}
    outcome = await submit(
        extranet_for(bureau),
        intake(
            "social_security.employment-certificate",
            child,
            sample_materials(item("social_security.employment-certificate")),
        ),
    )
    assert isinstance(outcome, Rejected) and outcome.reasons[0].code == "social_security.BIZ-2101"


async def test_a_server_fault_is_unavailable_with_the_bureaus_retry_hint(bureau) -> None:
    bureau.knobs.update({"maintenance": True})
    with pytest.raises(AgencyUnavailable, match="SYS-9001 系统繁忙") as caught:
        await submit(extranet_for(bureau), intake("social_security.payment-certificate", PERSON, CERTIFICATE))
    assert caught.value.retry_after == si_sandbox.RETRY_AFTER_S


async def test_truncated_xml_is_a_protocol_error(bureau) -> None:
    bureau.knobs.update({"malformed_rate": 1.0})
    with pytest.raises(AgencyProtocolError, match="not usable XML"):
        await submit(extranet_for(bureau), intake("social_security.payment-certificate", PERSON, CERTIFICATE))


async def test_a_wrong_password_is_an_auth_error_not_a_retry(bureau) -> None:
    extranet = extranet_for(bureau, max_attempts=3, secrets={"username": si_sandbox.USERNAME, "password": "wrong"})
    with pytest.raises(AgencyAuthError, match="AUTH-1001"):
        await submit(extranet, intake("social_security.payment-certificate", PERSON, CERTIFICATE))


async def test_a_missing_field_is_a_rejected_call(bureau) -> None:
    materials = sample_materials(item("social_security.unemployment-registration"))
    del materials["separation_proof"]
    with pytest.raises(AgencyRejectedCall, match=r"REQ-3003.*separationProof"):
        await submit(
            extranet_for(bureau),
            intake("social_security.unemployment-registration", PERSON, materials),
        )


async def test_a_pledge_replaces_the_separation_proof(bureau) -> None:
    materials = sample_materials(item("social_security.unemployment-registration"))
    del materials["separation_proof"]
    pledge = Pledge(
        replaces=("separation_proof",),
        statement="本人承诺已与原单位解除劳动关系，如有不实愿承担责任",
        signed_by=PERSON["name"],
        signed_at="2026-02-03T09:30:00+08:00",
    )
    outcome = await submit(
        extranet_for(bureau),
        intake("social_security.unemployment-registration", PERSON, materials, pledge=pledge),
    )
    assert isinstance(outcome, Completed)


async def test_a_repeated_submission_is_acted_on_once(bureau) -> None:
    request = intake(
        "social_security.card-loss-report",
        PERSON,
        sample_materials(item("social_security.card-loss-report")),
    )
    first = await submit(extranet_for(bureau), request)
    second = await submit(extranet_for(bureau), request)
    assert first == second
    stats = bureau.ledger.stats()
    assert stats["effective_submissions"] == 1 and stats["duplicate_submissions"] == 1


async def test_certificate_queries_are_not_counted_as_submissions(bureau) -> None:
    await submit(extranet_for(bureau), intake("social_security.payment-certificate", PERSON, CERTIFICATE))
    assert bureau.ledger.stats()["effective_submissions"] == 0


async def test_health_calls_the_status_operation(bureau) -> None:
    extranet = extranet_for(bureau)
    try:
        health = await extranet.call(
            AGENCY, "health", named(SocialSecurityAgency).health, dedupe_key="h", deadline=deadline()
        )
    finally:
        await extranet.close()
    assert health.ok and health.detail == "3.2.0"


async def post_raw(bureau, data: bytes, action: str) -> tuple[int, str]:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": soap_action(action)}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{bureau.url}/{SERVICE_PATH}", data=data, headers=headers) as response,
    ):
        return response.status, await response.text()


async def test_the_sandbox_refuses_a_doctype_before_expanding_it(bureau) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>'
    status, answer = await post_raw(bureau, bomb, "getServiceStatus")
    assert status == 500 and "REQ-3001" in answer and "DTD" in answer


async def test_the_sandbox_refuses_a_replayed_security_token(bureau) -> None:
    envelope = ET.Element(qn(SOAP_ENV, "Envelope"))
    ET.SubElement(envelope, qn(SOAP_ENV, "Header")).append(security_header(si_sandbox.USERNAME, si_sandbox.PASSWORD))
    ET.SubElement(envelope, qn(SOAP_ENV, "Body")).append(ET.Element(si("getServiceStatus")))
    first = await post_raw(bureau, to_bytes(envelope), "getServiceStatus")
    replayed = await post_raw(bureau, to_bytes(envelope), "getServiceStatus")
    assert first[0] == 200 and "NORMAL" in first[1]
    assert replayed[0] == 500 and "AUTH-1003" in replayed[1]


def test_the_adapter_refuses_a_doctype_in_any_encoding() -> None:
    for data in (
        b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a><a/>'.encode("utf-16"),
    ):
        with pytest.raises(UnsafeXml):
            parse_xml(data)


def test_every_catalogue_material_maps_to_an_element() -> None:
    assert {i.code for i in ITEMS} == set(OPERATIONS)
    for i in ITEMS:
        assert {m.name for m in i.materials} == set(OPERATIONS[i.code].elements), i.code
    assert any("partner_outlet" in i.channels for i in ITEMS) and any("village_station" in i.channels for i in ITEMS)


def test_the_catalogue_declares_the_certificate_period_rules_the_bureau_enforces() -> None:
    def codes(materials: dict) -> list[str]:
        found = check_materials(item(certificate), materials, pledged=frozenset(), max_attachment_bytes=1 << 20)
        return [p.code for p in found]

    certificate = "social_security.payment-certificate"
    assert codes({"start_month": "2025-06", "end_month": "2025-01"}) == ["period_order"]
    assert codes({"start_month": "2015-01", "end_month": "2025-12"}) == ["period_too_long"]
    assert codes({"start_month": "2021-01", "end_month": "2025-12"}) == []  # 60 months, both counted
    assert codes(CERTIFICATE) == []


def test_the_sandbox_spec_carries_credentials_and_port() -> None:
    spec = si_sandbox.spec()
    assert spec.default_port == 9102 and set(spec.config["secrets"]) == {"username", "password"}
