"""A verifier calls a seal genuine only against a district root it pinned beforehand.

The attack: a forger sets up a district with the same code and name and a
root of their own, seals whatever they like, and hands over their own
trust bundle, which checks out against itself.  Pinning -- a fingerprint
for the run, the trust store, or trust on first use -- is what tells the
two districts apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signing.cli.main import main
from signing.errors import TrustBundleError
from signing.registry.sample import create_sample_district
from signing.registry.seal_registry import SealRegistry
from signing.sealing import seal_document
from signing.verify.pinning import TRUST_STORE_ENV, TrustStore, default_trust_store_path
from signing.verify.trust import TrustBundle, load_trust_bundle
from signing.verify.verifier import verify_document

ITEM = "tax.payment-record"


def _sealed_files(registry: SealRegistry, office: str, doc: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    seal = registry.seal_for(office, "service_centre", ITEM)
    assert seal is not None
    folder.mkdir(parents=True, exist_ok=True)
    sealed = seal_document(doc, registry.signer_for(seal), seal, item=ITEM, request_id="R-1")
    (folder / "doc.json").write_text(json.dumps(sealed, ensure_ascii=False), encoding="utf-8")
    registry.export_trust_bundle(folder / "bundle.json")
    return folder / "doc.json", folder / "bundle.json"


@pytest.fixture
def district(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict[str, Any], tmp_path: Path
) -> tuple[Path, Path, str]:
    """The genuine district's sealed document and bundle, and its published root fingerprint."""
    doc, bundle = _sealed_files(seal_registry, office[0], result_doc, tmp_path / "genuine")
    return doc, bundle, json.loads(bundle.read_text())["root_sha256"]


@pytest.fixture
def forgery(
    seal_env: str, office: tuple[str, str], result_doc: dict[str, Any], tmp_path: Path
) -> tuple[Path, Path, str]:
    """A forged district: same code, same name, same offices, its own root; a forged result and its own bundle."""
    forger = create_sample_district(tmp_path / "forger-pki")
    forged = {**result_doc, "total": 99999.0}
    doc, bundle = _sealed_files(forger, office[0], forged, tmp_path / "forged")
    data = json.loads(bundle.read_text())
    assert data["district"]["code"] == "370303"
    return doc, bundle, data["root_sha256"]


@pytest.fixture
def store(trust_store: Path) -> Path:
    return trust_store


