"""Signed checkpoints and proof files, with real Ed25519 and P-256 keys."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.audit.checkpoint import (
    AuditPrivateKey,
    AuditPublicKey,
    Checkpoint,
    Problem,
    SignedCheckpoint,
    key_id,
    load_public_key,
    parse_checkpoint,
    public_key_pem,
    sign_checkpoint,
    timestamp_ms,
    verify_checkpoint,
)
from signing.audit.merkle import InMemoryTree, leaf_hash
from signing.audit.proof_files import (
    build_consistency_proof_file,
    build_inclusion_proof_file,
    check_consistency_proof_file,
    check_inclusion_proof_file,
    check_proof_file,
)
from signing.errors import CheckpointFormatError

LOG = "onewindow-audit/370303"
ROOT8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
T0 = 1_700_000_000_000
ENTRIES = [f'{{"seq":{i},"event":"accepted"}}'.encode() for i in range(50)]
TREE = InMemoryTree(leaf_hash(e) for e in ENTRIES)

KEYS: dict[str, AuditPrivateKey] = {
    "ed25519": Ed25519PrivateKey.generate(),
    "p256": ec.generate_private_key(ec.SECP256R1()),
}
OTHER_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(params=sorted(KEYS))
def key(request: pytest.FixtureRequest) -> AuditPrivateKey:
    return KEYS[request.param]


def checkpoint_at(size: int, log: str = LOG, tree: InMemoryTree = TREE) -> Checkpoint:
    return Checkpoint(log, size, tree.root(size), T0 + size, previous_size=None)


def signed_at(size: int, key: AuditPrivateKey, **kw: object) -> SignedCheckpoint:
    return sign_checkpoint(checkpoint_at(size, **kw), key)  # type: ignore[arg-type]


def roundtrip(doc: dict) -> dict:
    return json.loads(json.dumps(doc))


# --- the signed text ----------------------------------------------------------


def test_checkpoint_text_is_the_documented_note() -> None:
    cp = Checkpoint(LOG, 8, ROOT8, T0, previous_size=4)
    assert cp.encode() == (
        b"onewindow-audit/370303\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
        b"timestamp 1700000000000\nprevious 4\n"
    )
    assert replace(cp, previous_size=None).encode().endswith(b"timestamp 1700000000000\n")
    assert cp.issued_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


checkpoints = st.builds(
    Checkpoint,
    log_id=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    tree_size=st.integers(0, 2**63 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    timestamp_ms=st.integers(0, 253_402_300_799_999),
).flatmap(lambda cp: st.sampled_from([None, 0, cp.tree_size]).map(lambda prev: replace(cp, previous_size=prev)))


@settings(max_examples=100, deadline=None)
@given(checkpoints)
def test_checkpoint_text_round_trips(cp: Checkpoint) -> None:
    assert parse_checkpoint(cp.encode()) == cp
    assert timestamp_ms(cp.issued_at) == cp.timestamp_ms


@pytest.mark.parametrize(
    "body",
    [
        b"onewindow-audit/370303\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntimestamp 1\n\n",
        b"onewindow-audit/370303\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntimestamp 1",
        b"onewindow-audit/370303\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntimestamp 1\n",
        b"onewindow-audit/370303\n+8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntimestamp 1\n",
        b"onewindow-audit/370303\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\ntimestamp 1\n",
        b"onewindow-audit/370303\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQy\ntimestamp 1\n",
        b"onewindow-audit/370303\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntime 1\n",
        b"onewindow-audit/370303\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n1\n",
        b"onewindow-audit/370303\r\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntimestamp 1\n",
        b"onewindow-audit/370303\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntimestamp 1\nprevious 9\n",
        b"onewindow-audit/370303\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntimestamp 1\nextra 9\n",
        "onewindow-审计\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntimestamp 1\n".encode(),
    ],
)
def test_only_the_canonical_checkpoint_text_parses(body: bytes) -> None:
    with pytest.raises(CheckpointFormatError):
        parse_checkpoint(body)


@pytest.mark.parametrize(
    "fields",
    [
        {"log_id": "two words"},
        {"log_id": ""},
        {"root_hash": b"\x00" * 31},
        {"tree_size": -1},
        {"tree_size": 2**63},
        {"previous_size": 9},
        {"timestamp_ms": -5},
        {"timestamp_ms": 253_402_300_800_000},
    ],
)
def test_checkpoint_refuses_values_it_could_not_encode(fields: dict) -> None:
    with pytest.raises(CheckpointFormatError):
        replace(Checkpoint(LOG, 8, ROOT8, T0), **fields)


def test_timestamp_is_utc_milliseconds() -> None:
    assert timestamp_ms(datetime(2023, 11, 14, 22, 13, 20, 5000, tzinfo=UTC)) == T0 + 5
    assert timestamp_ms(datetime(2023, 11, 14, 22, 13, 20, 4999, tzinfo=UTC)) == T0 + 4
    with pytest.raises(ValueError):
        timestamp_ms(datetime(2023, 11, 14))


# --- signing and verifying ----------------------------------------------------


def test_signed_checkpoint_verifies_and_round_trips_through_json(key: AuditPrivateKey) -> None:
    signed = signed_at(8, key)
    again = SignedCheckpoint.from_dict(roundtrip(signed.to_dict()))
    assert again == signed
    verdict = verify_checkpoint(again, key.public_key(), log_id=LOG)
    assert verdict.ok and verdict and verdict.problem is None
    assert verdict.checkpoint == checkpoint_at(8)


def test_signature_is_checkable_without_our_code() -> None:
    ed, p256 = KEYS["ed25519"], KEYS["p256"]
    signed = signed_at(8, ed).to_dict()
    body = signed["checkpoint"].encode()
    ed.public_key().verify(base64.b64decode(signed["signature"]), body)
    signed = signed_at(8, p256).to_dict()
    raw = base64.b64decode(signed["signature"])
    assert signed["algorithm"] == "ES256" and len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    p256.public_key().verify(der, signed["checkpoint"].encode(), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 9},
        {"root_hash": bytes(32)},
        {"timestamp_ms": T0},
        {"previous_size": 8},
        {"log_id": "onewindow-audit/370304"},
    ],
)
def test_any_change_to_a_signed_checkpoint_breaks_the_signature(key: AuditPrivateKey, change: dict) -> None:
    signed = signed_at(8, key)
    forged = replace(signed, checkpoint=replace(signed.checkpoint, **change))
    verdict = verify_checkpoint(forged, key.public_key())
    assert not verdict and verdict.problem is Problem.BAD_SIGNATURE


def test_flipped_signature_bit_is_a_bad_signature(key: AuditPrivateKey) -> None:
    signed = signed_at(8, key)
    sig = bytearray(signed.signature)
    sig[10] ^= 1
    verdict = verify_checkpoint(replace(signed, signature=bytes(sig)), key.public_key())
    assert verdict.problem is Problem.BAD_SIGNATURE
    short = verify_checkpoint(replace(signed, signature=signed.signature[:63]), key.public_key())
    assert short.problem is Problem.BAD_SIGNATURE


def test_checkpoint_from_another_key_or_log_is_refused(key: AuditPrivateKey) -> None:
    signed = signed_at(8, key)
    assert verify_checkpoint(signed, OTHER_KEY.public_key()).problem is Problem.KEY_MISMATCH
    wrong_log = verify_checkpoint(signed, key.public_key(), log_id="onewindow-audit/370304")
    assert wrong_log.problem is Problem.WRONG_LOG and "370304" in wrong_log.reason


def test_unsupported_keys_neither_sign_nor_verify() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError):
        sign_checkpoint(checkpoint_at(8), p384)  # type: ignore[arg-type]
    signed = signed_at(8, KEYS["p256"])
    verdict = verify_checkpoint(signed, p384.public_key())  # type: ignore[arg-type]
    assert verdict.problem is Problem.UNSUPPORTED_KEY
    with pytest.raises(ValueError):
        load_public_key(public_key_pem(p384.public_key()))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        load_public_key("not a key")


class TokenSigner:
    """Signs like a PKCS#11 token: only sign() and public_key() are exposed."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey, *, der: bool = False) -> None:
        self._key, self._der = private_key, der

    def public_key(self) -> AuditPublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        der = self._key.sign(hashlib.sha256(data).digest(), ec.ECDSA(Prehashed(hashes.SHA256())))
        if self._der:  # a misconfigured token returning DER instead of r || s
            return der
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_an_external_signer_can_sign_and_a_broken_one_is_caught() -> None:
    token_key = ec.generate_private_key(ec.SECP256R1())
    signed = sign_checkpoint(checkpoint_at(8), TokenSigner(token_key))
    assert verify_checkpoint(signed, token_key.public_key()).ok
    with pytest.raises(ValueError, match="does not verify"):
        sign_checkpoint(checkpoint_at(8), TokenSigner(token_key, der=True))


