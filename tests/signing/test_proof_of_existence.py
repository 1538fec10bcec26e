"""A stolen seal key cannot back-date its way past a key-compromise revocation (EN 319 102-1 POE).

The thief holds the seal's private key and signs a forgery whose claimed
signing time (``sigT``) lies before the back-dated revocation. Only
independent evidence that the document existed before the revocation -- the
audit-log inclusion proof under a checkpoint signed before it -- lets such a
signature pass; otherwise the verdict is INDETERMINATE / REVOKED_NO_POE.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.audit.checkpoint import public_key_pem
from signing.audit.document_proof import audit_checker, check_audit_proof
from signing.cli.main import main
from signing.model import Seal
from signing.registry.seal_registry import SealRegistry
from signing.sealing import sign_document
from signing.verify.report import Indication, SubIndication
from signing.verify.trust import TrustBundle
from signing.verify.verifier import verify_document
from tests.signing.audit_proofs import audit_proof_for, with_audit_proof
from tests.signing.conftest import ISSUED, pinned_bundle

ITEM = "tax.payment-record"
NOW = datetime.now(UTC).replace(microsecond=0)
REVOKED_AT = NOW - timedelta(days=10)  # back-dated to when the key card went missing
GENUINE_AT = ISSUED + timedelta(days=5)  # well before the revocation
BACKDATED_AT = REVOKED_AT - timedelta(days=2)  # what the thief writes into sigT


@pytest.fixture
def audit_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def seal(seal_registry: SealRegistry, office: tuple[str, str]) -> Seal:
    found = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert found is not None
    return found


def _seal_at(registry: SealRegistry, seal: Seal, doc: dict[str, Any], at: datetime, rid: str = "R-1") -> dict:
    return sign_document(doc, registry.signer_for(seal), seal, item=ITEM, request_id=rid, signed_at=at)


def _revoke(registry: SealRegistry, seal: Seal, code: str = "key_compromise", at: datetime = REVOKED_AT) -> TrustBundle:
    registry.revoke(seal.number, "印章密钥卡遗失 key card lost", at=at, reason_code=code)
    return pinned_bundle(registry)


def _forgery(registry: SealRegistry, seal: Seal, result_doc: dict[str, Any]) -> dict[str, Any]:
    """The thief's document: altered content, signed with the stolen key, dated before the revocation."""
    forged = {**result_doc, "total": 0.01, "remarks": "已全部缴清 all paid"}
    return _seal_at(registry, seal, forged, BACKDATED_AT)


def verdict(report: Any) -> tuple[str, str | None]:
    return report.indication.value, report.sub_indication.value if report.sub_indication else None


def test_a_backdated_forgery_after_a_key_compromise_is_revoked_no_poe(
    seal_registry: SealRegistry, seal: Seal, result_doc: dict
) -> None:
    trust = _revoke(seal_registry, seal)
    forged = _forgery(seal_registry, seal, result_doc)
    report = verify_document(forged, trust)
    assert verdict(report) == ("INDETERMINATE", "REVOKED_NO_POE")
    status = next(c for c in report.checks if c.name == "revocation_status")
    assert status.passed is False and "key_compromise" in status.detail
    assert "no audit-log proof" in status.detail
    assert report.revocation_note and "key card lost" in report.revocation_note
    text = report.render()
    assert "REVOKED_NO_POE" in text and "密钥泄露" in text and "existed before the revocation" in text


def test_a_genuine_document_with_an_audit_proof_from_before_the_revocation_passes_with_a_note(
    seal_registry: SealRegistry, seal: Seal, result_doc: dict, audit_key: Ed25519PrivateKey
) -> None:
    genuine = _seal_at(seal_registry, seal, result_doc, GENUINE_AT)
    logged_at = GENUINE_AT + timedelta(minutes=1)
    proven = with_audit_proof(genuine, audit_proof_for(genuine, audit_key, checkpoint_at=logged_at))
    trust = _revoke(seal_registry, seal)
    checker = audit_checker(audit_key.public_key())
    report = verify_document(proven, trust, audit_checker=checker)
    assert verdict(report) == ("TOTAL_PASSED", None), report.render()
    assert next(c for c in report.checks if c.name == "audit_proof").passed is True
    note = report.revocation_note or ""
    assert "key_compromise" in note and "existed by" in note and "stays valid" in note
    # Without the audit key the same document cannot be judged: the proof is there, but unchecked.
    unchecked = verify_document(proven, trust)
    assert verdict(unchecked) == ("INDETERMINATE", "REVOKED_NO_POE")
    assert "audit key" in next(c.detail for c in unchecked.checks if c.name == "revocation_status")
    # And without a proof at all, even the genuine document is only INDETERMINATE.
    assert verdict(verify_document(genuine, trust, audit_checker=checker)) == ("INDETERMINATE", "REVOKED_NO_POE")


