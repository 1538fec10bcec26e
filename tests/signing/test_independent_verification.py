"""Our sealed documents verify with independent tools, following only docs/seals.md.

jwcrypto (JOSE) checks the detached compact JWS; the rfc8785 package makes the
payload; cryptography checks the chain to the root in the trust bundle. No
``signing`` code is used on the verifying side.  Both key types: the
verifier takes the algorithm from the certificate's curve (RFC 7518 3.4).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
import rfc8785
from cryptography import x509
from jwcrypto import jwk, jws

from signing.registry.seal_registry import SealRegistry
from signing.sealing import seal_document

#: RFC 7518 section 3.4: the curve fixes the JWS alg.
ALG_OF_CURVE = {"secp384r1": "ES384", "secp256r1": "ES256"}


@pytest.fixture(params=["es384", "es256"])
def key_type(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def third_party_verify(document: dict[str, Any], bundle: dict[str, Any]) -> dict[str, Any]:
    """The steps of docs/seals.md section 4, written against the format alone."""
    document = json.loads(json.dumps(document))
    block = document.pop("seal")
    assert block["format"] == "onewindow-seal/1"
    header_b64, middle, _ = block["jws"].split(".")
    assert middle == ""
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    assert header["typ"] == "onewindow-seal+jws"
    assert "crit" not in header and header["kid"] == block["number"]
    entry = next(s for s in bundle["seals"] if s["certificate"] == header["x5c"][0])
    assert header["x5c"][1] == bundle["root"]
    root = x509.load_der_x509_certificate(base64.b64decode(bundle["root"]))
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    cert.verify_directly_issued_by(root)
    alg = ALG_OF_CURVE[cert.public_key().curve.name]  # type: ignore[union-attr]
    assert header["alg"] == alg
    payload = rfc8785.dumps(document)
    digest = base64.urlsafe_b64encode(hashlib.sha256(payload).digest()).rstrip(b"=").decode()
    assert digest == header["ow_jcs_sha256"]
    token = jws.JWS()
    token.deserialize(block["jws"])
    token.verify(jwk.JWK.from_pyca(cert.public_key()), alg=alg, detached_payload=payload)
    return {"header": header, "entry": entry}


def test_jwcrypto_and_rfc8785_verify_our_seal(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict, key_type: str
) -> None:
    seal = seal_registry.seal_for(office[0], "delegated_approval", "property.title-reissue")
    assert seal is not None
    doc = seal_document(
        result_doc,
        seal_registry.signer_for(seal),
        seal,
        item="property.title-reissue",
        request_id="R-77",
    )
    bundle = seal_registry.export_trust_bundle()
    seen = third_party_verify(doc, bundle)
    assert seen["header"]["alg"] == key_type.upper()
    assert seen["entry"]["number"] == seal.number and seen["entry"]["status"] == "active"
    assert seen["header"]["ow_item"] == "property.title-reissue"


def test_jwcrypto_rejects_what_we_call_hash_failure(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", "tax.payment-record")
    assert seal is not None
    sealed = seal_document(
        result_doc,
        seal_registry.signer_for(seal),
        seal,
        item="tax.payment-record",
        request_id="R-1",
    )
    tampered_payload = rfc8785.dumps({**result_doc, "total": 0})
    token = jws.JWS()
    token.deserialize(sealed["seal"]["jws"])
    key = jwk.JWK.from_pyca(seal.certificate.public_key())
    alg = seal.key_type.alg
    with pytest.raises(jws.InvalidJWSSignature):
        token.verify(key, alg=alg, detached_payload=tampered_payload)
    token.verify(key, alg=alg, detached_payload=rfc8785.dumps(result_doc))


def test_trust_bundle_signature_verifies_with_jwcrypto(seal_registry: SealRegistry) -> None:
    bundle = seal_registry.export_trust_bundle()
    body = {k: v for k, v in bundle.items() if k != "signature"}
    root = x509.load_der_x509_certificate(base64.b64decode(bundle["root"]))
    assert hashlib.sha256(base64.b64decode(bundle["root"])).hexdigest() == bundle["root_sha256"]
    token = jws.JWS()
    token.deserialize(bundle["signature"])
    alg = ALG_OF_CURVE[root.public_key().curve.name]  # type: ignore[union-attr]
    token.verify(jwk.JWK.from_pyca(root.public_key()), alg=alg, detached_payload=rfc8785.dumps(body))
    crl = x509.load_der_x509_crl(base64.b64decode(bundle["crl"]))
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]


def test_jwcrypto_refuses_our_seal_under_the_other_alg(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict, key_type: str
) -> None:
    """An independent JOSE stack agrees: the key's curve admits one alg only."""
    seal = seal_registry.seal_for(office[0], "service_centre", "tax.payment-record")
    assert seal is not None
    doc = seal_document(result_doc, seal_registry.signer_for(seal), seal, item="tax.payment-record", request_id="R")
    token = jws.JWS()
    token.deserialize(doc["seal"]["jws"])
    other = "ES256" if key_type == "es384" else "ES384"
    with pytest.raises(jws.InvalidJWSSignature):
        token.verify(
            jwk.JWK.from_pyca(seal.certificate.public_key()),
            alg=other,
            detached_payload=rfc8785.dumps(result_doc),
        )