def test_key_id_names_the_public_key(key: AuditPrivateKey) -> None:
    pem = public_key_pem(key.public_key())
    assert key_id(load_public_key(pem)) == key_id(key.public_key()) == signed_at(1, key).key_id
    assert key_id(OTHER_KEY.public_key()) != key_id(key.public_key())


@pytest.mark.parametrize(
    "change",
    [
        {"format": "onewindow-checkpoint/v2"},
        {"algorithm": "RS256"},
        {"key_id": "ABC"},
        {"signature": "***"},
        {"checkpoint": 8},
        {"checkpoint": "x\n"},
    ],
)
def test_malformed_signed_checkpoint_json_is_refused(change: dict) -> None:
    doc = signed_at(8, KEYS["ed25519"]).to_dict() | change
    with pytest.raises(CheckpointFormatError):
        SignedCheckpoint.from_dict(doc)


# --- inclusion proof files ----------------------------------------------------


def inclusion_doc(key: AuditPrivateKey, index: int = 17, size: int = 42, **kw: object) -> dict:
    kw.setdefault("entry", ENTRIES[index])
    return roundtrip(build_inclusion_proof_file(signed_at(size, key), index, TREE.inclusion_proof(index, size), **kw))  # type: ignore[arg-type]


def test_inclusion_proof_file_of_an_entry_checks_out(key: AuditPrivateKey) -> None:
    result = check_inclusion_proof_file(inclusion_doc(key), key.public_key())
    assert result.ok and result.kind == "inclusion" and result.checkpoint == checkpoint_at(42)
    assert "entry 17" in result.reason
    assert check_proof_file(inclusion_doc(key), key.public_key()).ok


