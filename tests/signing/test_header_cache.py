"""The verifier's header cache gives exactly what the plain parse and hash give.

``signing.jose.header_cache`` skips decoding, parsing and hashing the static part
of a seal header once it has seen it; these tests hold it to the plain path
(``parse_header`` and hashing the whole signing input) on generated headers,
adversarial tails, and real sealed documents, including documents sealed in
the older, unpadded layout.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing.errors import JwsFormatError
from signing.jose.header_cache import HeaderCache
from signing.jose.jcs import canonicalize
from signing.jose.jws import b64url, b64url_decode, parse_header, sign_detached, signing_input
from signing.registry.seal_registry import SealRegistry
from signing.sealing import DYNAMIC_MARKER, protected_header, seal_document
from signing.verify.trust import TrustBundle
from signing.verify.verifier import verify_document

CERT_LIKE = "MIIB" + "x" * 150  # long enough that the static part passes HeaderCache.HEAD
ITEM = "tax.payment-record"

json_text = st.text(
    st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.sampled_from('"\\\n\t\u2028é中\U0001f600\x00'),
    ),
    max_size=12,
)
names = st.one_of(st.sampled_from(["alg", "kid", "x5c", "sigT", "ow_item", "z"]), json_text)
static_names = names.filter(lambda name: name != "sigT")  # the static part ends where "sigT" begins
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), json_text)
values = st.one_of(scalars, st.lists(scalars, max_size=3))


def _static(members: dict[str, Any], pad: str, ensure_ascii: bool) -> bytes:
    """``{"alg":...,<members>`` without the closing brace, then ``pad``."""
    body = json.dumps({"alg": "ES384", **members, "x5c": [CERT_LIKE]}, ensure_ascii=ensure_ascii)
    return (body[:-1] + pad).encode()


def _dynamic(members: dict[str, Any], ensure_ascii: bool) -> bytes:
    body = json.dumps({"sigT": "2024-05-01T08:30:00Z", **members}, ensure_ascii=ensure_ascii)
    return b"," + body[1:].encode()


def _plain(header_b64: str) -> tuple[str, Any]:
    """The reference outcome: parsed members in order, or the error message."""
    try:
        return "ok", list(parse_header(header_b64).items())
    except JwsFormatError as exc:
        return "error", str(exc)


def _cached(cache: HeaderCache, header_b64: str) -> tuple[str, Any]:
    try:
        return "ok", list(cache.parse(header_b64).items())
    except JwsFormatError as exc:
        return "error", str(exc)


def _aligned(static: bytes) -> bytes:
    return static + b" " * (-len(static) % 3)


TAILS = [
    b"}",  # no per-document members at all
    b",}",  # dangling comma: invalid JSON
    b" , }",
    b', "sigT":1}',
    b',"sigT":1} ',
    b',"sigT":1}x',  # trailing garbage
    b',"sigT":1',  # never closed
    b',"sigT":1}}',
    b',"alg":"ES256","sigT":"t"}',  # a member of the static part again: refused, not overridden
    b',"\\u0061lg":"ES256"}',  # the same, spelled with an escape
    b',"sigT":1,"sigT":2}',  # a member of the tail twice
    b',"sigT":{"a":1,"a":2}}',  # twice in a nested object
    b'\t\n,"sigT":"\\ud800"}',  # lone surrogate escape: json.loads keeps it
    b',"sigT":"\xed\xa0\x80"}',  # CESU-style surrogate bytes: surrogatepass, as json.loads
    b',"sigT":"\xff"}',  # not UTF-8
    b'\x0c,"sigT":1}',  # form feed is not JSON whitespace
    b',"sigT":NaN}',
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    static_members=st.dictionaries(static_names, values, max_size=4),
    dynamic_members=st.dictionaries(names, values, max_size=4),
    pad=st.sampled_from(["", " ", "  ", "\t", " \n "]),
    ensure_ascii=st.booleans(),
    tail=st.one_of(st.none(), st.sampled_from(TAILS), st.binary(max_size=12)),
)
def test_cached_parse_equals_the_plain_parse(
    static_members: dict[str, Any],
    dynamic_members: dict[str, Any],
    pad: str,
    ensure_ascii: bool,
    tail: bytes | None,
) -> None:
    static = _static(static_members, pad, ensure_ascii)
    learnt = _aligned(static)
    reference = b64url(learnt + _dynamic({}, ensure_ascii))
    cache = HeaderCache(DYNAMIC_MARKER)
    assert _cached(cache, reference) == _plain(reference)  # a miss: learns the prefix
    assert len(cache) == 1
    header = b64url(learnt + (tail if tail is not None else _dynamic(dynamic_members, ensure_ascii)))
    assert _cached(cache, header) == _plain(header)
    unaligned = b64url(static + _dynamic(dynamic_members, ensure_ascii))
    assert _cached(cache, unaligned) == _plain(unaligned)
    if _plain(header)[0] == "ok":
        payload = canonicalize({"n": len(header)})
        for name in ("sha256", "sha384"):
            expected = hashlib.new(name, signing_input(header, payload)).digest()
            assert cache.signing_input_digest(header, payload, name) == expected


@pytest.mark.parametrize(
    ("tail", "member"),
    [
        (b',"alg":"ES256","sigT":"t"}', "alg"),  # would override the static alg if later duplicates won
        (b',"sigT":"t","x5c":["MIIBforged"]}', "x5c"),
        (b',"\\u006bid":"370303-BM-0099","sigT":"t"}', "kid"),  # an escape spells the same name
        (b',"sigT":"t","sigT":"u"}', "sigT"),  # twice within the tail
        (b',"sigT":"t","ow_item":{"a":1,"a":2}}', "a"),  # twice in a nested object
    ],
)
def test_a_header_repeating_a_member_is_refused_naming_it_whether_or_not_its_prefix_is_cached(
    tail: bytes, member: str
) -> None:
    learnt = _aligned(_static({"kid": "370303-BM-0001"}, "", True))
    cache = HeaderCache(DYNAMIC_MARKER)
    cache.parse(b64url(learnt + _dynamic({}, True)))
    assert len(cache) == 1  # the prefix is learnt: the next header takes the fast path
    header = b64url(learnt + tail)
    for parse in (cache.parse, parse_header):
        with pytest.raises(JwsFormatError, match=f"duplicate member name '{member}'"):
            parse(header)


def test_a_learnt_prefix_is_really_reused_and_the_cache_stays_bounded() -> None:
    cache = HeaderCache(DYNAMIC_MARKER, max_entries=2)
    statics = [_aligned(_static({"kid": f"370303-BM-000{n}"}, "", True)) for n in range(1, 4)]
    first = cache.parse(b64url(statics[0] + _dynamic({"n": 1}, True)))  # learns
    second = cache.parse(b64url(statics[0] + _dynamic({"n": 2}, True)))
    third = cache.parse(b64url(statics[0] + _dynamic({"n": 3}, True)))
    assert (first["n"], second["n"], third["n"]) == (1, 2, 3)
    assert second["x5c"] is third["x5c"] and second["x5c"] is not first["x5c"]  # parsed once
    assert len(cache) == 1
    for static in statics[1:]:
        cache.parse(b64url(static + _dynamic({}, True)))
    assert len(cache) <= 2
    disabled = HeaderCache(DYNAMIC_MARKER, max_entries=0)
    header = b64url(statics[0] + _dynamic({"n": 1}, True))
    assert disabled.parse(header) == first and len(disabled) == 0


@pytest.fixture(params=["es384", "es256"])
def key_type(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _report(doc: dict[str, Any], trust: TrustBundle) -> dict[str, Any]:
    report = verify_document(doc, trust, at=datetime.now(UTC).replace(microsecond=0)).to_dict()
    report.pop("validated_at", None)  # the clock's second, which two calls may straddle
    return report


def test_verify_document_with_and_without_the_cache_agree_on_every_verdict(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    signer = seal_registry.signer_for(seal)
    good = seal_document(result_doc, signer, seal, item=ITEM, request_id="R-1")
    header_b64, _, signature = good["seal"]["jws"].split(".")
    static, marker, dynamic = b64url_decode(header_b64).partition(DYNAMIC_MARKER)
    assert json.loads(static + b"}")["alg"] == seal.key_type.alg
    variants: list[dict[str, Any]] = [good, {**good, "total": 0}]
    for tail in (marker + dynamic.replace(b'"R-1"', b'"R-2"'), b",}", b"}"):
        forged = copy.deepcopy(good)
        forged["seal"]["jws"] = f"{b64url(static + tail)}..{signature}"
        variants.append(forged)
    uncached = TrustBundle.from_dict(trust.to_dict(), root_fingerprint=trust.root_fingerprint)
    uncached.header_cache = HeaderCache(DYNAMIC_MARKER, max_entries=0)
    for doc in variants:
        assert _report(doc, trust) == _report(doc, uncached)
    assert len(trust.header_cache) == 1 and len(uncached.header_cache) == 0
    verdicts = [_report(doc, trust)["sub_indication"] for doc in variants]
    assert verdicts == [None, "HASH_FAILURE", "SIG_CRYPTO_FAILURE", "FORMAT_FAILURE", "FORMAT_FAILURE"]


def test_a_document_sealed_in_the_older_unpadded_layout_still_verifies(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    """Seals made before the padding existed keep verifying (through the plain path)."""
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    payload = canonicalize(result_doc)
    signed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    header = protected_header(seal, item=ITEM, request_id="R-1", signed_at=signed_at, payload=payload)
    static, marker, dynamic = header.partition(b',"sigT":')
    static = static.rstrip(b" ")
    if len(static) % 3 == 0:  # make sure the old layout is one the cache cannot use
        static = static.replace(b'"alg":', b'"alg": ', 1)
    legacy = static + marker + dynamic
    jws = sign_detached(legacy, payload, seal_registry.signer_for(seal))
    doc = {**result_doc, "seal": {"format": "onewindow-seal/1", "number": seal.number, "jws": jws}}
    for _ in range(2):
        report = verify_document(doc, trust)
        assert report.passed, report.render()
    assert len(trust.header_cache) == 0
