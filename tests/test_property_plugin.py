"""The property plugin against its sandbox: immediate inquiries and long-running registrations."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest

from gateway.agencies.extranet import Extranet
from gateway.catalogue.files import load_items
from gateway.contract import (
    AgencyAuthError,
    AgencyProtocolError,
    AgencyRejectedCall,
    AgencyUnavailable,
    Completed,
    Pending,
    Pledge,
    Rejected,
)
from gateway.sandbox import start_sandbox
from gateway.testing.samples import sample_materials
from plugins.property import sandbox as registry_sandbox
from plugins.property.client import CATALOGUE, PropertyAgency
from tests.helpers import (
    LIU_FANG,
    ORGANISATION,
    OTHER_PERSON,
    PERSON,
    deadline,
    intake,
    named,
    sample_settings,
    with_agency,
)

DELAY = 0.3
ITEMS = {item.code: item for item in load_items(CATALOGUE, plugin="property", agency="property")}
SAMPLE_APPLICANTS = (PERSON, OTHER_PERSON, ORGANISATION)
TITLE = re.compile(r"^鲁\(\d{4}\)张店区不动产权第\d{7}号$")
PROOF = re.compile(r"^鲁\(\d{4}\)张店区不动产证明第\d{7}号$")


@pytest.fixture
async def registry():
    running = await start_sandbox(registry_sandbox.spec(), options={"decision_delay_s": DELAY})
    yield running
    await running.stop()


@pytest.fixture
async def extranet(registry):
    config = registry.spec.config
    settings = with_agency(
        sample_settings(),
        "property",
        registry.url,
        max_attempts=1,
        secrets=config["secrets"],
        options=config["options"],
    )
    extranet = Extranet(settings)
    yield extranet
    await extranet.close()


async def submit(extranet: Extranet, request):
    agency = named(PropertyAgency)
    return await extranet.call(
        "property",
        "submit",
        lambda call: agency.submit(request, call),
        dedupe_key=request.request_id,
        deadline=deadline(),
    )


async def poll(extranet: Extranet, ticket: str, request=None):
    agency = named(PropertyAgency)
    return await extranet.call(
        "property",
        "poll",
        lambda call: agency.poll(ticket, call),
        dedupe_key=ticket,
        deadline=deadline(),
        request=request,
    )


async def settle(extranet: Extranet, outcome):
    """Poll as the centre's estimates say until the case is decided (a few rounds at most)."""
    for _ in range(5):
        if not isinstance(outcome, Pending):
            return outcome
        await asyncio.sleep(outcome.poll_after)
        outcome = await poll(extranet, outcome.ticket)
    raise AssertionError(f"case {outcome.ticket} still pending")


async def test_every_item_completes_for_every_sample_applicant(extranet) -> None:
    async def run(code: str, applicant: dict) -> None:
        first = await submit(extranet, intake(code, applicant, sample_materials(ITEMS[code])))
        if ITEMS[code].long_running:
            assert isinstance(first, Pending), (code, first)
        final = await settle(extranet, first)
        assert isinstance(final, Completed), (code, applicant["name"], final)
        assert final.document and (final.reference or not ITEMS[code].long_running)

    runs = [
        run(code, applicant)
        for code, item in ITEMS.items()
        for applicant in SAMPLE_APPLICANTS
        if applicant["kind"] in item.applicant_kinds
    ]
    assert len(runs) >= 15
    await asyncio.gather(*runs)


async def test_a_registration_is_pending_until_the_decision_then_completed(extranet) -> None:
    code = "property.mortgage-registration"
    first = await submit(extranet, intake(code, PERSON, sample_materials(ITEMS[code])))
    assert isinstance(first, Pending)
    assert re.fullmatch(r"ZD\d{8}DYSC\d{5}", first.ticket)
    assert 0.1 <= first.poll_after <= DELAY  # from the centre's estimatedWaitSeconds
    early = await poll(extranet, first.ticket)
    assert isinstance(early, Pending) and early.ticket == first.ticket and "审核中" in early.message
    await asyncio.sleep(early.poll_after)
    decided = await poll(extranet, first.ticket)
    assert isinstance(decided, Completed)
    assert PROOF.match(decided.reference) and decided.document["certificate_no"] == decided.reference
    assert decided.document["case_no"] == first.ticket
    assert decided.document["certificate_kind"] == "不动产登记证明"
    assert decided.document["details"]["mortgagee"] == "中国建设银行股份有限公司淄博分行"


async def test_a_title_reissue_completes_with_a_new_title_certificate_number(extranet) -> None:
    code = "property.title-reissue"
    outcome = await settle(extranet, await submit(extranet, intake(code, OTHER_PERSON, sample_materials(ITEMS[code]))))
    assert isinstance(outcome, Completed) and TITLE.match(outcome.reference)
    assert outcome.document["details"]["original_certificate_no"] == "鲁(2019)张店区不动产权第0012345号"


async def test_a_mortgage_on_a_sealed_home_is_rejected_after_review(registry, extranet) -> None:
    rejection = registry.spec.rejection
    materials = {**sample_materials(ITEMS[rejection["item"]]), **rejection.get("materials", {})}
    first = await submit(extranet, intake(rejection["item"], rejection["applicant"], materials))
    assert isinstance(first, Pending)
    outcome = await settle(extranet, first)
    assert isinstance(outcome, Rejected) and outcome.reference == first.ticket
    (reason,) = outcome.reasons
    assert reason.code == "property.R3102"
    assert "淄博市张店区人民法院查封（(2025)鲁0303执1234号）" in reason.message_zh


