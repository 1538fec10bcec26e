"""Where Python's readers and JSON Schema's (or the client's) disagree, the gateway refuses the input.

Each of these passed the gateway before, while the item's schema -- and any
client validating against it -- refused it, or the agency received
something other than what the window showed: a week date as a date, an
operator id with a newline, full-width digits in an ID number, a credit
code that grows a character when upper-cased, a control character an XML
interface cannot carry, a field nobody reads.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from gateway.catalogue.files import load_items
from gateway.intake.item_schema import example_envelopes
from gateway.personal_data.identifiers import credit_code_check_char, credit_code_problem, resident_id_problem
from tests.helpers import CLEARANCE, PAYMENT_RECORD
from tests.test_catalogue import GOOD_ITEM, write


def codes(body: dict) -> set[tuple[str, str]]:
    return {(p["path"], p["code"]) for p in body.get("errors", [])}


def payment(**materials) -> dict:
    return {**PAYMENT_RECORD, "materials": {**PAYMENT_RECORD["materials"], **materials}}


@pytest.mark.parametrize("day", ["2025-W01-1", "2025-02-30", "20250101", "2025-01-01\n", "２０２５-01-01"])
async def test_a_date_is_only_ever_yyyy_mm_dd(gw, day: str) -> None:
    answer = await gw.post(payment(period_start=day))
    assert answer.status == 422 and ("materials/period_start", "date") in codes(await answer.json())


async def test_an_operator_id_with_a_trailing_newline_is_refused(gw) -> None:
    answer = await gw.post({**PAYMENT_RECORD, "operator": "fz-window-01\n"})
    assert answer.status == 422 and ("operator", "pattern") in codes(await answer.json())
    assert (await gw.post({**PAYMENT_RECORD, "operator": "房镇窗口-01"})).status == 201  # letters of any script


@pytest.mark.parametrize("number", ["３７０３０３199001011239", "37²303199001011239", "37030319900101123\n"])
def test_a_resident_id_number_is_ascii_digits_and_never_a_crash(number: str) -> None:
    assert resident_id_problem(number) in ("characters", "length")


async def test_an_applicant_id_with_full_width_digits_is_refused_at_the_window(gw) -> None:
    applicant = {**PAYMENT_RECORD["applicant"], "id_number": "３７０３０３199001011239"}
    answer = await gw.post({**PAYMENT_RECORD, "applicant": applicant})
    assert ("applicant/id_number", "invalid_characters") in codes(await answer.json())


def test_a_credit_code_that_grows_when_upper_cased_is_refused() -> None:
    body = "91370303FF3C4XY85"
    valid = body + credit_code_check_char(body)
    assert credit_code_problem(valid) is None
    trick = valid[:8] + "\ufb00" + valid[10:] + "Q"  # "ﬀ".upper() == "FF": 18 characters that upper-case to 19
    assert len(trick) == 18 and trick.upper()[:18] == valid
    assert credit_code_problem(trick) == "characters"


@pytest.mark.parametrize("phone", ["13805330123\n", "1380533０123", " 13805330123"])
async def test_a_phone_number_is_eleven_ascii_digits_and_nothing_else(gw, phone: str) -> None:
    envelope = copy.deepcopy(CLEARANCE)
    envelope["materials"]["contact_phone"] = phone
    answer = await gw.post(envelope)
    assert ("materials/contact_phone", "invalid_format") in codes(await answer.json())


async def test_a_control_character_is_refused_in_text_and_in_the_applicants_name(gw) -> None:
    envelope = copy.deepcopy(PAYMENT_RECORD)
    envelope["applicant"] = {**envelope["applicant"], "name": "张\x01伟"}
    answer = await gw.post(envelope)
    assert ("applicant/name", "control_character") in codes(await answer.json())
    invoice = gw.gateway.registry.catalogue.get("tax.individual-invoice")
    example = example_envelopes(invoice, gw.gateway.settings.offices.values())[0]
    example["materials"]["goods_description"] = "玉米\x0b二十吨"
    answer = await gw.post(example)
    assert ("materials/goods_description", "control_character") in codes(await answer.json())


async def test_fields_nobody_reads_are_refused_in_the_applicant_the_pledge_and_an_attachment(gw) -> None:
    envelope = copy.deepcopy(CLEARANCE)
    envelope["applicant"]["nickname"] = "小张"
    envelope["materials"]["invoice_cancellation_proof"]["size"] = 1
    answer = await gw.post(envelope)
    found = codes(await answer.json())
    assert ("applicant/nickname", "unknown_field") in found
    assert ("materials/invoice_cancellation_proof/size", "unknown_field") in found
    enrolment = gw.gateway.registry.catalogue.get("medical.resident-enrolment")
    example = example_envelopes(enrolment, gw.gateway.settings.offices.values())[0]
    del example["materials"]["household_register"]
    example["pledge"] = {
        "replaces": ["household_register"],
        "statement": "本人承诺户籍信息真实",
        "signed_by": "张伟",
        "signed_at": "2026-01-05T09:30:00+08:00",
        "witness": "王五",
    }
    answer = await gw.post(example)
    assert codes(await answer.json()) == {("pledge/witness", "unknown_field")}
    example["pledge"].pop("witness")
    assert (await gw.post(example)).status == 201


@pytest.mark.parametrize("stamp", ["20260105T093000+0800", "2026-01-05 09:30:00+08:00", "2026-01-05T09:30+08:00"])
async def test_a_pledge_is_signed_at_an_rfc_3339_time(gw, stamp: str) -> None:
    item = gw.gateway.registry.catalogue.get("medical.resident-enrolment")
    example = example_envelopes(item, gw.gateway.settings.offices.values())[0]
    del example["materials"]["household_register"]
    example["pledge"] = {
        "replaces": ["household_register"],
        "statement": "承诺",
        "signed_by": "张伟",
        "signed_at": stamp,
    }
    answer = await gw.post(example)
    assert ("pledge/signed_at", "date") in codes(await answer.json())


async def test_a_callback_url_that_normalising_lengthens_past_its_limit_is_a_422_not_a_500(gw) -> None:
    url = "https://" + "0" * 63 + ("." + "a" * 63) * 30
    url += "." + "a" * (2000 - len(url) - 1)  # exactly 2000 characters; normalised it gains a "/"
    assert len(url) == 2000
    answer = await gw.post({**PAYMENT_RECORD, "callback_url": url}, **{"Idempotency-Key": "long-callback"})
    assert answer.status == 422 and codes(await answer.json()) == {("callback_url", "too_long")}


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("^[0-9]{4}-\\\\d{2}$", "write [0-9]"),
        ("(?i)^abc$", "groups mean the same"),
        ("^a{,3}$", "write {0,n}"),
        ("^abc\\\\Z", "exists in Python only"),
        ("^[\\\\w]+$", "write [A-Za-z0-9_]"),
    ],
)
def test_a_catalogue_pattern_must_mean_the_same_to_python_and_to_json_schema(tmp_path: Path, pattern, says) -> None:
    text = GOOD_ITEM.replace('type = "integer"', 'type = "text"').replace(
        "constraints = { minimum = 2000 }", f'constraints = {{ pattern = "{pattern}" }}'
    )
    with pytest.raises(Exception, match="pattern") as caught:
        load_items(write(tmp_path, text), plugin="demo", agency="demo")
    assert says in str(caught.value)


def test_an_enums_choices_are_strings(tmp_path: Path) -> None:
    text = GOOD_ITEM.replace('type = "integer"', 'type = "enum"').replace(
        "constraints = { minimum = 2000 }", "constraints = { choices = [1, 2] }"
    )
    with pytest.raises(Exception, match="non-empty strings"):
        load_items(write(tmp_path, text), plugin="demo", agency="demo")
