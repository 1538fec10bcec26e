"""The housing fund plugin against its sandbox: GBK forms, MD5 signatures, legacy status codes."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from gateway.agencies.extranet import Extranet
from gateway.agencies.installed import load_registry
from gateway.agencies.plugin_manager import plugin_manager
from gateway.catalogue.files import load_items
from gateway.contract import (
    AgencyAuthError,
    AgencyProtocolError,
    AgencyRejectedCall,
    AgencyUnavailable,
    Completed,
    Pledge,
    Rejected,
)
from gateway.errors import PluginError
from gateway.sandbox import start_sandbox
from gateway.testing.samples import sample_materials
from plugins.housing_fund import plugin as fund_plugin
from plugins.housing_fund import sandbox as fund_sandbox
from plugins.housing_fund import wire
from plugins.housing_fund.client import CATALOGUE, HousingFundAgency
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

ITEMS = {item.code: item for item in load_items(CATALOGUE, plugin="housing_fund", agency="housing_fund")}
SAMPLE_APPLICANTS = (PERSON, OTHER_PERSON, ORGANISATION)


@pytest.fixture
async def fund():
    running = await start_sandbox(fund_sandbox.spec())
    yield running
    await running.stop()


@pytest.fixture
async def extranet(fund):
    extranet = Extranet(
        with_agency(
            sample_settings(),
            "housing_fund",
            fund.url,
            max_attempts=1,
            secrets=fund.spec.config["secrets"],
            options=fund.spec.config["options"],
        )
    )
    yield extranet
    await extranet.close()


async def submit(extranet: Extranet, request):
    agency = named(HousingFundAgency)
    return await extranet.call(
        "housing_fund",
        "submit",
        lambda call: agency.submit(request, call),
        dedupe_key=request.request_id,
        deadline=deadline(),
    )


def use_secrets(extranet: Extranet, **secrets: str) -> None:
    current = extranet.settings.agencies["housing_fund"]
    extranet.settings.agencies["housing_fund"] = dataclasses.replace(current, secrets=secrets)


async def test_every_item_completes_for_every_sample_applicant(extranet) -> None:
    finished = 0
    for code, item in ITEMS.items():
        for applicant in SAMPLE_APPLICANTS:
            if applicant["kind"] not in item.applicant_kinds:
                continue
            outcome = await submit(extranet, intake(code, applicant, sample_materials(ITEMS[code])))
            assert isinstance(outcome, Completed), (code, applicant["name"], outcome)
            assert outcome.document, code
            if item.kind == "application":
                assert outcome.reference, code
            finished += 1
    assert finished >= 10


async def test_chinese_answers_are_decoded_from_gbk(extranet) -> None:
    outcome = await submit(
        extranet,
        intake("housing_fund.account-query", PERSON, sample_materials(ITEMS["housing_fund.account-query"])),
    )
    assert isinstance(outcome, Completed)
    document = outcome.document
    assert document["name"] == "张伟"  # sent GBK-encoded, checked by the centre's real-name check, answered GBK
    assert document["employer_name"] == "淄博东村精工机械有限公司"
    assert document["account_status"] == "正常"
    assert len(document["deposits"]) == 12 and document["deposits"][0]["deposit_kind"] == "汇缴"


async def test_the_sample_data_is_derived_from_the_id_number(extranet) -> None:
    code = "housing_fund.account-query"
    one = await submit(extranet, intake(code, PERSON, sample_materials(ITEMS[code])))
    two = await submit(extranet, intake(code, PERSON, sample_materials(ITEMS[code])))
    other = await submit(extranet, intake(code, OTHER_PERSON, sample_materials(ITEMS[code])))
    assert one.document == two.document
    assert other.document["account_no"] != one.document["account_no"]


async def test_a_deposit_certificate_carries_the_centres_certificate_number(extranet) -> None:
    outcome = await submit(
        extranet,
        intake(
            "housing_fund.deposit-certificate",
            OTHER_PERSON,
            sample_materials(ITEMS["housing_fund.deposit-certificate"]),
        ),
    )
    assert isinstance(outcome, Completed)
    assert outcome.reference == outcome.document["certificate_no"]
    assert outcome.reference.startswith("张公积证字〔") and outcome.reference.endswith("号")
    assert outcome.document["purpose"] == "商业银行贷款"


async def test_chinese_form_values_reach_the_centre_intact(extranet) -> None:
    open_loans = await submit(extranet, intake("housing_fund.loan-record-query", LIU_FANG, {"loan_status": "正常还款"}))
    settled = await submit(extranet, intake("housing_fund.loan-record-query", LIU_FANG, {"loan_status": "已结清"}))
    assert [loan["loan_status"] for loan in open_loans.document["loans"]] == ["正常还款"]
    assert open_loans.document["loans"][0]["property_location"] == "淄博市张店区房镇镇华光路366号3号楼2单元1102室"
    assert settled.document["loans"] == [] and settled.document["loan_count"] == "0"


async def test_the_rejection_sample_is_refused_with_the_centres_reason(fund, extranet) -> None:
    rejection = fund.spec.rejection
    materials = {**sample_materials(ITEMS[rejection["item"]]), **rejection.get("materials", {})}
    outcome = await submit(extranet, intake(rejection["item"], rejection["applicant"], materials))
    assert isinstance(outcome, Rejected)
    (reason,) = outcome.reasons
    assert reason.code == "housing_fund.1203"
    assert reason.message_zh == "申请人名下有未结清的住房公积金贷款，不符合租房提取条件"
    assert outcome.reference  # the centre's serial of the refused transaction


async def test_a_pledge_replaces_the_proof_of_owning_no_home(extranet) -> None:
    code = "housing_fund.rent-withdrawal"
    materials = {k: v for k, v in sample_materials(ITEMS[code]).items() if k != "no_house_proof"}
    refused = await submit(extranet, intake(code, PERSON, materials))
    assert isinstance(refused, Rejected)
    assert refused.reasons[0].message_zh == "缺少本人及配偶名下无房产证明，且未签署告知承诺书"
    pledge = Pledge(
        replaces=("no_house_proof",),
        statement="本人承诺本人及配偶在张店区无自有住房。",
        signed_by="张伟",
        signed_at="2026-11-28T10:00:00+08:00",
    )
    outcome = await submit(extranet, intake(code, PERSON, materials, pledge=pledge))
    assert isinstance(outcome, Completed) and outcome.reference.startswith("TQ")


async def test_a_name_that_does_not_match_the_id_is_a_business_refusal(extranet) -> None:
    impostor = {**PERSON, "name": "张三"}
    outcome = await submit(extranet, intake("housing_fund.account-query", impostor, {}))
    assert isinstance(outcome, Rejected)
    assert [(r.code, r.message_zh) for r in outcome.reasons] == [("housing_fund.1002", "姓名与证件号码不一致")]


async def test_a_missing_field_is_a_refused_call_not_a_rejection(extranet) -> None:
    with pytest.raises(AgencyRejectedCall, match="7002"):
        await submit(extranet, intake("housing_fund.employer-deposit-query", ORGANISATION, {}))


async def test_a_name_outside_gbk_is_refused_before_anything_is_sent(fund, extranet) -> None:
    rare = {**PERSON, "id_number": "370303198503120027", "name": "王\U00020bb7"}  # 𠮷 is not in GBK
    with pytest.raises(AgencyRejectedCall, match="GBK"):
        await submit(
            extranet,
            intake(
                "housing_fund.deposit-certificate",
                rare,
                sample_materials(ITEMS["housing_fund.deposit-certificate"]),
            ),
        )
    assert fund.ledger.stats()["effective_submissions"] == 0


def test_rare_characters_are_reported_at_intake_for_housing_fund_items_only() -> None:
    rare = {**OTHER_PERSON, "name": "王\U00020bb7"}
    code = "housing_fund.account-transfer"
    request = intake(code, rare, {**sample_materials(ITEMS[code]), "from_centre": "济南\U00020bb7中心"})
    problems = fund_plugin.onewindow_validate(item=ITEMS[code], request=request)
    assert [(p.path, p.code) for p in problems] == [
        ("applicant/name", "not_gbk"),
        ("materials/from_centre", "not_gbk"),
    ]
    other = dataclasses.replace(ITEMS[code], agency="tax")
    assert fund_plugin.onewindow_validate(item=other, request=request) == []


async def test_a_wrong_sign_key_is_an_auth_error_not_a_retry(fund, extranet) -> None:
    use_secrets(extranet, sign_key="not-the-key")
    extranet.settings.agencies["housing_fund"] = dataclasses.replace(
        extranet.settings.agencies["housing_fund"], max_attempts=3
    )
    with pytest.raises(AgencyAuthError, match="8001"):
        await submit(extranet, intake("housing_fund.account-query", PERSON, {}))


def test_missing_credentials_stop_the_gateways_start_naming_the_key() -> None:
    settings = with_agency(
        sample_settings(), "housing_fund", "http://127.0.0.1:9", options={"orgcode": fund_sandbox.ORGCODE}
    )
    with pytest.raises(PluginError, match=r"agency 'housing_fund' needs secrets\.'sign_key'"):
        load_registry(plugin_manager(), settings)


async def test_the_centres_maintenance_answer_is_agency_unavailable(fund, extranet) -> None:
    fund.knobs.update({"maintenance": True})
    with pytest.raises(AgencyUnavailable, match="9999"):
        await submit(extranet, intake("housing_fund.account-query", PERSON, {}))


async def test_an_error_page_instead_of_an_answer_is_a_protocol_error(fund, extranet) -> None:
    fund.knobs.update({"malformed_rate": 1.0})
    with pytest.raises(AgencyProtocolError, match="RETCODE"):
        await submit(extranet, intake("housing_fund.account-query", PERSON, {}))


async def test_a_repeated_submission_is_acted_on_once_and_queries_are_not_counted(fund, extranet) -> None:
    request = intake(
        "housing_fund.rent-withdrawal", OTHER_PERSON, sample_materials(ITEMS["housing_fund.rent-withdrawal"])
    )
    first = await submit(extranet, request)
    second = await submit(extranet, request)
    await submit(extranet, intake("housing_fund.account-query", OTHER_PERSON, {}))
    assert isinstance(first, Completed) and first == second
    stats = fund.ledger.stats()
    assert stats["effective_submissions"] == 1 and stats["duplicate_submissions"] == 1
    assert first.document["withdrawal_amount"] == "14400.00"  # 12 months at the 1,200 yuan cap
    assert first.document["bank_card"] == "6217***********4567"


async def test_health_runs_the_echo_transaction(extranet) -> None:
    health = await extranet.call(
        "housing_fund", "health", named(HousingFundAgency).health, dedupe_key="h", deadline=deadline()
    )
    assert health.ok and health.detail == "1.6.3"


def test_the_form_is_gbk_bytes_percent_encoded() -> None:
    assert wire.encode_form({"xingming": "张伟", "zmyt": "商业银行贷款"}) == (
        b"xingming=%D5%C5%CE%B0&zmyt=%C9%CC%D2%B5%D2%F8%D0%D0%B4%FB%BF%EE"
    )


def test_the_signature_is_md5_over_sorted_gbk_fields_and_the_key() -> None:
    form = {
        "txcode": "2001",
        "zjhm": "370303199001011239",
        "xingming": "张伟",
        "mxbz": "",
        "sign": "x",
    }
    plain = "txcode=2001&xingming=张伟&zjhm=370303199001011239&key=k".encode("gbk")
    assert wire.signature(form, "k") == hashlib.md5(plain).hexdigest().upper()
    assert wire.signature(form, fund_sandbox.SIGN_KEY) == fund_sandbox.expected_sign(form)