def verify(capsys: pytest.CaptureFixture[str], doc: Path, bundle: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["verify", str(doc), "--trust", str(bundle), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_forged_district_with_its_own_bundle_is_never_called_genuine_without_a_pin(
    forgery: tuple[Path, Path, str], store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, bundle, forged_root = forgery
    code, out, err = verify(capsys, doc, bundle)
    assert code == 1 and "INDETERMINATE" in out and "NO_CERTIFICATE_CHAIN_FOUND" in out
    assert "PASSED" not in out and "the seal is genuine" not in out
    assert f"Root SHA-256: {forged_root}" in out and "NOT PINNED" in out
    assert f"--root-fingerprint {forged_root}" in err and f"onewindow trust pin 370303 {forged_root}" in err
    code, out, _ = verify(capsys, doc, bundle, "--json")
    report = json.loads(out)
    assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    assert report["trust"]["root_sha256"] == forged_root and report["trust"]["anchor"] is None
    assert {c["name"]: c["passed"] for c in report["checks"]}["trust_anchor"] is False
    assert not store.exists()  # nothing recorded without being asked


def test_the_published_fingerprint_tells_the_districts_apart(
    district: tuple[Path, Path, str],
    forgery: tuple[Path, Path, str],
    store: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc, bundle, root = district
    code, out, _ = verify(capsys, doc, bundle, "--root-fingerprint", root.upper())
    assert code == 0 and "TOTAL_PASSED" in out and f"Root SHA-256: {root}" in out and "--root-fingerprint" in out
    forged_doc, forged_bundle, forged_root = forgery
    code, out, err = verify(capsys, forged_doc, forged_bundle, "--root-fingerprint", root)
    assert code == 2 and out == "" and forged_root in err and "not the pinned district root" in err


def test_a_root_pinned_in_the_trust_store_passes_and_a_forged_district_is_refused_loudly(
    district: tuple[Path, Path, str],
    forgery: tuple[Path, Path, str],
    store: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc, bundle, root = district
    assert main(["trust", "pin", "370303", root, "--name", "淄博市张店区行政审批服务局"]) == 0
    assert str(store) in capsys.readouterr().out
    code, out, _ = verify(capsys, doc, bundle, "--json")
    report = json.loads(out)
    assert code == 0 and report["trust"]["anchor"]["source"] == "trust_store"
    forged_doc, forged_bundle, forged_root = forgery
    code, out, err = verify(capsys, forged_doc, forged_bundle)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "REFUSED" in err and root in err and forged_root in err
    code, out, err = verify(capsys, forged_doc, forged_bundle, "--trust-on-first-use")  # first use is long past
    assert code == 2 and "REFUSED" in err
    assert main(["trust", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["district"], listed["sha256"], listed["how"]) == ("370303", root, "pinned")


def test_trust_on_first_use_records_the_root_loudly_and_refuses_another_root_later(
    district: tuple[Path, Path, str],
    forgery: tuple[Path, Path, str],
    store: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc, bundle, root = district
    code, out, err = verify(capsys, doc, bundle, "--trust-on-first-use")
    assert code == 0 and "TOTAL_PASSED" in out and "trusted on first use" in out
    assert err.startswith("NOTICE: trusting district 370303") and root in err and str(store) in err
    assert [r.sha256 for r in TrustStore(store).roots("370303")] == [root]
    code, out, err = verify(capsys, doc, bundle)  # remembered: no flag, no notice
    assert code == 0 and err == "" and "pinned in the trust store" in out
    forged_doc, forged_bundle, _ = forgery
    code, out, err = verify(capsys, forged_doc, forged_bundle, "--trust-on-first-use")
    assert code == 2 and "REFUSED" in err and [r.sha256 for r in TrustStore(store).roots("370303")] == [root]
    assert main(["trust", "unpin", "370303", root]) == 0
    capsys.readouterr()
    assert TrustStore(store).roots("370303") == []


def test_the_library_never_passes_a_bundle_without_an_anchor(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict[str, Any], tmp_path: Path
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    doc = seal_document(result_doc, seal_registry.signer_for(seal), seal, item=ITEM, request_id="R-1")
    exported = seal_registry.export_trust_bundle()
    unpinned = verify_document(doc, TrustBundle.from_dict(exported))
    assert not unpinned.passed and unpinned.sub_indication is not None
    assert unpinned.sub_indication.value == "NO_CERTIFICATE_CHAIN_FOUND"
    pinned = verify_document(doc, TrustBundle.from_dict(exported, root_fingerprint=exported["root_sha256"]))
    assert pinned.passed
    view = verify_document(doc, seal_registry.trust_view())  # the registry's own view: pinned by construction
    assert view.passed and view.trust is not None and view.trust.anchor is not None
    assert view.trust.anchor.source.value == "local_registry"


def test_a_damaged_trust_store_or_a_bad_fingerprint_is_a_clear_error(
    district: tuple[Path, Path, str], store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, bundle, _ = district
    store.parent.mkdir(parents=True)
    store.write_text('{"format": "onewindow-trust-store/1", "districts": {}, "districts": {}}')
    with pytest.raises(TrustBundleError, match="duplicate member name 'districts'"):
        load_trust_bundle(bundle, trust_store=TrustStore(store))
    code, _, err = verify(capsys, doc, bundle)
    assert code == 2 and "trust store" in err and err.count("\n") == 1
    assert main(["trust", "pin", "370303", "not-a-fingerprint"]) == 2
    assert "64 hex digits" in capsys.readouterr().err


def test_the_default_trust_store_is_in_the_users_configuration_unless_the_environment_says_otherwise() -> None:
    assert default_trust_store_path({"HOME": "/home/staff"}) == Path("/home/staff/.config/onewindow/trusted-roots.json")
    assert default_trust_store_path({"HOME": "/h", "XDG_CONFIG_HOME": "/cfg"}) == Path(
        "/cfg/onewindow/trusted-roots.json"
    )
    assert default_trust_store_path({TRUST_STORE_ENV: "/etc/onewindow/roots.json"}) == Path("/etc/onewindow/roots.json")