def test_inclusion_proof_file_may_carry_only_the_leaf_hash_or_both(key: AuditPrivateKey) -> None:
    only_hash = inclusion_doc(key, entry=None, leaf_hash=leaf_hash(ENTRIES[17]))
    assert "entry" not in only_hash
    assert check_inclusion_proof_file(only_hash, key.public_key()).ok
    both = inclusion_doc(key, leaf_hash=leaf_hash(ENTRIES[17]), public_key=key.public_key())
    assert check_inclusion_proof_file(both, key.public_key()).ok
    with pytest.raises(ValueError):
        build_inclusion_proof_file(signed_at(42, key), 17, [], entry=None)


def tamper(doc: dict, path: list, value: object) -> dict:
    doc = copy.deepcopy(doc)
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (["entry"], b64(ENTRIES[18]), Problem.LEAF_MISMATCH),
        (["leaf_index"], 16, Problem.WRONG_ROOT),
        (["leaf_index"], 42, Problem.BAD_PROOF),
        (["proof", 0], "00" * 32, Problem.WRONG_ROOT),
        (["leaf_hash"], leaf_hash(ENTRIES[18]).hex(), Problem.LEAF_MISMATCH),
        (["tree_size"], 41, Problem.BAD_PROOF),
        (["checkpoint", "signature"], b64(bytes(64)), Problem.BAD_SIGNATURE),
        (["checkpoint", "checkpoint"], checkpoint_at(43).encode().decode(), Problem.BAD_SIGNATURE),
        (["public_key"], public_key_pem(OTHER_KEY.public_key()), Problem.KEY_MISMATCH),
        (
            ["public_key"],
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            Problem.MALFORMED,
        ),
        (["format"], "onewindow-inclusion-proof/v9", Problem.MALFORMED),
        (["proof"], "ab" * 32, Problem.MALFORMED),
        (["proof", 0], "ab", Problem.MALFORMED),
        (["leaf_index"], -1, Problem.MALFORMED),
        (["leaf_index"], True, Problem.MALFORMED),
        (["entry"], "not base64!", Problem.MALFORMED),
        (["checkpoint"], None, Problem.MALFORMED),
    ],
)
def test_tampered_inclusion_proof_file_fails_with_its_reason(
    key: AuditPrivateKey, path: list, value: object, problem: Problem
) -> None:
    doc = inclusion_doc(key, leaf_hash=leaf_hash(ENTRIES[17]), public_key=key.public_key())
    assert check_inclusion_proof_file(doc, key.public_key()).ok
    result = check_inclusion_proof_file(tamper(doc, path, value), key.public_key())
    assert not result and result.problem is problem, result.reason


