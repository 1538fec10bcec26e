"""GB 11643 resident ID numbers, GB 32100 credit codes, and masking."""

from datetime import date

import pytest

from gateway.personal_data.identifiers import (
    credit_code_check_char,
    credit_code_problem,
    phone_problem,
    resident_id_check_char,
    resident_id_problem,
)
from gateway.personal_data.masking import mask_name, mask_text


@pytest.mark.parametrize("number", ["370303199001011239", "11010519491231002X", "11010519491231002x"])
def test_valid_resident_id_numbers_pass(number: str) -> None:
    assert resident_id_problem(number) is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("370303199001011238", "check_digit"),
        ("37030319900101123", "length"),
        ("3703031990010112A9", "characters"),
        ("370303199002301234", "birth_date"),
        ("070303199001011239", "region"),
        ("370303189901011231", "birth_date"),
    ],
)
def test_invalid_resident_id_numbers_name_the_reason(number: str, reason: str) -> None:
    if reason == "birth_date" and number[6:10] == "1899":
        number = number[:17] + resident_id_check_char(number[:17])
    assert resident_id_problem(number) == reason


def test_resident_id_born_in_the_future_is_refused() -> None:
    body = "37030320990101123"
    assert resident_id_problem(body + resident_id_check_char(body), today=date(2026, 11, 28)) == "birth_date"


@pytest.mark.parametrize("code", ["91370303MA3C4XY85N", "91350100M000100Y43", "52370303MJE1234561"])
def test_valid_credit_codes_pass(code: str) -> None:
    assert credit_code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91370303MA3C4XY85M", "check_digit"),
        ("91370303MA3C4XY85", "length"),
        ("91370303MA3C4XYO5N", "characters"),  # O is not in the GB 32100 alphabet
        ("X1370303MA3C4XY85N", "authority"),
    ],
)
def test_invalid_credit_codes_name_the_reason(code: str, reason: str) -> None:
    assert credit_code_problem(code) == reason


def test_check_characters_complete_bodies() -> None:
    assert resident_id_check_char("11010519491231002") == "X"
    assert credit_code_check_char("91350100M000100Y4") == "3"


def test_phone_numbers() -> None:
    assert phone_problem("13805330123") is None
    assert phone_problem("12805330123") == "format"


def test_masking_hides_ids_credit_codes_and_phones_inside_text() -> None:
    text = "申请人370303199001011239（电话13805330123）为91370303MA3C4XY85N办理"
    masked = mask_text(text)
    assert "370303199001011239" not in masked and "3703**********1239" in masked
    assert "13805330123" not in masked and "138****0123" in masked
    assert "91370303MA3C4XY85N" not in masked


def test_mask_name_keeps_the_surname() -> None:
    assert mask_name("张伟") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("+8613805330123", "13805330123"),
        ("call 138-0533-0123 now", "0533"),
        ("tel 138 0533 0123.", "0533"),
        ("lower case code 91370303ma3c4xy85n", "ma3c4x"),
        ("right after a letter a370303199001011239", "19900101"),
    ],
)
def test_masking_catches_the_ways_people_write_numbers(text: str, secret: str) -> None:
    assert secret not in mask_text(text)


def test_masking_leaves_request_ids_alone() -> None:
    assert mask_text("request 01M8G4SDVRC5CZWFY161WBZNNC") == "request 01M8G4SDVRC5CZWFY161WBZNNC"
