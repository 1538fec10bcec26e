"""The seal registry on disk: numbering, status history, choosing, atomicity, key secrecy."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from signing.errors import (
    CertificateFormatError,
    PassphraseError,
    RegistryError,
    SealNotFoundError,
)
from signing.keys.passphrase import PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, load_passphrase
from signing.model import SealKind, SealStatus, scope_covers
from signing.pki.certificates import seal_info_of
from signing.pki.seal_info import SEAL_INFO_OID, SealInfo, decode_seal_info, encode_seal_info
from signing.registry.sample import SAMPLE_OFFICES
from signing.registry.seal_registry import SealRegistry
from signing.sealing import seal_document
from signing.verify.verifier import verify_document
from tests.signing.conftest import pinned_bundle


def test_sample_district_has_one_seal_of_each_kind_per_office(seal_registry: SealRegistry) -> None:
    seals = seal_registry.seals()
    assert len(seals) == 2 * len(SAMPLE_OFFICES)
    assert [s.number for s in seals if s.kind is SealKind.SERVICE_CENTRE] == [
        "370303-BM-0001",
        "370303-BM-0002",
        "370303-BM-0003",
    ]
    assert [s.number for s in seals if s.kind is SealKind.DELEGATED_APPROVAL] == [
        "370303-SP-0001",
        "370303-SP-0002",
        "370303-SP-0003",
    ]
    reopened = SealRegistry.open(seal_registry.directory)
    assert [s.number for s in reopened.seals()] == [s.number for s in seals]


def test_certificate_carries_seal_facts_in_extension_and_subject(
    seal_registry: SealRegistry, office: tuple[str, str]
) -> None:
    seal = seal_registry.issue(
        office=office[0],
        holder_name=office[1],
        kind="delegated_approval",
        scope=["property.*", "housing_fund.withdrawal"],
    )
    cert = seal.certificate
    assert seal_info_of(cert) == SealInfo(
        seal.number,
        "delegated_approval",
        office[0],
        office[1],
        ("property.*", "housing_fund.withdrawal"),
    )
    subject = {a.oid: a.value for a in cert.subject}
    assert subject[NameOID.SERIAL_NUMBER] == seal.number
    assert subject[NameOID.COMMON_NAME] == office[1]
    assert subject[NameOID.ORGANIZATIONAL_UNIT_NAME] == office[0]
    assert cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(SEAL_INFO_OID))
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(seal_registry.root_certificate)
    root = seal_registry.root_certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert root.value.ca and root.value.path_length == 0


def test_seal_info_der_round_trips_and_rejects_garbage() -> None:
    info = SealInfo("370303-SP-0012", "delegated_approval", "370303100000", "马尚街道" * 40, ())
    assert decode_seal_info(encode_seal_info(info)) == info
    der = encode_seal_info(info)
    for bad in (der[:-1], der + b"\x00", b"\x31" + der[1:], b""):
        with pytest.raises(CertificateFormatError):
            decode_seal_info(bad)


def test_explicit_numbers_are_honoured_and_never_reused(seal_registry: SealRegistry, office: tuple[str, str]) -> None:
    issue = dict(office=office[0], holder_name=office[1], kind="service_centre")
    assert seal_registry.issue(**issue, number=7).number == "370303-BM-0007"
    assert seal_registry.issue(**issue).number == "370303-BM-0008"
    assert seal_registry.issue(**issue, number="370303-BM-0005").number == "370303-BM-0005"
    seal_registry.revoke("370303-BM-0005", "superseded", reason_code="superseded")
    with pytest.raises(RegistryError, match="never reused"):
        seal_registry.issue(**issue, number=5)
    with pytest.raises(RegistryError, match="does not belong"):
        seal_registry.issue(**issue, number="370303-SP-0099")
    assert seal_registry.issue(**issue).number == "370303-BM-0009"


@pytest.mark.parametrize(
    "bad",
    [
        {"office": "3703031"},
        {"holder_name": "  "},
        {"kind": "mayor"},
        {"scope": ["tax payment"]},
        {"scope": ["*"]},
        {"number": "BM-1"},
        {"valid_days": 0},
        {"key_type": "es512"},
    ],
)
def test_bad_input_is_refused_and_leaves_the_registry_byte_identical(
    seal_registry: SealRegistry, office: tuple[str, str], bad: dict
) -> None:
    registry_file = seal_registry.directory / "registry.json"
    before = registry_file.read_bytes()
    seal_dirs = sorted((seal_registry.directory / "seals").iterdir())
    args = {"office": office[0], "holder_name": office[1], "kind": "service_centre", **bad}
    with pytest.raises(RegistryError):
        seal_registry.issue(**args)
    assert registry_file.read_bytes() == before
    assert sorted((seal_registry.directory / "seals").iterdir()) == seal_dirs


def test_a_crash_while_writing_leaves_the_old_registry_and_no_temp_files(
    seal_registry: SealRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry_file = seal_registry.directory / "registry.json"
    before = registry_file.read_bytes()
    real_replace = os.replace

    def power_cut(src: str, dst: str) -> None:
        if str(dst).endswith("registry.json"):
            raise OSError("disk gone")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="disk gone"):
        seal_registry.revoke("370303-BM-0001", "test")
    assert registry_file.read_bytes() == before
    assert not list(seal_registry.directory.glob(".registry.json.*"))
    assert SealRegistry.open(seal_registry.directory).get("370303-BM-0001").status is SealStatus.ACTIVE


def test_status_history_is_kept_and_revocation_is_final(seal_registry: SealRegistry) -> None:
    number = "370303-SP-0002"
    seal_registry.suspend(number, "audit")
    seal_registry.reinstate(number, "audit closed")
    revoked = seal_registry.revoke(number, "office merged", reason_code="cessation_of_operation")
    assert [(e.status, e.reason) for e in revoked.history] == [
        (SealStatus.ACTIVE, "issued"),
        (SealStatus.SUSPENDED, "audit"),
        (SealStatus.ACTIVE, "audit closed"),
        (SealStatus.REVOKED, "office merged"),
    ]
    for change in (
        lambda: seal_registry.reinstate(number),
        lambda: seal_registry.suspend(number, "again"),
        lambda: seal_registry.revoke(number, "twice"),
    ):
        with pytest.raises(RegistryError, match="revoked"):
            change()
    with pytest.raises(RegistryError, match="future"):
        seal_registry.suspend("370303-SP-0003", "x", at=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(RegistryError, match="time order"):
        seal_registry.suspend("370303-SP-0003", "x", at=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(SealNotFoundError):
        seal_registry.get("370303-SP-0404")


def test_a_scope_covers_the_items_it_names_and_those_under_its_prefixes() -> None:
    scope = ("tax.payment-record", "property.*")
    assert scope_covers((), "medical.claim")  # an empty scope covers every item
    assert scope_covers(scope, "tax.payment-record")
    assert scope_covers(scope, "property.title-reissue")
    assert not scope_covers(scope, "tax.payment-record-extra")  # an exact name is no prefix
    assert not scope_covers(scope, "property")  # "property.*" covers what is under it, not itself
    assert not scope_covers(scope, "propertyx.title")
    assert not scope_covers(("tax.*",), "medical.claim")


def test_seal_for_picks_the_usable_seal_whose_kind_and_scope_cover_the_item(
    seal_registry: SealRegistry, office: tuple[str, str]
) -> None:
    code, name = office
    general = seal_registry.seal_for(code, "delegated_approval", "property.title-reissue")
    assert general is not None and general.scope == ()
    specific = seal_registry.issue(office=code, holder_name=name, kind="delegated_approval", scope=["property.*"])
    exact = seal_registry.issue(
        office=code, holder_name=name, kind="delegated_approval", scope=["property.title-reissue"]
    )
    chosen = seal_registry.seal_for(code, "delegated_approval", "property.title-reissue")
    assert chosen is not None and chosen.number == exact.number
    assert seal_registry.seal_for(code, "delegated_approval", "property.other").number == (specific.number)
    seal_registry.suspend(exact.number, "audit")
    assert seal_registry.seal_for(code, "delegated_approval", "property.title-reissue").number == (specific.number)
    assert seal_registry.seal_for("370303999000", "service_centre", "tax.x") is None
    sc = seal_registry.seal_for(code, SealKind.SERVICE_CENTRE, "tax.payment-record")
    assert sc is not None and sc.kind is SealKind.SERVICE_CENTRE
    before_issue = datetime.now(UTC) - timedelta(days=365)
    assert seal_registry.seal_for(code, "service_centre", "tax.x", at=before_issue) is None


def test_seal_for_answers_anew_once_a_seal_starts_or_stops_being_usable(
    seal_registry: SealRegistry, office: tuple[str, str]
) -> None:
    """The choice is remembered only while nothing about it can change: each moment below is asked after another."""
    code, name = office
    item, now = "property.title-reissue", datetime.now(UTC)
    general = seal_registry.seal_for(code, "delegated_approval", item, at=now)
    assert general is not None
    later = seal_registry.issue(
        office=code,
        holder_name=name,
        kind="delegated_approval",
        scope=[item],
        not_before=now + timedelta(days=10),
        valid_days=5,
    )

    def chosen(at: datetime) -> str | None:
        seal = seal_registry.seal_for(code, "delegated_approval", item, at=at)
        return None if seal is None else seal.number

    assert chosen(now) == general.number  # not usable yet
    assert chosen(now + timedelta(days=11)) == later.number  # its certificate's validity began
    assert chosen(later.not_after) == later.number  # its last usable moment
    assert chosen(later.not_after + timedelta(microseconds=1)) == general.number  # expired
    assert chosen(now + timedelta(days=11)) == later.number
    seal_registry.suspend(general.number, "audit")  # its history: active until this moment, suspended since
    assert chosen(now) == general.number
    assert chosen(datetime.now(UTC) + timedelta(hours=1)) is None
    assert chosen(now) == general.number
    assert chosen(now + timedelta(days=11)) == later.number


def test_private_keys_are_encrypted_pkcs8_readable_only_by_owner(seal_registry: SealRegistry, seal_env: str) -> None:
    keys = [seal_registry.directory / "root/root-key.pem"]
    keys += sorted((seal_registry.directory / "seals").glob("*/key.pem"))
    assert len(keys) == 7
    for path in keys:
        data = path.read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert path.stat().st_mode & 0o777 == 0o600
    for path in seal_registry.directory.rglob("*"):
        if path.is_file():
            assert seal_env.encode() not in path.read_bytes()


def test_wrong_or_missing_passphrase_is_a_clear_error(
    seal_registry: SealRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reopened = SealRegistry.open(seal_registry.directory)
    monkeypatch.setenv(PASSPHRASE_ENV, "not the passphrase")
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        reopened.signer_for("370303-BM-0001")
    monkeypatch.delenv(PASSPHRASE_ENV)
    with pytest.raises(PassphraseError, match=PASSPHRASE_ENV):
        reopened.signer_for("370303-BM-0001")
    secret_file = tmp_path / "secret"
    secret_file.write_text("correct horse battery staple\n")
    monkeypatch.setenv(PASSPHRASE_FILE_ENV, str(secret_file))
    assert reopened.signer_for("370303-BM-0001").algorithm == "ES384"
    assert "correct" not in repr(load_passphrase())
    secret_file.write_text("short")
    with pytest.raises(PassphraseError, match="at least"):
        load_passphrase()


def test_opening_a_missing_or_foreign_directory_fails_clearly(tmp_path: Path, seal_env: str) -> None:
    with pytest.raises(RegistryError, match="init-district"):
        SealRegistry.open(tmp_path / "nothing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk/registry.json").write_text("{not json")
    with pytest.raises(RegistryError, match="unreadable"):
        SealRegistry.open(tmp_path / "junk")
    SealRegistry.create(tmp_path / "pki")
    with pytest.raises(RegistryError, match="already"):
        SealRegistry.create(tmp_path / "pki")


def test_an_open_registry_sees_a_revocation_made_by_another_process(
    seal_registry: SealRegistry, office: tuple[str, str]
) -> None:
    gateway_view = SealRegistry.open(seal_registry.directory)
    chosen = gateway_view.seal_for(office[0], "service_centre", "tax.payment-record")
    assert chosen is not None
    assert gateway_view.seals()[0] is gateway_view.seals()[0]  # parsed once, cached
    staff_view = SealRegistry.open(seal_registry.directory)
    staff_view.revoke(chosen.number, "office closed")
    assert gateway_view.seal_for(office[0], "service_centre", "tax.payment-record") is None
    assert gateway_view.get(chosen.number).status is SealStatus.REVOKED


def test_new_districts_and_seals_default_to_es384_signed_with_sha384(
    seal_registry: SealRegistry,
) -> None:
    assert seal_registry.root_key_type.alg == "ES384"
    root = seal_registry.root_certificate
    assert isinstance(root.signature_hash_algorithm, hashes.SHA384)
    for seal in seal_registry.seals():
        assert seal.key_type.alg == "ES384"
        assert isinstance(seal.certificate.signature_hash_algorithm, hashes.SHA384)
    bundle = seal_registry.export_trust_bundle()
    crl = x509.load_der_x509_crl(base64.b64decode(bundle["crl"]))
    assert isinstance(crl.signature_hash_algorithm, hashes.SHA384)


def test_an_es256_district_keeps_working_and_holds_each_seals_own_key_type(
    tmp_path: Path, seal_env: str, office: tuple[str, str], result_doc: dict
) -> None:
    """A P-256 root (as every registry made before ES384) signs with SHA-256 and takes both."""
    registry = SealRegistry.create(tmp_path / "pki", key_type="es256")
    assert registry.root_key_type.alg == "ES256"
    new = registry.issue(office=office[0], holder_name=office[1], kind="service_centre")
    old = registry.issue(office=office[0], holder_name=office[1], kind="service_centre", key_type="es256")
    reopened = SealRegistry.open(registry.directory)
    assert {s.number: s.key_type.alg for s in reopened.seals()} == {
        new.number: "ES384",
        old.number: "ES256",
    }
    for seal in (new, old):
        assert isinstance(seal.certificate.signature_hash_algorithm, hashes.SHA256)
        seal.certificate.verify_directly_issued_by(registry.root_certificate)
    trust = pinned_bundle(reopened)
    for seal in reopened.seals():
        signer = reopened.signer_for(seal)
        assert signer.algorithm == seal.key_type.alg
        doc = seal_document(result_doc, signer, seal, item="tax.payment-record", request_id="R")
        report = verify_document(doc, trust)
        assert report.passed, report.render()


def test_the_root_may_have_a_passphrase_of_its_own(
    tmp_path: Path, seal_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONEWINDOW_ROOT_PASSPHRASE(_FILE): knowing the seal passphrase (every gateway does) issues nothing."""
    from signing.keys.passphrase import ROOT_PASSPHRASE_ENV, ROOT_PASSPHRASE_FILE_ENV, Passphrase, load_root_passphrase
    from signing.keys.signers import decrypt_private_key

    root_secret = tmp_path / "root-passphrase"
    root_secret.write_text("the bureau's own root passphrase\n")
    monkeypatch.setenv(ROOT_PASSPHRASE_FILE_ENV, str(root_secret))
    registry = SealRegistry.create(tmp_path / "pki")
    seal = registry.issue(office="370303100000", holder_name="马尚街道", kind="service_centre")
    root_pem = (registry.directory / "root/root-key.pem").read_bytes()
    decrypt_private_key(root_pem, Passphrase(b"the bureau's own root passphrase"))
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        decrypt_private_key(root_pem, load_passphrase())
    seal_pem = (registry.directory / seal.key["path"]).read_bytes()
    decrypt_private_key(seal_pem, load_passphrase())  # the seal key stays under the seal passphrase
    registry.export_trust_bundle()
    # Without the root passphrase the seal passphrase is tried, and refused, for root work only.
    monkeypatch.delenv(ROOT_PASSPHRASE_FILE_ENV)
    with pytest.raises(PassphraseError, match="district root key: wrong passphrase"):
        registry.issue(office="370303100000", holder_name="马尚街道", kind="delegated_approval")
    with pytest.raises(PassphraseError, match="district root key"):
        registry.export_trust_bundle()
    assert registry.signer_for(seal).algorithm == "ES384"  # sealing never needs it
    monkeypatch.setenv(ROOT_PASSPHRASE_ENV, "the bureau's own root passphrase")
    assert registry.issue(office="370303100000", holder_name="马尚街道", kind="delegated_approval")
    assert load_root_passphrase({ROOT_PASSPHRASE_ENV: "x" * 8, PASSPHRASE_ENV: "y" * 8}).reveal() == b"x" * 8
    assert load_root_passphrase({PASSPHRASE_ENV: "y" * 8}).reveal() == b"y" * 8  # registries from before
    with pytest.raises(PassphraseError, match=ROOT_PASSPHRASE_ENV):
        load_root_passphrase({})
    with pytest.raises(PassphraseError, match="root key passphrase must be at least"):
        load_root_passphrase({ROOT_PASSPHRASE_ENV: "short"})