async def test_an_inquiry_completes_at_once_and_shows_the_seizure(extranet) -> None:
    code = "property.registration-query"
    outcome = await submit(extranet, intake(code, LIU_FANG, sample_materials(ITEMS[code])))
    assert isinstance(outcome, Completed) and outcome.reference.startswith("CX")
    records = outcome.document["records"]
    assert records and all(r["seizure_status"] == "已查封" for r in records)
    assert records[0]["seizing_authority"] == "淄博市张店区人民法院"


async def test_asking_about_someone_elses_unit_is_a_business_refusal(extranet) -> None:
    code = "property.registration-query"
    materials = {**sample_materials(ITEMS[code]), "query_scope": "指定不动产单元"}
    outcome = await submit(extranet, intake(code, PERSON, materials))
    assert isinstance(outcome, Rejected)
    assert [r.code for r in outcome.reasons] == ["property.B2003"]


async def test_a_pledge_replaces_the_loss_statement(extranet) -> None:
    code = "property.title-reissue"
    materials = {k: v for k, v in sample_materials(ITEMS[code]).items() if k != "loss_statement"}
    refused = await submit(extranet, intake(code, PERSON, materials))
    assert isinstance(refused, Rejected) and refused.reasons[0].code == "property.B1004"
    pledge = Pledge(
        replaces=("loss_statement",),
        statement="本人承诺原不动产权证书确已遗失，如有不实愿承担法律责任。",
        signed_by="张伟",
        signed_at="2026-11-28T10:00:00+08:00",
    )
    outcome = await settle(extranet, await submit(extranet, intake(code, PERSON, materials, pledge=pledge)))
    assert isinstance(outcome, Completed) and "告知承诺书" in outcome.document["details"]["commitment"]


async def test_a_resubmission_returns_the_same_case_and_is_acted_on_once(registry, extranet) -> None:
    code = "property.advance-notice"
    request = intake(code, PERSON, sample_materials(ITEMS[code]))
    first = await submit(extranet, request)
    again = await submit(extranet, request)
    assert isinstance(again, Pending) and again.ticket == first.ticket
    decided = await settle(extranet, again)
    late = await submit(extranet, request)  # a retry after the decision gets the decision
    assert isinstance(decided, Completed) and late == decided
    await submit(
        extranet, intake("property.holdings-query", PERSON, sample_materials(ITEMS["property.holdings-query"]))
    )
    stats = registry.ledger.stats()
    assert stats["effective_submissions"] == 1 and stats["duplicate_submissions"] == 2


async def test_a_wrong_token_is_an_auth_error_not_a_retry(extranet) -> None:
    current = extranet.settings.agencies["property"]
    extranet.settings.agencies["property"] = dataclasses.replace(
        current, secrets={"api_token": "expired"}, max_attempts=3
    )
    with pytest.raises(AgencyAuthError, match="A0401"):
        await submit(
            extranet, intake("property.holdings-query", PERSON, sample_materials(ITEMS["property.holdings-query"]))
        )


async def test_maintenance_is_unavailable_with_the_centres_retry_hint(registry, extranet) -> None:
    registry.knobs.update({"maintenance": True})
    with pytest.raises(AgencyUnavailable, match="S0503") as raised:
        await poll(extranet, "ZD20261128DYSC00001")
    assert raised.value.retry_after == registry_sandbox.MAINTENANCE_RETRY_S


async def test_a_login_page_instead_of_json_is_a_protocol_error(registry, extranet) -> None:
    registry.knobs.update({"malformed_rate": 1.0})
    with pytest.raises(AgencyProtocolError, match="envelope"):
        await submit(
            extranet, intake("property.holdings-query", PERSON, sample_materials(ITEMS["property.holdings-query"]))
        )


async def test_polling_an_unknown_case_is_a_refused_call(extranet) -> None:
    with pytest.raises(AgencyRejectedCall, match="P0404"):
        await poll(extranet, "ZD20261128DYSC99999")


async def test_health_reads_the_system_status(extranet) -> None:
    health = await extranet.call(
        "property", "health", named(PropertyAgency).health, dedupe_key="h", deadline=deadline()
    )
    assert health.ok and health.detail == "3.2.0"


async def test_the_default_sandbox_takes_seconds_to_decide() -> None:
    running = await start_sandbox(registry_sandbox.spec())
    config = running.spec.config
    extranet = Extranet(
        with_agency(
            sample_settings(),
            "property",
            running.url,
            secrets=config["secrets"],
            options=config["options"],
        )
    )
    try:
        code = "property.change-registration"
        outcome = await submit(extranet, intake(code, PERSON, sample_materials(ITEMS[code])))
    finally:
        await extranet.close()
        await running.stop()
    assert isinstance(outcome, Pending)
    assert outcome.poll_after == pytest.approx(registry_sandbox.DEFAULT_DECISION_DELAY_S, abs=0.5)


async def test_a_poll_answering_a_case_of_another_business_is_a_protocol_error(extranet) -> None:
    code = "property.mortgage-registration"
    request = intake(code, PERSON, sample_materials(ITEMS[code]))
    pending = await submit(extranet, request)
    assert isinstance(pending, Pending)
    await asyncio.sleep(DELAY)
    other = intake("property.title-reissue", PERSON, sample_materials(ITEMS["property.title-reissue"]))
    with pytest.raises(AgencyProtocolError, match="DYSC"):
        await poll(extranet, pending.ticket, other)
    final = await poll(extranet, pending.ticket, request)
    assert isinstance(final, Completed) and PROOF.match(final.reference)