def test_a_checkpoint_signed_after_the_revocation_is_no_proof_of_existence_before_it(
    seal_registry: SealRegistry, seal: Seal, result_doc: dict, audit_key: Ed25519PrivateKey
) -> None:
    trust = _revoke(seal_registry, seal)
    forged = _forgery(seal_registry, seal, result_doc)
    late_proof = audit_proof_for(forged, audit_key, checkpoint_at=REVOKED_AT + timedelta(seconds=1))
    logged_late = with_audit_proof(forged, late_proof)
    report = verify_document(logged_late, trust, audit_checker=audit_checker(audit_key.public_key()))
    assert verdict(report) == ("INDETERMINATE", "REVOKED_NO_POE")
    assert next(c for c in report.checks if c.name == "audit_proof").passed is True  # the proof holds ...
    detail = next(c.detail for c in report.checks if c.name == "revocation_status")
    assert "after the revocation" in detail  # ... but only shows the document after the revocation
    at_the_moment = with_audit_proof(forged, audit_proof_for(forged, audit_key, checkpoint_at=REVOKED_AT))
    exact = verify_document(at_the_moment, trust, audit_checker=audit_checker(audit_key.public_key()))
    assert verdict(exact) == ("TOTAL_PASSED", None)  # the rule is POE time <= revocation time


def test_a_proof_under_another_audit_key_or_a_bare_true_checker_gives_no_poe(
    seal_registry: SealRegistry, seal: Seal, result_doc: dict, audit_key: Ed25519PrivateKey
) -> None:
    genuine = _seal_at(seal_registry, seal, result_doc, GENUINE_AT)
    thief_key = Ed25519PrivateKey.generate()  # the thief signs a checkpoint of their own
    forged = _forgery(seal_registry, seal, result_doc)
    self_made = with_audit_proof(forged, audit_proof_for(forged, thief_key, checkpoint_at=BACKDATED_AT))
    trust = _revoke(seal_registry, seal)
    report = verify_document(self_made, trust, audit_checker=audit_checker(audit_key.public_key()))
    assert verdict(report) == ("INDETERMINATE", "REVOKED_NO_POE")
    assert next(c for c in report.checks if c.name == "audit_proof").passed is False
    # A checker from before POE existed answers a bare bool: the proof holds, but says nothing of when.
    proven = with_audit_proof(genuine, audit_proof_for(genuine, audit_key, checkpoint_at=GENUINE_AT))
    legacy = verify_document(proven, trust, audit_checker=lambda proof, document: True)
    assert verdict(legacy) == ("INDETERMINATE", "REVOKED_NO_POE")
    assert next(c for c in legacy.checks if c.name == "audit_proof").passed is True
    assert "no proof-of-existence time" in next(c.detail for c in legacy.checks if c.name == "revocation_status")


@pytest.mark.parametrize("code", ["key_compromise", "ca_compromise", "unspecified"])
def test_compromise_and_unspecified_reasons_need_proof_of_existence(
    seal_registry: SealRegistry, seal: Seal, result_doc: dict, code: str
) -> None:
    trust = _revoke(seal_registry, seal, code)
    report = verify_document(_forgery(seal_registry, seal, result_doc), trust)
    assert verdict(report) == ("INDETERMINATE", "REVOKED_NO_POE")


@pytest.mark.parametrize("code", ["superseded", "cessation_of_operation", "affiliation_changed"])
def test_a_revocation_that_implies_no_compromise_keeps_earlier_signatures_passing(
    seal_registry: SealRegistry, seal: Seal, result_doc: dict, code: str
) -> None:
    earlier = _seal_at(seal_registry, seal, result_doc, BACKDATED_AT)
    trust = _revoke(seal_registry, seal, code)
    report = verify_document(earlier, trust)
    assert verdict(report) == ("TOTAL_PASSED", None)
    assert report.revocation_note and "stays valid" in report.revocation_note


