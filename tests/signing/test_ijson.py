"""I-JSON (RFC 7493): what two parsers could read differently is refused, with a reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing.errors import IJsonError, SigningError
from signing.jose.ijson import loads

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_any_ordinary_document_reads_as_the_standard_parser_reads_it(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert loads(text) == json.loads(text)
    assert loads(text.encode("utf-8")) == json.loads(text)


def test_a_member_named_twice_is_refused_naming_it() -> None:
    with pytest.raises(IJsonError, match="duplicate member name 'amount'"):
        loads('{"item": "tax.payment-record", "amount": "99999.00", "amount": "855.03"}')


def test_a_duplicate_deep_inside_is_refused_too() -> None:
    with pytest.raises(IJsonError, match="duplicate member name 'b'"):
        loads('{"a": [{"b": 1, "b": 1}]}')


@pytest.mark.parametrize("text", ['"\\ud800"', '{"\\udfff": 1}', '["ok", "x\\ud83d"]'])
def test_a_lone_surrogate_is_refused(text: str) -> None:
    with pytest.raises(IJsonError, match="lone surrogate"):
        loads(text)


def test_a_surrogate_pair_is_a_character_and_is_kept() -> None:
    assert loads('"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize("opening", ["[", '{"a":'])
@pytest.mark.parametrize("depth", [65, 10_000])
def test_nesting_past_the_limit_is_refused_however_deep(opening: str, depth: int) -> None:
    closing = "]" if opening == "[" else "}"
    with pytest.raises(IJsonError, match="nested more than 64 levels deep"):
        loads(opening * depth + "1" + closing * depth)


def test_nesting_up_to_the_limit_reads() -> None:
    assert loads("[" * 64 + "]" * 64) is not None


def test_the_member_count_limit_holds_across_objects() -> None:
    with pytest.raises(IJsonError, match="more than 3 object members"):
        loads('{"a": {"b": 1, "c": 2}, "d": 3}', max_members=3)
    assert loads('{"a": {"b": 1}, "d": 3}', max_members=3)


@pytest.mark.parametrize("text", ['{"x": NaN}', "[Infinity]", "-Infinity"])
def test_nan_and_infinity_are_not_numbers(text: str) -> None:
    with pytest.raises(IJsonError, match="is not a JSON number"):
        loads(text)


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(IJsonError, match="not UTF-8"):
        loads(b'{"a": "\xff"}')


def test_every_refusal_is_a_signing_error_and_a_value_error() -> None:
    with pytest.raises(SigningError):
        loads("{")
    with pytest.raises(ValueError):
        loads("{")


def test_an_echoed_name_is_cut_short() -> None:
    name = "张" * 500
    with pytest.raises(IJsonError) as caught:
        loads(f'{{"{name}": 1, "{name}": 2}}')
    assert len(str(caught.value)) < 80
