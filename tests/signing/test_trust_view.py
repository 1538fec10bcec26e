"""The registry's local trust view: verification without the root key, judging exactly like a signed bundle."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.audit.document_proof import audit_checker
from signing.errors import RegistryError, TrustBundleError
from signing.jose.jws import b64url, b64url_decode
from signing.model import Seal
from signing.registry.sample import SAMPLE_OFFICES
from signing.registry.seal_registry import SealRegistry
from signing.sealing import seal_document, sign_document
from signing.verify.report import SubIndication
from signing.verify.trust import TrustBundle, load_trust_bundle
from signing.verify.verifier import verify_document
from tests.signing.audit_proofs import audit_proof_for, with_audit_proof

ITEM = "tax.payment-record"


def _sign(registry: SealRegistry, seal: Seal, doc: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    return sign_document(doc, registry.signer_for(seal), seal, item=ITEM, request_id="R-1", signed_at=at)


def _service_seal(registry: SealRegistry, office: str) -> Seal:
    seal = registry.seal_for(office, "service_centre", ITEM)
    assert seal is not None
    return seal


@pytest.fixture
def audit_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def cases(
    seal_registry: SealRegistry, result_doc: dict[str, Any], tmp_path: Path, audit_key: Ed25519PrivateKey
) -> dict[str, dict[str, Any]]:
    """One document per verdict (every sub-indication, and the passing variants), all in one registry."""
    now = datetime.now(UTC)
    registry = seal_registry
    (a, _), (b, _), (c, name_c) = SAMPLE_OFFICES
    good_seal = _service_seal(registry, a)
    docs: dict[str, dict[str, Any]] = {}
    docs["passed"] = _sign(registry, good_seal, result_doc)
    docs["FORMAT_FAILURE"] = {**result_doc, "seal": {"format": "onewindow-seal/1", "number": "x", "jws": "a.b.c"}}
    docs["HASH_FAILURE"] = {**docs["passed"], "total": 0}
    header, _, signature = docs["passed"]["seal"]["jws"].split(".")
    flipped = bytearray(b64url_decode(signature))
    flipped[5] ^= 1
    docs["SIG_CRYPTO_FAILURE"] = {
        **docs["passed"],
        "seal": {**docs["passed"]["seal"], "jws": f"{header}..{b64url(bytes(flipped))}"},
    }
    impostor = SealRegistry.create(tmp_path / "impostor")
    foreign = impostor.issue(office=a, holder_name="冒充", kind="service_centre")
    docs["NO_CERTIFICATE_CHAIN_FOUND"] = _sign(impostor, foreign, result_doc)
    docs["NOT_YET_VALID"] = _sign(registry, good_seal, result_doc, good_seal.not_before - timedelta(days=1))
    short = registry.issue(
        office=c, holder_name=name_c, kind="service_centre", valid_days=2, not_before=now - timedelta(days=9)
    )
    docs["EXPIRED"] = _sign(registry, short, result_doc, now - timedelta(days=3))
    docs["passed_expired_since"] = _sign(registry, short, result_doc, now - timedelta(days=8))
    narrow = registry.issue(office=c, holder_name=name_c, kind="delegated_approval", scope=["property.*"])
    docs["SIG_CONSTRAINTS_FAILURE"] = _sign(registry, narrow, result_doc)
    # Revocations: compromised (b's service seal), superseded (c's approval seal), after-the-fact use (a's).
    compromised = _service_seal(registry, b)
    genuine_b = _sign(registry, compromised, result_doc, now - timedelta(days=6))
    docs["passed_with_poe"] = with_audit_proof(
        genuine_b, audit_proof_for(genuine_b, audit_key, checkpoint_at=now - timedelta(days=6))
    )
    registry.revoke(compromised.number, "key card lost", at=now - timedelta(days=5), reason_code="key_compromise")
    forged = {**result_doc, "total": 0.01}
    docs["REVOKED_NO_POE"] = _sign(registry, compromised, forged, now - timedelta(days=5, hours=1))
    docs["REVOKED"] = _sign(registry, compromised, result_doc, now - timedelta(days=1))
    retired = registry.seal_for(c, "delegated_approval", ITEM)
    assert retired is not None and retired.number != narrow.number
    docs["passed_after_superseded"] = seal_document(
        result_doc, registry.signer_for(retired), retired, item=ITEM, request_id="R-2"
    )
    registry.revoke(retired.number, "new seal cut", reason_code="superseded")
    suspended = registry.seal_for(a, "delegated_approval", ITEM)
    assert suspended is not None
    registry.suspend(suspended.number, "audit in progress")
    docs["SIG_CONSTRAINTS_FAILURE_suspended"] = sign_document(
        result_doc, registry.signer_for(suspended), suspended, item=ITEM, request_id="R-3"
    )
    return docs


def test_the_local_view_judges_every_document_exactly_like_the_signed_bundle(
    seal_registry: SealRegistry, cases: dict[str, dict[str, Any]], audit_key: Ed25519PrivateKey
) -> None:
    moment = datetime.now(UTC)
    exported = json.loads(json.dumps(seal_registry.export_trust_bundle(now=moment)))
    signed = TrustBundle.from_dict(exported, root_fingerprint=exported["root_sha256"])
    view = seal_registry.trust_view(now=moment)
    assert signed.signed and signed.crl is not None
    assert not view.signed and view.crl is None
    checker = audit_checker(audit_key.public_key())
    seen: set[str] = set()
    for name, doc in cases.items():
        for hook in (None, checker):
            with_bundle = verify_document(doc, signed, at=moment, audit_checker=hook)
            with_view = verify_document(doc, view, at=moment, audit_checker=hook)
            assert _judgement(with_view) == _judgement(with_bundle), name
            assert _words(with_view) == _words(with_bundle), name
            assert with_view.root_fingerprint == with_bundle.root_fingerprint == signed.root_fingerprint
        report = verify_document(doc, view, at=moment, audit_checker=checker)
        got = report.sub_indication.value if report.sub_indication else None
        if name.startswith("passed"):
            assert got is None, (name, report.render())
        else:
            assert got == name.removesuffix("_suspended"), (name, report.render())
            seen.add(got)
    # A view is read now, so it is never stale: TRY_LATER is for bundles (tests/signing/test_stale_bundle.py).
    assert seen == {s.value for s in SubIndication} - {"TRY_LATER"}, "add a case for every sub-indication"


_TRUST_CHECKS = {"trust_anchor", "revocation_freshness"}


def _judgement(report: Any) -> dict[str, Any]:
    """The report without what only says how the root is trusted and how fresh the source is."""
    data = report.to_dict()
    data.pop("trust")
    data["checks"] = [c for c in data["checks"] if c["name"] not in _TRUST_CHECKS]
    return data


def _words(report: Any) -> list[str]:
    """The rendered lines, less those about the anchor and the bundle's freshness."""
    skip = ("Trust anchor", "trust anchor", "trust bundle up to date", "Root SHA-256")
    return [line for line in report.render().splitlines() if not any(word in line for word in skip)]


