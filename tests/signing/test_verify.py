"""Every verdict of verify_document, each produced from a real tampered or mis-sealed document.

Every test runs for both key types (ES384, the default, and ES256).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from signing.jose.jcs import canonicalize
from signing.jose.jws import b64url, b64url_decode, signing_input
from signing.keys.algorithms import KEY_TYPES
from signing.keys.passphrase import load_passphrase
from signing.keys.signers import decrypt_private_key
from signing.model import Seal
from signing.registry.seal_registry import SealRegistry
from signing.sealing import seal_document, sign_document
from signing.verify.report import Indication, SubIndication
from signing.verify.trust import TrustBundle
from signing.verify.verifier import verify_document
from tests.signing.conftest import pinned_bundle

ITEM = "tax.payment-record"


@pytest.fixture(params=["es384", "es256"])
def key_type(request: pytest.FixtureRequest) -> str:
    """Both key types for every test of this module that uses a district."""
    return str(request.param)


def sealed(registry: SealRegistry, office: str, doc: dict[str, Any], **kw: Any) -> dict[str, Any]:
    seal = registry.seal_for(office, "service_centre", ITEM)
    assert seal is not None
    return seal_document(doc, registry.signer_for(seal), seal, item=ITEM, request_id="R-1", **kw)


def verdict(report: Any) -> tuple[str, str | None]:
    sub = report.sub_indication.value if report.sub_indication else None
    return report.indication.value, sub


def test_untouched_document_passes_with_every_check_recorded(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    doc = sealed(seal_registry, office[0], result_doc)
    report = verify_document(json.loads(json.dumps(doc)), trust)
    assert verdict(report) == ("TOTAL_PASSED", None)
    assert report.passed
    assert report.seal_number == doc["seal"]["number"]
    assert (report.holder_office, report.holder_name) == office
    assert report.kind is not None and report.kind.value == "service_centre"
    assert report.item == ITEM and report.request_id == "R-1"
    names = [c.name for c in report.checks]
    assert names[:4] == ["format", "trust_anchor", "revocation_freshness", "certificate_chain"]
    assert {"validity_period", "revocation_status", "scope", "payload_digest", "signature"} <= set(names)
    assert all(c.passed for c in report.checks)


def test_changed_content_is_hash_failure(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    doc = sealed(seal_registry, office[0], result_doc)
    doc["records"][3]["amount"] = 1.0
    report = verify_document(doc, trust)
    assert verdict(report) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert [c.name for c in report.checks if c.passed is False] == ["payload_digest", "signature"]


def test_added_field_is_hash_failure(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    doc = sealed(seal_registry, office[0], result_doc)
    doc["approved"] = True
    assert verdict(verify_document(doc, trust)) == ("TOTAL_FAILED", "HASH_FAILURE")


def test_corrupted_signature_is_sig_crypto_failure(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    doc = sealed(seal_registry, office[0], result_doc)
    header, _, signature = doc["seal"]["jws"].split(".")
    raw = bytearray(b64url_decode(signature))
    raw[10] ^= 0x01
    doc["seal"]["jws"] = f"{header}..{b64url(bytes(raw))}"
    report = verify_document(doc, trust)
    assert verdict(report) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")
    assert next(c for c in report.checks if c.name == "payload_digest").passed


def test_edited_header_is_sig_crypto_failure(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    doc = sealed(seal_registry, office[0], result_doc)
    header_b64, _, signature = doc["seal"]["jws"].split(".")
    header = json.loads(b64url_decode(header_b64))
    header["ow_request_id"] = "R-forged"
    doc["seal"]["jws"] = f"{b64url(json.dumps(header).encode())}..{signature}"
    assert verdict(verify_document(doc, trust)) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")


def _with_header(doc: dict[str, Any], **changes: Any) -> str:
    """The document's JWS with header members changed (signature left as it was)."""
    header_b64, _, signature = doc["seal"]["jws"].split(".")
    header = {**json.loads(b64url_decode(header_b64)), **changes}
    return f"{b64url(json.dumps(header).encode())}..{signature}"


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("seal"),
        lambda d: d["seal"].update(jws="not a jws"),
        lambda d: d["seal"].update(jws=d["seal"]["jws"].replace("..", ".eyJ9.")),
        lambda d: d["seal"].update(number="370303-BM-9999"),
        lambda d: d["seal"].update(format="other/1"),
        lambda d: d.update(total=float("nan")),
        lambda d: d["seal"].update(jws=_with_header(d, alg="none")),
        lambda d: d["seal"].update(jws=_with_header(d, alg="HS256")),
        lambda d: d["seal"].update(jws=d["seal"]["jws"][:-6]),  # signature too short
        lambda d: d["seal"].update(jws=d["seal"]["jws"] + "AAAAAAAA"),  # too long
        lambda d: d["seal"].update(jws=b64url(b'{"a":' + b"[" * 10**5 + b"]" * 10**5 + b"}") + ".."),
    ],
    ids=[
        "no-seal",
        "garbage-jws",
        "attached-payload",
        "number-mismatch",
        "format",
        "nan",
        "alg-none",
        "alg-hs256",
        "short-signature",
        "long-signature",
        "deeply-nested-header",
    ],
)
def test_malformed_seal_is_format_failure(
    seal_registry: SealRegistry,
    trust: TrustBundle,
    office: tuple[str, str],
    result_doc: dict,
    damage: Any,
) -> None:
    doc = sealed(seal_registry, office[0], result_doc)
    damage(doc)
    report = verify_document(doc, trust)
    assert verdict(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert report.checks[0].name == "format" and report.checks[0].passed is False


def test_seal_from_another_district_is_no_certificate_chain_found(
    tmp_path: Path,
    seal_registry: SealRegistry,
    trust: TrustBundle,
    office: tuple[str, str],
    result_doc: dict,
) -> None:
    impostor = SealRegistry.create(tmp_path / "impostor")
    seal = impostor.issue(office=office[0], holder_name=office[1], kind="service_centre")
    doc = seal_document(result_doc, impostor.signer_for(seal), seal, item=ITEM, request_id="R-1")
    report = verify_document(doc, trust)
    assert verdict(report) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    assert report.holder_name is None


def test_sealed_after_revocation_is_revoked(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict
) -> None:
    stale = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert stale is not None
    signer = seal_registry.signer_for(stale)
    revoked_at = datetime.now(UTC) - timedelta(hours=2)
    seal_registry.revoke(stale.number, "key card lost", at=revoked_at, reason_code="key_compromise")
    trust = pinned_bundle(seal_registry)
    # A gateway still holding the stale seal record seals after the revocation.
    doc = seal_document(result_doc, signer, stale, item=ITEM, request_id="R-1")
    report = verify_document(doc, trust)
    assert verdict(report) == ("TOTAL_FAILED", "REVOKED")
    assert report.revocation_note and "key card lost" in report.revocation_note


def test_sealed_before_revocation_still_passes_with_a_note(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict
) -> None:
    doc = sealed(seal_registry, office[0], result_doc)
    seal_registry.revoke(doc["seal"]["number"], "office merged", reason_code="cessation_of_operation")
    trust = pinned_bundle(seal_registry)
    report = verify_document(doc, trust)
    assert verdict(report) == ("TOTAL_PASSED", None)
    assert report.revocation_note and "office merged" in report.revocation_note
    assert "stays valid" in report.revocation_note


def test_sealed_after_certificate_expiry_is_expired(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict
) -> None:
    start = datetime.now(UTC) - timedelta(days=10)
    seal = seal_registry.issue(
        office=office[0],
        holder_name=office[1],
        kind="delegated_approval",
        valid_days=2,
        not_before=start,
    )
    trust = pinned_bundle(seal_registry)
    signer = seal_registry.signer_for(seal)
    with pytest.raises(Exception, match="cannot seal"):
        seal_document(result_doc, signer, seal, item=ITEM, request_id="R-1")
    doc = sign_document(result_doc, signer, seal, item=ITEM, request_id="R-1")
    assert verdict(verify_document(doc, trust)) == ("TOTAL_FAILED", "EXPIRED")
    early = sign_document(result_doc, signer, seal, item=ITEM, request_id="R-2", signed_at=start + timedelta(days=1))
    assert verdict(verify_document(early, trust)) == ("TOTAL_PASSED", None)


def test_signing_time_before_certificate_is_not_yet_valid(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    doc = sign_document(
        result_doc,
        seal_registry.signer_for(seal),
        seal,
        item=ITEM,
        request_id="R-1",
        signed_at=seal.not_before - timedelta(days=1),
    )
    assert verdict(verify_document(doc, trust)) == ("TOTAL_FAILED", "NOT_YET_VALID")


def test_item_outside_the_seal_scope_is_sig_constraints_failure(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict
) -> None:
    narrow = seal_registry.issue(
        office=office[0], holder_name=office[1], kind="delegated_approval", scope=["property.*"]
    )
    trust = pinned_bundle(seal_registry)
    signer = seal_registry.signer_for(narrow)
    with pytest.raises(Exception, match="does not cover"):
        seal_document(result_doc, signer, narrow, item=ITEM, request_id="R-1")
    doc = sign_document(result_doc, signer, narrow, item=ITEM, request_id="R-1")
    report = verify_document(doc, trust)
    assert verdict(report) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")
    assert "may not seal" in next(c.detail for c in report.checks if c.name == "scope")


def test_document_item_differing_from_sealed_item_is_sig_constraints_failure(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", "tax.other")
    assert seal is not None
    doc = seal_document(result_doc, seal_registry.signer_for(seal), seal, item="tax.other", request_id="R-1")
    assert verdict(verify_document(doc, trust)) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")


def test_sealed_while_suspended_is_sig_constraints_failure_and_reinstating_does_not_cure_it(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict
) -> None:
    stale = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert stale is not None
    signer = seal_registry.signer_for(stale)
    seal_registry.suspend(stale.number, "audit in progress")
    doc = seal_document(result_doc, signer, stale, item=ITEM, request_id="R-1")
    seal_registry.reinstate(stale.number, "audit closed")
    trust = pinned_bundle(seal_registry)
    assert verdict(verify_document(doc, trust)) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")


def test_signing_time_in_the_future_is_sig_constraints_failure(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    doc = sign_document(
        result_doc,
        seal_registry.signer_for(seal),
        seal,
        item=ITEM,
        request_id="R-1",
        signed_at=datetime.now(UTC) + timedelta(days=1),
    )
    assert verdict(verify_document(doc, trust)) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")


def test_audit_checker_hook_sees_the_proof_and_decides(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    proof = {"leaf_index": 3, "tree_size": 8, "hashes": []}
    doc = sealed(seal_registry, office[0], result_doc, audit_proof=proof)
    seen: list[Any] = []

    def accept(p: dict, d: dict) -> bool:
        seen.append((p, d["seal"]["number"]))
        return True

    report = verify_document(doc, trust, audit_checker=accept)
    assert report.passed and seen == [(proof, doc["seal"]["number"])]
    assert next(c for c in report.checks if c.name == "audit_proof").passed is True
    unchecked = verify_document(doc, trust)
    assert unchecked.passed
    assert next(c for c in unchecked.checks if c.name == "audit_proof").passed is None
    refused = verify_document(doc, trust, audit_checker=lambda p, d: False)
    assert verdict(refused) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")


def test_report_serialises_to_json_and_renders_in_chinese_and_english(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    doc = sealed(seal_registry, office[0], result_doc)
    good = verify_document(doc, trust)
    data = json.loads(json.dumps(good.to_dict()))
    assert data["indication"] == "TOTAL_PASSED" and data["sub_indication"] is None
    assert data["holder"] == {"office": office[0], "name": office[1]}
    assert all(set(c) == {"name", "label", "passed", "detail"} for c in data["checks"])
    assert {c["name"]: c["label"]["zh"] for c in data["checks"]}["payload_digest"] == "内容摘要"
    assert data["words"]["kind"] == {"zh": "便民服务专用章", "en": "service-centre seal"}
    assert data["trust"]["root_sha256"] == trust.root_fingerprint == data["root_sha256"]
    assert data["trust"]["anchor"]["source"] == "root_fingerprint"
    text = good.render()
    assert f"Root SHA-256: {trust.root_fingerprint}" in text
    assert "通过" in text and "PASSED" in text and office[1] in text and "便民服务专用章" in text
    bad = copy.deepcopy(doc)
    bad["total"] = 0
    rendered = verify_document(bad, trust).render()
    assert "HASH_FAILURE" in rendered and "内容被改动" in rendered and "content was changed" in rendered


def test_every_sub_indication_maps_to_its_etsi_indication() -> None:
    from signing.verify.report import INDICATION_OF

    assert set(INDICATION_OF) == set(SubIndication)
    indeterminate = {s for s, i in INDICATION_OF.items() if i is Indication.INDETERMINATE}
    assert indeterminate == {
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
        SubIndication.REVOKED_NO_POE,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
        SubIndication.TRY_LATER,
    }


def test_chain_validation_is_cached_per_certificate(
    seal_registry: SealRegistry, trust: TrustBundle, office: tuple[str, str], result_doc: dict
) -> None:
    first = sealed(seal_registry, office[0], result_doc)
    second = sealed(seal_registry, office[0], {**result_doc, "total": 1})
    verify_document(first, trust)
    verify_document(second, trust)
    assert len(trust.chain_cache) == 1


def _seal_private_key(registry: SealRegistry, seal: Seal) -> ec.EllipticCurvePrivateKey:
    return decrypt_private_key((registry.directory / seal.key["path"]).read_bytes(), load_passphrase())


def test_header_alg_other_than_the_keys_is_format_failure_even_with_a_valid_signature(
    seal_registry: SealRegistry,
    trust: TrustBundle,
    office: tuple[str, str],
    result_doc: dict,
    key_type: str,
) -> None:
    """The key decides the algorithm: a P-384 key never verifies as ES256, nor P-256 as ES384.

    The forged seal is signed by the seal's real key, with the hash the
    header names, so the signature itself is valid for that hash; only the
    key-decides rule refuses it.
    """
    doc = sealed(seal_registry, office[0], result_doc)
    seal = seal_registry.get(doc["seal"]["number"])
    other = next(kt for name, kt in KEY_TYPES.items() if name != key_type)
    header_b64 = doc["seal"]["jws"].split(".")[0]
    header = {**json.loads(b64url_decode(header_b64)), "alg": other.alg}
    forged_b64 = b64url(json.dumps(header).encode())
    data = signing_input(forged_b64, canonicalize(result_doc))
    key = _seal_private_key(seal_registry, seal)
    wrong_hash = ec.ECDSA(other.ecdsa.algorithm)
    der = key.sign(data, wrong_hash)
    key.public_key().verify(der, data, wrong_hash)  # valid ECDSA for the header's hash
    own = KEY_TYPES[key_type]
    raw = own._raw(der)  # R || S at the key's own width
    doc["seal"]["jws"] = f"{forged_b64}..{b64url(raw)}"
    report = verify_document(doc, trust)
    assert verdict(report) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert f"does not match the seal certificate's {own.nist_name} key" in report.checks[0].detail
    assert own.alg in report.checks[0].detail


def test_a_forged_signature_under_the_right_alg_is_still_sig_crypto_failure(
    seal_registry: SealRegistry,
    trust: TrustBundle,
    office: tuple[str, str],
    result_doc: dict,
    key_type: str,
) -> None:
    """Contrast to the test above: the same forgery with the key's own alg and hash fails crypto."""
    doc = sealed(seal_registry, office[0], result_doc)
    header_b64 = doc["seal"]["jws"].split(".")[0]
    header = {**json.loads(b64url_decode(header_b64)), "ow_request_id": "R-forged"}
    forged_b64 = b64url(json.dumps(header).encode())
    own = KEY_TYPES[key_type]
    r_and_s = encode_dss_signature(12345, 67890)  # well-formed, wrong
    doc["seal"]["jws"] = f"{forged_b64}..{b64url(own._raw(r_and_s))}"
    assert verdict(verify_document(doc, trust)) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")
