"""seal_document: the output format, and the checks that refuse a wrong seal early.

Every test runs for both key types (ES384, the default, and ES256).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509

from signing.audit.entry import document_digest
from signing.errors import CanonicalizationError, SealingError
from signing.jose.jcs import canonicalize
from signing.jose.jws import b64url, b64url_decode, signing_input
from signing.keys.algorithms import KEY_TYPES
from signing.keys.signers import FileSigner, generate_private_key
from signing.registry.seal_registry import SealRegistry
from signing.sealing import protected_header, seal_and_digest, seal_document

ITEM = "tax.payment-record"


@pytest.fixture(params=["es384", "es256"])
def key_type(request: pytest.FixtureRequest) -> str:
    """Both key types for every test of this module that uses a district."""
    return str(request.param)


def header_of(doc: dict[str, Any]) -> dict[str, Any]:
    return json.loads(b64url_decode(doc["seal"]["jws"].split(".")[0]))


def test_sealed_document_keeps_the_content_and_adds_a_detached_compact_jws(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict, key_type: str
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    doc = seal_document(result_doc, seal_registry.signer_for(seal), seal, item=ITEM, request_id="01J9Z8Q4C8")
    assert {k: v for k, v in doc.items() if k != "seal"} == result_doc
    assert "seal" not in result_doc
    block = doc["seal"]
    assert set(block) == {"format", "number", "jws"}
    assert block["format"] == "onewindow-seal/1" and block["number"] == seal.number
    _, payload, signature = block["jws"].split(".")
    expected = KEY_TYPES[key_type]
    assert seal.key_type is expected
    assert payload == "" and len(b64url_decode(signature)) == expected.signature_size
    header = header_of(doc)
    assert header["alg"] == expected.alg and header["typ"] == "onewindow-seal+jws"
    assert header["kid"] == seal.number and header["ow_kind"] == "service_centre"
    assert header["ow_item"] == ITEM and header["ow_request_id"] == "01J9Z8Q4C8"
    assert header["ow_jcs_sha256"] == b64url(hashlib.sha256(canonicalize(result_doc)).digest())
    chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in header["x5c"]]
    assert chain[0] == seal.certificate and chain[1] == seal_registry.root_certificate
    assert header["x5t#S256"] == b64url(hashlib.sha256(seal.certificate_der).digest())
    assert header["sigT"].endswith("Z")


def test_the_digest_handed_back_with_a_seal_is_the_one_it_signed_and_the_audit_log_names(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict, key_type: str
) -> None:
    """The gateway records ``document_digest`` from here: it must be what the header commits to."""
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    moment = datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC)
    signer = seal_registry.signer_for(seal)
    both = seal_and_digest(result_doc, signer, seal, item=ITEM, request_id="R", signed_at=moment)
    assert both.digest == document_digest(both.document) == document_digest(result_doc)
    assert b64url(both.jcs_sha256) == header_of(both.document)["ow_jcs_sha256"]
    alone = seal_document(result_doc, signer, seal, item=ITEM, request_id="R", signed_at=moment)
    assert header_of(alone) == header_of(both.document)


def test_audit_proof_rides_in_the_seal_block_unsigned(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    proof = {"leaf_index": 0, "tree_size": 1, "hashes": []}
    doc = seal_document(
        result_doc,
        seal_registry.signer_for(seal),
        seal,
        item=ITEM,
        request_id="R",
        audit_proof=proof,
    )
    assert doc["seal"]["audit_proof"] == proof


def test_sealing_refuses_a_seal_that_may_not_be_used(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    signer = seal_registry.signer_for(seal)
    with pytest.raises(SealingError, match="cannot seal"):
        seal_document(
            result_doc,
            signer,
            seal,
            item=ITEM,
            request_id="R",
            signed_at=seal.not_before - timedelta(seconds=1),
        )
    with pytest.raises(SealingError, match="does not hold the key"):
        seal_document(result_doc, FileSigner(generate_private_key()), seal, item=ITEM, request_id="R")
    with pytest.raises(SealingError, match="already carries"):
        seal_document({**result_doc, "seal": {}}, signer, seal, item=ITEM, request_id="R")
    with pytest.raises(SealingError, match="non-empty"):
        seal_document(result_doc, signer, seal, item=ITEM, request_id="")
    with pytest.raises(CanonicalizationError):
        seal_document({**result_doc, "when": datetime.now(UTC)}, signer, seal, item=ITEM, request_id="R")
    suspended = seal_registry.suspend(seal.number, "audit")
    with pytest.raises(SealingError, match="suspended"):
        seal_document(result_doc, signer, suspended, item=ITEM, request_id="R")


def test_signature_is_ecdsa_with_the_key_types_hash_over_the_whole_signing_input(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict, key_type: str
) -> None:
    """The resumed hash of the static header gives the plain JWS signature, nothing else."""
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    signed_at = datetime.now(UTC).replace(microsecond=0)
    doc = seal_document(
        result_doc,
        seal_registry.signer_for(seal),
        seal,
        item=ITEM,
        request_id="R-9",
        signed_at=signed_at,
    )
    header_b64, _, signature_b64 = doc["seal"]["jws"].split(".")
    payload = canonicalize(result_doc)
    header = protected_header(seal, item=ITEM, request_id="R-9", signed_at=signed_at, payload=payload)
    assert b64url(header) == header_b64  # the header we describe is the one signed
    data = signing_input(header_b64, payload)
    public = seal.certificate.public_key()
    kt = KEY_TYPES[key_type]
    assert kt.verify(public, b64url_decode(signature_b64), data)  # type: ignore[arg-type]
    assert not kt.verify(public, b64url_decode(signature_b64), data + b" ")  # type: ignore[arg-type]


def test_static_header_part_is_padded_so_its_base64url_prefixes_every_header(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    signer = seal_registry.signer_for(seal)
    headers = [
        b64url_decode(
            seal_document({**result_doc, "n": n}, signer, seal, item=ITEM, request_id=rid)["seal"]["jws"].split(".")[0]
        )
        for n, rid in ((1, "R"), (22, "R-22"), (333, "请求-333"))
    ]
    static = headers[0][: headers[0].index(b',"sigT":')]
    assert len(static) % 3 == 0
    assert json.loads(static + b"}")["x5c"][0] == base64.b64encode(seal.certificate_der).decode()
    texts = [b64url(h) for h in headers]
    assert all(h.startswith(static) for h in headers)
    assert all(t.startswith(b64url(static)) for t in texts)


def test_a_signer_without_sign_digest_seals_the_same_valid_way(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict, key_type: str
) -> None:
    """Third-party signers need only ``sign(data)``; sealing falls back to hashing it all."""
    seal = seal_registry.seal_for(office[0], "delegated_approval", "property.x")
    assert seal is not None
    inner = seal_registry.signer_for(seal)

    class PlainSigner:
        algorithm = inner.algorithm

        def __init__(self) -> None:
            self.calls: list[int] = []

        def sign(self, data: bytes) -> bytes:
            self.calls.append(len(data))
            return inner.sign(data)

        def public_key(self) -> Any:
            return inner.public_key()

    plain = PlainSigner()
    doc = seal_document(result_doc, plain, seal, item="property.x", request_id="R-1")
    header_b64, _, signature_b64 = doc["seal"]["jws"].split(".")
    data = signing_input(header_b64, canonicalize(result_doc))
    assert plain.calls == [len(data)]
    kt = KEY_TYPES[key_type]
    assert kt.verify(seal.certificate.public_key(), b64url_decode(signature_b64), data)  # type: ignore[arg-type]