def test_the_local_view_is_built_without_the_root_key_and_cannot_be_handed_out(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict[str, Any], tmp_path: Path
) -> None:
    copy = tmp_path / "gateway-pki"
    shutil.copytree(seal_registry.directory, copy)
    (copy / "root" / "root-key.pem").unlink()
    gateway_side = SealRegistry.open(copy)
    seal = _service_seal(gateway_side, office[0])
    doc = seal_document(result_doc, gateway_side.signer_for(seal), seal, item=ITEM, request_id="R-1")
    assert verify_document(doc, gateway_side.trust_view()).passed
    with pytest.raises(TrustBundleError, match="not a signed trust bundle"):
        gateway_side.trust_view().to_dict()
    with pytest.raises(RegistryError, match="root key"):
        gateway_side.export_trust_bundle()
    with pytest.raises(RegistryError, match="root key"):
        gateway_side.issue(office=office[0], holder_name=office[1], kind="service_centre")


def test_a_registry_entry_not_issued_by_the_root_breaks_the_view(seal_registry: SealRegistry, tmp_path: Path) -> None:
    impostor = SealRegistry.create(tmp_path / "impostor")
    foreign = impostor.issue(office="370303100000", holder_name="冒充", kind="service_centre")
    state = json.loads((seal_registry.directory / "registry.json").read_text(encoding="utf-8"))
    state["seals"].append(foreign.to_dict())
    (seal_registry.directory / "registry.json").write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(TrustBundleError, match="not issued by the root"):
        SealRegistry.open(seal_registry.directory).trust_view()


def test_the_sample_district_exports_its_bundle_and_the_registry_tells_when_it_is_out_of_date(
    seal_registry: SealRegistry,
) -> None:
    path = seal_registry.trust_bundle_path
    assert path == seal_registry.directory / "trust-bundle.json"
    bundle = load_trust_bundle(path)
    assert bundle.signed and seal_registry.bundle_is_current(bundle)
    number = seal_registry.seals()[0].number
    seal_registry.suspend(number, "audit in progress")
    assert not seal_registry.bundle_is_current(load_trust_bundle(path))
    seal_registry.publish_trust_bundle()
    assert seal_registry.bundle_is_current(load_trust_bundle(path))
