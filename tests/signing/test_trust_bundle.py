"""The trust bundle: signed by the root, checked on load, with a real X.509 CRL."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from signing.errors import TrustBundleError
from signing.registry.seal_registry import SealRegistry
from signing.verify.trust import TrustBundle, load_trust_bundle


@pytest.fixture
def bundle(seal_registry: SealRegistry) -> dict[str, Any]:
    seal_registry.revoke("370303-BM-0002", "key card lost", reason_code="key_compromise")
    seal_registry.suspend("370303-SP-0003", "audit")
    return seal_registry.export_trust_bundle()


def test_exported_bundle_loads_from_file_and_indexes_every_seal(seal_registry: SealRegistry, tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    seal_registry.export_trust_bundle(path)
    trust = load_trust_bundle(path)
    assert set(trust.seals) == {s.number for s in seal_registry.seals()}
    assert trust.district == {"code": "370303", "name": "淄博市张店区行政审批服务局"}
    pinned = load_trust_bundle(path, root_fingerprint=trust.root_fingerprint.upper())
    assert pinned.root_fingerprint == trust.root_fingerprint
    assert all("key" not in entry for entry in json.loads(path.read_text())["seals"])


def test_crl_is_a_real_x509_crl_signed_by_the_root_with_reasons(
    seal_registry: SealRegistry, bundle: dict[str, Any]
) -> None:
    crl = x509.load_der_x509_crl(base64.b64decode(bundle["crl"]))
    root_key = seal_registry.root_certificate.public_key()
    assert crl.is_signature_valid(root_key)  # type: ignore[arg-type]
    reasons = {
        entry.serial_number: entry.extensions.get_extension_for_class(x509.CRLReason).value.reason for entry in crl
    }
    revoked = seal_registry.get("370303-BM-0002").certificate.serial_number
    held = seal_registry.get("370303-SP-0003").certificate.serial_number
    assert reasons == {
        revoked: x509.ReasonFlags.key_compromise,
        held: x509.ReasonFlags.certificate_hold,
    }
    assert crl.next_update_utc is not None and crl.next_update_utc > crl.last_update_utc


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b["seals"][1]["history"].pop(),  # hide the revocation
        lambda b: b["seals"][0].update(holder_name="伪造的便民服务中心"),
        lambda b: b["seals"][0].update(scope=["tax.*"]),
        lambda b: b.update(issued_at="2099-01-01T00:00:00Z"),
        lambda b: b.update(signature=b["signature"][:-4] + "AAAA"),
    ],
    ids=["hidden-revocation", "holder-name", "scope", "date", "signature"],
)
def test_an_edited_bundle_is_rejected_with_a_clear_error(bundle: dict[str, Any], edit: Any) -> None:
    edited = copy.deepcopy(bundle)
    edit(edited)
    with pytest.raises(TrustBundleError, match="signature"):
        TrustBundle.from_dict(edited)


def test_a_bundle_re_signed_by_another_root_fails_the_pinned_fingerprint(
    seal_registry: SealRegistry, tmp_path: Path
) -> None:
    genuine = TrustBundle.from_dict(seal_registry.export_trust_bundle())
    forger = SealRegistry.create(tmp_path / "forger")
    forged = forger.export_trust_bundle()
    TrustBundle.from_dict(forged)  # self-consistent ...
    with pytest.raises(TrustBundleError, match="pinned"):
        TrustBundle.from_dict(forged, root_fingerprint=genuine.root_fingerprint)


def test_crl_that_disagrees_with_history_is_rejected(
    seal_registry: SealRegistry, bundle: dict[str, Any], tmp_path: Path
) -> None:
    # A CRL from before the revocation, glued into the newer (validly signed) bundle body,
    # is caught by the signature; re-signing needs the root key, which is what we test here.
    from signing.keys.passphrase import load_passphrase
    from signing.keys.signers import decrypt_private_key
    from signing.verify.trust import build_trust_bundle

    root_key = decrypt_private_key((seal_registry.directory / "root/root-key.pem").read_bytes(), load_passphrase())
    good = build_trust_bundle(
        root_key,
        seal_registry.root_certificate,
        seal_registry.district,
        seal_registry.seals(),
        seal_registry.seals()[0].not_before,
    )
    mixed = copy.deepcopy(bundle)
    mixed["crl"] = good["crl"]
    mixed.pop("signature")
    from signing.jose.jcs import canonicalize
    from signing.jose.jws import sign_detached
    from signing.keys.signers import FileSigner

    header = base64.urlsafe_b64decode(bundle["signature"].split(".")[0] + "==")
    mixed["signature"] = sign_detached(header, canonicalize(mixed), FileSigner(root_key))
    with pytest.raises(TrustBundleError, match="CRL disagrees"):
        TrustBundle.from_dict(mixed)


def test_unreadable_or_foreign_files_are_trust_bundle_errors(tmp_path: Path) -> None:
    with pytest.raises(TrustBundleError, match="cannot read"):
        load_trust_bundle(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("[1, 2")
    with pytest.raises(TrustBundleError, match="not JSON"):
        load_trust_bundle(tmp_path / "x.json")
    (tmp_path / "y.json").write_text('{"format": "something-else"}')
    with pytest.raises(TrustBundleError, match="not a trust bundle"):
        load_trust_bundle(tmp_path / "y.json")


def test_bundle_signature_alg_must_be_the_roots(seal_registry: SealRegistry, bundle: dict[str, Any]) -> None:
    """A bundle signed by the right root key, but claiming the other alg, is refused."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from signing.jose.jcs import canonicalize
    from signing.jose.jws import b64url, signing_input
    from signing.keys.passphrase import load_passphrase
    from signing.keys.signers import decrypt_private_key

    root_key = decrypt_private_key((seal_registry.directory / "root/root-key.pem").read_bytes(), load_passphrase())
    body = {k: v for k, v in bundle.items() if k != "signature"}
    header_b64 = bundle["signature"].split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    assert header["alg"] == "ES384" == seal_registry.root_key_type.alg
    forged_b64 = b64url(json.dumps({**header, "alg": "ES256"}).encode())
    data = signing_input(forged_b64, canonicalize(body))
    r, s = decode_dss_signature(root_key.sign(data, ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    forged = {**body, "signature": f"{forged_b64}..{b64url(raw)}"}
    with pytest.raises(TrustBundleError, match=r"says alg 'ES256'.*P-384 key signs ES384"):
        TrustBundle.from_dict(forged)