def test_signed_after_a_compromise_revocation_is_revoked_whatever_the_audit_log_says(
    seal_registry: SealRegistry, seal: Seal, result_doc: dict, audit_key: Ed25519PrivateKey
) -> None:
    trust = _revoke(seal_registry, seal)
    late = _seal_at(seal_registry, seal, result_doc, REVOKED_AT + timedelta(hours=1))
    proven = with_audit_proof(late, audit_proof_for(late, audit_key, checkpoint_at=REVOKED_AT + timedelta(hours=2)))
    report = verify_document(proven, trust, audit_checker=audit_checker(audit_key.public_key()))
    assert verdict(report) == ("TOTAL_FAILED", "REVOKED")


def test_expiry_after_signing_needs_no_poe_but_a_compromise_found_after_expiry_does(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict
) -> None:
    start = NOW - timedelta(days=20)
    short = seal_registry.issue(
        office=office[0], holder_name=office[1], kind="service_centre", valid_days=5, not_before=start
    )
    inside = _seal_at(seal_registry, short, result_doc, start + timedelta(days=1))
    trust = pinned_bundle(seal_registry)
    assert verdict(verify_document(inside, trust)) == ("TOTAL_PASSED", None)  # expired since: still valid
    # The registry keeps the status of expired seals for good, so a later compromise is still recorded.
    seal_registry.revoke(short.number, "expired key found on a stolen laptop", reason_code="key_compromise")
    trust = pinned_bundle(seal_registry)
    assert verdict(verify_document(inside, trust)) == ("INDETERMINATE", "REVOKED_NO_POE")


def test_the_audit_proof_check_reports_its_signed_checkpoint_time_as_poe(
    seal_registry: SealRegistry, seal: Seal, result_doc: dict, audit_key: Ed25519PrivateKey
) -> None:
    genuine = _seal_at(seal_registry, seal, result_doc, GENUINE_AT)
    logged_at = GENUINE_AT + timedelta(seconds=30)
    proof = audit_proof_for(genuine, audit_key, checkpoint_at=logged_at)
    good = check_audit_proof(genuine, proof, audit_key.public_key())
    assert good.ok and good.poe_time == logged_at
    bad = check_audit_proof({**genuine, "total": 0}, proof, audit_key.public_key())
    assert not bad.ok and bad.poe_time is None


def test_onewindow_verify_exits_1_for_a_backdated_forgery_and_0_with_a_genuine_proof(
    seal_registry: SealRegistry,
    seal: Seal,
    result_doc: dict,
    audit_key: Ed25519PrivateKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    genuine = _seal_at(seal_registry, seal, result_doc, GENUINE_AT)
    proven = with_audit_proof(genuine, audit_proof_for(genuine, audit_key, checkpoint_at=GENUINE_AT))
    _revoke(seal_registry, seal)
    bundle = tmp_path / "bundle.json"
    root = seal_registry.export_trust_bundle(bundle)["root_sha256"]
    (tmp_path / "audit-key.pem").write_text(public_key_pem(audit_key.public_key()), encoding="ascii")
    files = {"forged.json": _forgery(seal_registry, seal, result_doc), "genuine.json": proven}
    for name, doc in files.items():
        (tmp_path / name).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    def verify(name: str, *extra: str) -> tuple[int, dict[str, Any]]:
        code = main(
            ["verify", str(tmp_path / name), "--trust", str(bundle), "--root-fingerprint", root, "--json", *extra]
        )
        return code, json.loads(capsys.readouterr().out)

    audit = ("--audit-key", str(tmp_path / "audit-key.pem"))
    code, report = verify("forged.json", *audit)
    assert code == 1 and (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "REVOKED_NO_POE")
    code, report = verify("genuine.json", *audit)
    assert code == 0 and report["indication"] == "TOTAL_PASSED" and "existed by" in report["revocation_note"]
    code, report = verify("genuine.json")  # without the audit key the proof is not evidence
    assert code == 1 and report["sub_indication"] == "REVOKED_NO_POE"


def test_revoked_no_poe_is_indeterminate_in_the_etsi_mapping() -> None:
    from signing.verify.report import INDICATION_OF

    assert INDICATION_OF[SubIndication.REVOKED_NO_POE] is Indication.INDETERMINATE
