"""A trust bundle past its next update does not know the revocations made since: TRY_LATER, not PASSED.

EN 319 102-1 gives INDETERMINATE / TRY_LATER when the revocation
information is not fresh enough and a fresher one may decide; that is a
bundle past its ``next_update``.  A verifier may accept such a bundle on
purpose (``--accept-stale-bundle``), and the verdict then says so.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from signing.cli.main import main
from signing.model import Seal
from signing.registry.seal_registry import SealRegistry
from signing.sealing import sign_document
from signing.verify.verifier import verify_document
from tests.signing.conftest import ISSUED, pinned_bundle

ITEM = "tax.payment-record"
SEALED_AT = ISSUED + timedelta(hours=12)
BUNDLE_AT = ISSUED + timedelta(days=1)  # next update a week later: three weeks ago
REVOKED_AT = ISSUED + timedelta(days=2)  # after the bundle: it cannot know


@pytest.fixture
def seal(seal_registry: SealRegistry, office: tuple[str, str]) -> Seal:
    found = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert found is not None
    return found


@pytest.fixture
def document(seal_registry: SealRegistry, seal: Seal, result_doc: dict[str, Any]) -> dict[str, Any]:
    signer = seal_registry.signer_for(seal)
    return sign_document(result_doc, signer, seal, item=ITEM, request_id="R-1", signed_at=SEALED_AT)


def verdict(report: Any) -> tuple[str, str | None]:
    return report.indication.value, report.sub_indication.value if report.sub_indication else None


def test_a_bundle_issued_before_a_revocation_gives_try_later_once_past_its_next_update(
    seal_registry: SealRegistry, seal: Seal, document: dict[str, Any]
) -> None:
    stale = pinned_bundle(seal_registry, now=BUNDLE_AT)
    seal_registry.revoke(seal.number, "key card lost", at=REVOKED_AT, reason_code="key_compromise")
    report = verify_document(document, stale)
    assert verdict(report) == ("INDETERMINATE", "TRY_LATER")
    freshness = next(c for c in report.checks if c.name == "revocation_freshness")
    assert freshness.passed is False and "revocations since are not known" in freshness.detail
    assert "get a fresh trust bundle" in report.render()
    assert verdict(verify_document(document, pinned_bundle(seal_registry))) == ("INDETERMINATE", "REVOKED_NO_POE")
    then = verify_document(document, stale, at=BUNDLE_AT + timedelta(days=1))  # asked while it was fresh
    assert then.passed


def test_accepting_a_stale_bundle_is_stated_in_the_verdict(
    seal_registry: SealRegistry, document: dict[str, Any]
) -> None:
    stale = pinned_bundle(seal_registry, now=BUNDLE_AT)
    report = verify_document(document, stale, accept_stale_bundle=True)
    assert report.passed and report.trust is not None and report.trust.stale_bundle_accepted
    assert report.to_dict()["trust"]["stale_bundle_accepted"] is True
    assert "accepted past its next update" in report.render() and "--accept-stale-bundle" in report.render()
    fresh = verify_document(document, pinned_bundle(seal_registry), accept_stale_bundle=True)
    assert fresh.passed and fresh.trust is not None and not fresh.trust.stale_bundle_accepted


def test_a_definite_failure_outranks_try_later(seal_registry: SealRegistry, document: dict[str, Any]) -> None:
    stale = pinned_bundle(seal_registry, now=BUNDLE_AT)
    changed = copy.deepcopy(document)
    changed["total"] = 0
    assert verdict(verify_document(changed, stale)) == ("TOTAL_FAILED", "HASH_FAILURE")


def test_the_verifiers_own_registry_is_never_stale(seal_registry: SealRegistry, document: dict[str, Any]) -> None:
    report = verify_document(document, seal_registry.trust_view())
    assert report.passed and report.trust is not None and report.trust.bundle_next_update is None


def test_onewindow_verify_says_try_later_and_accepts_a_stale_bundle_only_when_asked(
    seal_registry: SealRegistry,
    document: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trust_store: Path,
) -> None:
    bundle = tmp_path / "bundle.json"
    root = seal_registry.export_trust_bundle(bundle, now=BUNDLE_AT)["root_sha256"]
    (tmp_path / "doc.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    argv = ["verify", str(tmp_path / "doc.json"), "--trust", str(bundle), "--root-fingerprint", root]
    assert main([*argv, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "TRY_LATER")
    assert report["trust"]["bundle_next_update"] == json.loads(bundle.read_text())["next_update"]
    assert main([*argv, "--accept-stale-bundle"]) == 0
    out = capsys.readouterr().out
    assert "TOTAL_PASSED" in out and "accepted past its next update" in out
