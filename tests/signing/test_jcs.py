"""The JCS fast path is byte-identical to the independent ``rfc8785`` package."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import signing.jose.jcs
from signing.errors import CanonicalizationError
from signing.jose.jcs import ENCODERS, canonicalize, canonicalize_exact, format_number, sorted_json

# Characters that stress ordering: ASCII, BMP just below/above the surrogate
# block, private use (U+E000..), and astral planes (UTF-16 surrogate pairs).
awkward_chars = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x7F),
    st.characters(min_codepoint=0xD000, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFF, exclude_categories=("Cs",)),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, exclude_categories=("Cs",)),
    st.sampled_from('\x00\x01\x07\x08\t\n\x0b\x0c\r\x1f\x7f"\\/\u2028\u2029é中'),
)
keys = st.text(awkward_chars, max_size=6)
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            1e21,
            1e20,
            1e-7,
            1e-6,
            1e-5,
            1e-4,
            9.99e-5,
            -0.0,
            0.0,
            5e-324,
            1.7976931348623157e308,
            2.0**53,
            2.0**53 + 2,
            123.45,
            100.0,
            0.1 + 0.2,
        ]
    ),
)
ints = st.one_of(
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.sampled_from([2**53 - 1, -(2**53) + 1, 2**53, -(2**53), 10**30]),
)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, st.text(awkward_chars, max_size=12))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)),
    max_leaves=25,
)


def reference(value: Any) -> bytes | type[Exception]:
    """rfc8785's answer, or the fact that it refuses the value."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        return CanonicalizationError


def ours(value: Any) -> bytes | type[Exception]:
    try:
        return canonicalize(value)
    except CanonicalizationError:
        return CanonicalizationError


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
@example({"\ue000": 1, "\U00010000": 2, "a": 3})
@example({"\U0001f600": [1e21, 1e-7, -0.0, 2**53 - 1], "\uffff": "\x00\x1f\u2028"})
@example([1.0, 100.0, -5.0, 1e16, 9007199254740993.0, 0.0001, 0.00001234])
@example({"amount": 100.0, "rate": 0.5, "items": [0.0, 0.5, 2.25, {"n": -3.0}]})
def test_fast_path_is_byte_identical_to_rfc8785_package(value: Any) -> None:
    assert ours(value) == reference(value)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_every_fast_encoder_is_byte_identical_to_rfc8785_package(encoder: str, monkeypatch) -> None:
    """orjson (when installed) and CPython's C encoder both stand in for the same plan."""
    monkeypatch.setattr(signing.jose.jcs, "_encode", ENCODERS[encoder])

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(json_values)
    @example({"\ue000": 1, "\U00010000": 2, "a": 3})
    @example({"k": '\x00\x1f\x7f\u2028\u2029"\\/', "\u00e9\u4e2d": [0.1, 1e-4, 123456.789]})
    @example({"k": "\ud800"})
    def check(value: Any) -> None:
        assert ours(value) == reference(value)

    check()


def test_orjson_is_the_fast_encoder_when_installed() -> None:
    pytest.importorskip("orjson")
    assert next(iter(ENCODERS)) == "orjson" and signing.jose.jcs._encode is ENCODERS["orjson"]


@settings(max_examples=200, deadline=None)
@given(json_values)
@example([0.0, 0.5])
def test_fast_and_exact_paths_agree(value: Any) -> None:
    try:
        fast = canonicalize(value)
    except CanonicalizationError:
        with pytest.raises(CanonicalizationError):
            canonicalize_exact(value)
        return
    assert fast == canonicalize_exact(value)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_format_round_trips_and_matches_rfc8785(value: float) -> None:
    text = format_number(value)
    assert float(text) == value
    assert text.encode() == rfc8785.dumps(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (-0.0, "0"),
        (100.0, "100"),
        (123.45, "123.45"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2.0**60, "1152921504606847000"),
        (0.1 + 0.2, "0.30000000000000004"),
        (-1.5e-9, "-1.5e-9"),
    ],
)
def test_numbers_follow_ecmascript_number_to_string(value: float, expected: str) -> None:
    assert format_number(value) == expected
    assert canonicalize([value]) == f"[{expected}]".encode()


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    # U+10000 is D800 DC00 in UTF-16, so it sorts before U+E000 in JCS,
    # although its code point is larger: json.dumps(sort_keys=True) gets it wrong.
    value = {"\ue000": 1, "\U00010000": 2}
    assert canonicalize(value) == '{"\U00010000":2,"\ue000":1}'.encode()
    assert json.dumps(value, sort_keys=True, ensure_ascii=False).startswith('{"\ue000"')


