"""mask_text looks for the digits a number needs before running the patterns, and remembers texts with nothing
to mask: neither may ever skip a number."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.personal_data import masking
from gateway.personal_data.masking import (
    CREDIT_CODE_PATTERN,
    PHONE_PATTERN,
    RESIDENT_ID_PATTERN,
    mask_id,
    mask_phone,
    mask_text,
)


def every_pattern(text: str) -> str:
    """The masking without the shortcut: each pattern run over the whole text."""
    text = RESIDENT_ID_PATTERN.sub(lambda m: mask_id(m.group(0)), text)
    text = CREDIT_CODE_PATTERN.sub(lambda m: mask_id(m.group(0)), text)
    return PHONE_PATTERN.sub(lambda m: mask_phone(m.group(0)), text)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("id=370303199001011239", "370303199001011239"),
        ("id11010519491231002X", "11010519491231002X"),  # seventeen digits in a row, right after a letter
        ("code 91370303MA3C4XY85N.", "91370303MA3C4XY85N"),
        ("code NA123456BCDEFGHJKL", "NA123456BCDEFGHJKL"),  # six digits in a row, no more
        ("13805330123", "13805330123"),
        ("tel 138 0533 0123", "0533 0123"),
        ("+86-138-0533-0123", "0533-0123"),
        ("hmac-sha256:ab370303199001011239", "370303199001011239"),
    ],
)
def test_numbers_in_plain_ascii_text_are_masked(text: str, secret: str) -> None:
    masked = mask_text(text)
    assert secret not in masked and masked == every_pattern(text)


# Digits, separators, letters a credit code uses, and characters that are not ASCII (a full-width digit).
_ALPHABET = "0123456789" * 4 + "1389" * 3 + " -+XxMANYabcdef:*张１"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=48))
def test_the_shortcut_masks_exactly_what_every_pattern_masks(text: str) -> None:
    assert mask_text(text) == every_pattern(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["370303199001011239", "91370303MA3C4XY85N", "13805330123", "138 0533 0123", "-", " ", "a7"]),
        max_size=6,
    ).map("".join)
)
def test_numbers_run_together_are_masked_as_every_pattern_masks_them(text: str) -> None:
    assert mask_text(text) == every_pattern(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=48))
def test_a_text_masked_again_is_masked_as_the_first_time(text: str) -> None:
    first = mask_text(text)
    assert mask_text(text) == first == every_pattern(text)  # the second time may come from the remembered texts


def test_only_texts_with_nothing_to_mask_are_remembered() -> None:
    masking._PLAIN_TEXTS.clear()
    plain, holding = "caller fangzhen-window, item tax.payment-record", "applicant 370303199001011239 at the window"
    for _ in range(2):
        assert mask_text(plain) == plain
        assert "370303199001011239" not in mask_text(holding)
    assert plain in masking._PLAIN_TEXTS
    assert holding not in masking._PLAIN_TEXTS and not any("370303199001011239" in t for t in masking._PLAIN_TEXTS)
    long_text = "x" * (masking._PLAIN_TEXT_CHARS + 1)
    mask_text(long_text)
    assert long_text not in masking._PLAIN_TEXTS


def test_the_remembered_texts_are_bounded() -> None:
    for number in range(masking._PLAIN_TEXTS_MAX + 500):
        mask_text(f"request-{number:08d}-window")
    assert 0 < len(masking._PLAIN_TEXTS) <= masking._PLAIN_TEXTS_MAX
