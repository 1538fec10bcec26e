"""Seal keys on a PKCS#11 token (SoftHSM2): issue, seal, verify, and the key never leaves."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signing.errors import KeyStoreError
from signing.keys.algorithms import KEY_TYPES
from signing.registry.seal_registry import SealRegistry
from signing.sealing import seal_document
from signing.verify.verifier import verify_document
from tests.signing.conftest import pinned_bundle

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN, PIN = "onewindow-test", "123456"

if not Path(MODULE).exists() and os.environ.get("CI") != "true":
    pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)", allow_module_level=True)

pkcs11 = pytest.importorskip("pkcs11") if os.environ.get("CI") != "true" else __import__("pkcs11")


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A fresh SoftHSM2 token in a temporary token directory."""
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n")
    util = shutil.which("softhsm2-util") or "/usr/bin/softhsm2-util"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(
            [util, "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", "654321"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield


@pytest.fixture
def hsm_registry(token: None, seal_registry: SealRegistry, monkeypatch: pytest.MonkeyPatch) -> Iterator[SealRegistry]:
    monkeypatch.setenv("ONEWINDOW_PKCS11_PIN", PIN)
    yield seal_registry
    seal_registry.close()  # end the token sessions, so the next test logs in afresh


def token_seal(registry: SealRegistry, office: tuple[str, str], kind: str, key_type: str) -> Any:
    """A seal of ``office`` whose key pair is made on the test token."""
    from signing.keys.pkcs11 import TokenRef

    return registry.issue(
        office=office[0], holder_name=office[1], kind=kind, token=TokenRef(MODULE, TOKEN, ""), key_type=key_type
    )


@pytest.mark.parametrize("key_type", ["es384", "es256"])
def test_seal_with_a_token_key_verifies_like_any_other(
    hsm_registry: SealRegistry, office: tuple[str, str], result_doc: dict, key_type: str
) -> None:
    from signing.keys.pkcs11 import Pkcs11Signer

    seal = token_seal(hsm_registry, office, "delegated_approval", key_type)
    assert seal.key["backend"] == "pkcs11" and seal.key["token"] == TOKEN
    assert seal.key["label"].endswith(seal.number)
    assert not (hsm_registry.directory / "seals" / seal.number / "key.pem").exists()
    assert seal.key_type is KEY_TYPES[key_type]
    signer = hsm_registry.signer_for(seal)
    assert isinstance(signer, Pkcs11Signer) and signer.algorithm == key_type.upper()
    data = b"signed on the token"
    assert seal.key_type.verify(signer.public_key(), signer.sign(data), data)
    doc = seal_document(result_doc, signer, seal, item="tax.payment-record", request_id="R-1")
    trust = pinned_bundle(hsm_registry)
    report = verify_document(doc, trust)
    assert report.passed, report.render()
    doc["total"] = 0
    assert not verify_document(doc, trust).passed


def test_token_key_is_sensitive_and_not_extractable(hsm_registry: SealRegistry, office: tuple[str, str]) -> None:
    from signing.keys.pkcs11 import TokenRef

    seal = hsm_registry.issue(
        office=office[0],
        holder_name=office[1],
        kind="service_centre",
        token=TokenRef(MODULE, TOKEN, ""),
    )
    lib = pkcs11.lib(MODULE)
    with lib.get_token(token_label=TOKEN).open(user_pin=PIN) as session:
        key = session.get_key(pkcs11.ObjectClass.PRIVATE_KEY, label=seal.key["label"])
        assert key[pkcs11.Attribute.SENSITIVE] and not key[pkcs11.Attribute.EXTRACTABLE]
        with pytest.raises(pkcs11.exceptions.PKCS11Error):
            key[pkcs11.Attribute.VALUE]


def test_wrong_pin_or_missing_pin_is_a_key_store_error(
    hsm_registry: SealRegistry, office: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from signing.keys.pkcs11 import TokenRef

    seal = hsm_registry.issue(
        office=office[0],
        holder_name=office[1],
        kind="service_centre",
        token=TokenRef(MODULE, TOKEN, ""),
    )
    fresh = SealRegistry.open(hsm_registry.directory)
    monkeypatch.setenv("ONEWINDOW_PKCS11_PIN", "000000")
    with pytest.raises(KeyStoreError, match="wrong PIN"):
        fresh.signer_for(seal.number)
    monkeypatch.delenv("ONEWINDOW_PKCS11_PIN")
    with pytest.raises(KeyStoreError, match="ONEWINDOW_PKCS11_PIN"):
        fresh.signer_for(seal.number)


@pytest.mark.parametrize("name", ["es384", "es256"])
def test_ec_params_are_the_der_oid_of_the_named_curve(name: str) -> None:
    """What goes into CKA_EC_PARAMS equals python-pkcs11's own encoding of the curve name."""
    from pkcs11.util.ec import encode_named_curve_parameters

    key_type = KEY_TYPES[name]
    assert key_type.ec_params_der == encode_named_curve_parameters(key_type.curve_name)


@pytest.mark.parametrize("key_type", ["es384", "es256"])
def test_a_printout_is_signed_on_the_token_with_the_seals_own_key(
    hsm_registry: SealRegistry, office: tuple[str, str], key_type: str
) -> None:
    """The PAdES signature of a printout goes through the same PKCS#11 signer as the JSON seal."""
    from signing.printout.verify_pdf import verify_printout
    from tests.printouts import PAYMENT_RECORD_CONTENT, printout, result_document

    seal = token_seal(hsm_registry, office, "service_centre", key_type)
    document = result_document("tax.payment-record", ("开具个人完税证明", "Tax payment record"), PAYMENT_RECORD_CONTENT)
    document["office"] = {"code": office[0], "name": office[1]}
    sealed = seal_document(document, hsm_registry.signer_for(seal), seal, item="tax.payment-record", request_id="R-1")
    result = verify_printout(printout(hsm_registry, sealed), pinned_bundle(hsm_registry))
    assert result.report.passed, result.report.render()
    assert result.report.seal_number == seal.number