def test_control_characters_use_short_escapes_or_lowercase_hex() -> None:
    text = "".join(chr(c) for c in range(0x20)) + '"\\\x7f/'
    expected = (
        '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r'
        "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
        '\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\"\\\\\x7f/"'
    )
    assert canonicalize(text) == expected.encode()
    assert canonicalize({"k": text}) == b'{"k":' + expected.encode() + b"}"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_rejected_with_a_clear_error(bad: float) -> None:
    with pytest.raises(CanonicalizationError, match="NaN or Infinity"):
        canonicalize({"amount": bad})
    with pytest.raises(CanonicalizationError, match="NaN or Infinity"):
        canonicalize([1.5, bad])


def test_unsafe_integers_are_rejected_like_rfc8785() -> None:
    with pytest.raises(CanonicalizationError, match="safe range"):
        canonicalize({"n": 2**53})
    assert canonicalize({"n": 2**53 - 1}) == b'{"n":9007199254740991}'


def test_lone_surrogates_and_non_string_keys_are_rejected() -> None:
    with pytest.raises(CanonicalizationError, match="surrogate"):
        canonicalize({"k": "\ud800"})
    with pytest.raises(CanonicalizationError, match="surrogate"):
        canonicalize({"\udfff": 1})
    with pytest.raises(CanonicalizationError, match="not a string"):
        canonicalize({1: "a"})
    with pytest.raises(CanonicalizationError, match="not a JSON value"):
        canonicalize({"when": object()})


def test_cycles_are_reported_not_crashing() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(CanonicalizationError, match="cycle"):
        canonicalize(loop)


def test_rfc8785_appendix_b_style_document() -> None:
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    assert (
        canonicalize(value)
        == (
            '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
            '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
        ).encode()
    )


mixed_floats = st.lists(
    st.one_of(
        st.integers(min_value=-(10**6), max_value=10**6).map(float),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(mixed_floats)
@example([0.0, 0.5])
@example([1.5, -2.0, 1e-7, 3.0])
def test_integral_floats_next_to_fractional_ones_match_rfc8785(values: list[float]) -> None:
    assert canonicalize(values) == rfc8785.dumps(values)
    as_object = {f"k{i}": v for i, v in enumerate(values)}
    assert canonicalize(as_object) == rfc8785.dumps(as_object)


def stdlib_sorted(value: Any) -> bytes | type[Exception]:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except Exception as exc:  # the kind of refusal is what is compared
        return type(exc)


def ours_sorted(value: Any) -> bytes | type[Exception]:
    try:
        return sorted_json(value)
    except Exception as exc:
        return type(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
@example({"\ue000": 1, "\U00010000": 2, "a": 3})
@example([1e21, 1e-7, 1.5e-05, 0.00008325396710105883, -0.0, 1e16, 2**53, 10**30, 2**70])
@example({"amount": 100.0, "text": "a\udc80", 1: "int key"})
def test_sorted_json_writes_what_json_dumps_writes(value: Any) -> None:
    """The gateway's stable form (payload digests) must not change with the encoder that writes it."""
    assert ours_sorted(value) == stdlib_sorted(value)


def test_sorted_json_refuses_what_json_dumps_refuses() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    for value in (cycle, {"at": object()}, {"text": "a\udc80"}, [float("nan")]):
        assert ours_sorted(value) == stdlib_sorted(value)