def test_inclusion_proof_file_with_a_changed_entry_fails(key: AuditPrivateKey) -> None:
    doc = inclusion_doc(key)
    doc["entry"] = b64(ENTRIES[17] + b" ")
    result = check_inclusion_proof_file(doc, key.public_key())
    assert result.problem is Problem.WRONG_ROOT


def test_inclusion_proof_file_needs_the_entry_or_its_hash() -> None:
    doc = inclusion_doc(KEYS["ed25519"])
    del doc["entry"]
    result = check_inclusion_proof_file(doc, KEYS["ed25519"].public_key())
    assert result.problem is Problem.MALFORMED


def test_inclusion_proof_file_against_the_wrong_key_is_refused(key: AuditPrivateKey) -> None:
    result = check_inclusion_proof_file(inclusion_doc(key), OTHER_KEY.public_key())
    assert result.problem is Problem.KEY_MISMATCH


def test_unknown_documents_are_malformed() -> None:
    for doc in ({}, [], "x", {"format": "something-else"}):
        assert check_proof_file(doc, OTHER_KEY.public_key()).problem is Problem.MALFORMED


# --- consistency proof files --------------------------------------------------


def consistency_doc(key: AuditPrivateKey, old: int = 20, new: int = 50, **kw: object) -> dict:
    return roundtrip(
        build_consistency_proof_file(signed_at(old, key), signed_at(new, key), TREE.consistency_proof(old, new), **kw)
    )  # type: ignore[arg-type]


def test_consistency_proof_file_checks_out(key: AuditPrivateKey) -> None:
    for old, new in [(20, 50), (32, 50), (0, 50), (50, 50), (1, 2)]:
        result = check_consistency_proof_file(consistency_doc(key, old, new), key.public_key())
        assert result.ok, (old, new, result.reason)
        assert result.old_checkpoint == checkpoint_at(old)
        assert result.checkpoint == checkpoint_at(new)
    assert check_proof_file(consistency_doc(key), key.public_key()).ok


def test_consistency_proof_file_of_a_rewritten_log_is_inconsistent(key: AuditPrivateKey) -> None:
    rewritten = InMemoryTree(leaf_hash(e) for e in ENTRIES[:30])
    rewritten.append(leaf_hash(b"a deleted entry was replaced"))
    for e in ENTRIES[31:]:
        rewritten.append(leaf_hash(e))
    new = sign_checkpoint(checkpoint_at(50, tree=rewritten), key)
    doc = build_consistency_proof_file(signed_at(40, key), new, rewritten.consistency_proof(40, 50))
    result = check_consistency_proof_file(doc, key.public_key())
    assert result.problem is Problem.INCONSISTENT and "old root" in result.reason


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (["proof", 1], "00" * 32, Problem.INCONSISTENT),
        (["proof"], [], Problem.INCONSISTENT),
        (["new_checkpoint", "signature"], b64(bytes(64)), Problem.BAD_SIGNATURE),
        (["old_checkpoint", "signature"], b64(bytes(64)), Problem.BAD_SIGNATURE),
        (["public_key"], public_key_pem(OTHER_KEY.public_key()), Problem.KEY_MISMATCH),
        (["old_checkpoint"], {}, Problem.MALFORMED),
        (["proof"], None, Problem.MALFORMED),
    ],
)
def test_tampered_consistency_proof_file_fails_with_its_reason(
    key: AuditPrivateKey, path: list, value: object, problem: Problem
) -> None:
    doc = consistency_doc(key, public_key=key.public_key())
    result = check_consistency_proof_file(tamper(doc, path, value), key.public_key())
    assert not result and result.problem is problem, result.reason


def test_bad_signature_names_which_checkpoint(key: AuditPrivateKey) -> None:
    doc = tamper(consistency_doc(key), ["new_checkpoint", "signature"], b64(bytes(64)))
    assert check_consistency_proof_file(doc, key.public_key()).reason.startswith("new ")


def test_checkpoints_in_the_wrong_order_or_of_other_logs_are_refused(
    key: AuditPrivateKey,
) -> None:
    swapped = build_consistency_proof_file(signed_at(50, key), signed_at(20, key), [])
    assert check_consistency_proof_file(swapped, key.public_key()).problem is Problem.MALFORMED
    other_log = build_consistency_proof_file(
        signed_at(20, key),
        signed_at(50, key, log="onewindow-audit/370304"),
        TREE.consistency_proof(20, 50),
    )
    result = check_consistency_proof_file(other_log, key.public_key())
    assert result.problem is Problem.WRONG_LOG
