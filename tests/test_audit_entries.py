"""Audit entries: canonical bytes, no personal data, encrypted payloads, the [audit] settings."""

from __future__ import annotations

import hmac
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit.chain import EntryChain
from gateway.audit.entries import clean_fields, finish_entry, format_time, prepare_entry
from gateway.audit.payloads import PayloadCipher
from gateway.config import load_settings
from gateway.config.audit import parse_audit_settings
from gateway.errors import ConfigError, PayloadKeyError
from gateway.observability.events import PayloadDigests, digest
from gateway.observability.logs import sensitive
from signing.audit.entry import parse_entry
from signing.errors import EntryFormatError
from signing.jose.jcs import canonicalize

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.text(min_size=1, max_size=12),
    request_id=st.none() | st.text(min_size=1, max_size=12),
    fields=st.dictionaries(st.sampled_from(["attempt", "latency_ms", "outcome", "x_digest", "items"]), json_values),
    seq=st.integers(0, 2**53 - 1),
)
def test_an_entry_spliced_after_its_prefix_is_exactly_the_jcs_of_the_whole_entry(kind, request_id, fields, seq) -> None:
    prepared = prepare_entry(kind, {"request_id": request_id, **fields}, instance="host-1")
    time = "2025-05-01T08:30:00.123456Z"
    doc = {"fields": clean_fields(fields), "instance": "host-1", "kind": kind, "seq": seq, "time": time, "v": 1}
    if request_id:
        doc["request_id"] = request_id
    entry = finish_entry(prepared.prefix, seq, time)
    assert entry == canonicalize(doc)
    parsed = parse_entry(entry)
    assert (parsed.seq, parsed.kind, parsed.request_id, parsed.time) == (seq, kind, request_id or None, time)


def test_applicant_data_is_dropped_or_masked_and_gateway_identifiers_are_kept() -> None:
    hexdigest = "sha256:" + "a13812345678b" + "0" * 51  # contains what looks like a phone number
    with sensitive(["王秀英"]):
        fields = clean_fields(
            {
                "applicant": {"name": "张伟", "id_number": "370303199001011239"},
                "name": "张伟",
                "request_digest": hexdigest,
                "caller": "fangzhen-window",
                "reason": "申请人王秀英（370303198503120027，电话13912345678）资料不符",
                "problems": ["applicant.id_number:invalid"],
            }
        )
    text = json.dumps(fields, ensure_ascii=False)
    for personal in ("张伟", "王秀英", "370303199001011239", "370303198503120027", "13912345678"):
        assert personal not in text
    assert fields["request_digest"] == hexdigest and fields["caller"] == "fangzhen-window"
    assert "applicant" not in fields and "name" not in fields


def test_a_malformed_entry_is_refused() -> None:
    for bad in (b"[]", b"{}", b'{"fields":{},"instance":"i","kind":"k","seq":-1,"time":"t","v":1}', b"\xff"):
        with pytest.raises(EntryFormatError):
            parse_entry(bad)


def test_a_payload_round_trips_and_proves_what_was_sent() -> None:
    cipher = PayloadCipher(bytes(range(32)))
    digests = PayloadDigests(bytes(range(32, 64)))
    envelope = {"applicant": {"name": "张伟"}, "item": "tax.payment-record"}
    commitment, blob = cipher.seal("request.accepted", "R1", envelope, digest=digests(envelope, request_id="R1"))
    assert commitment["digest"].startswith("hmac-sha256:") and commitment["digest"] != digest(envelope)
    assert b"\xe5\xbc\xa0" not in blob  # 张 is not in the ciphertext
    assert json.loads(cipher.open("request.accepted", "R1", blob, commitment, digests)) == envelope
    with pytest.raises(PayloadKeyError, match="digest"):  # the digest is checked with the district secret
        cipher.open("request.accepted", "R1", blob, {**commitment, "digest": digests({}, request_id="R1")}, digests)
    with pytest.raises(PayloadKeyError):
        cipher.open("request.accepted", "R1", blob[:-1] + bytes([blob[-1] ^ 1]), commitment)
    with pytest.raises(PayloadKeyError):
        cipher.open("request.accepted", "R2", blob, commitment)  # bound to its event
    with pytest.raises(PayloadKeyError):
        PayloadCipher(bytes(32)).open("request.accepted", "R1", blob, commitment)


def test_a_payload_key_file_may_be_hex_base64_or_raw(tmp_path) -> None:
    key = bytes(range(32))
    for name, content in (
        ("hex", key.hex().encode()),
        ("b64", b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ("raw", key),
    ):
        (tmp_path / name).write_bytes(content)
        assert PayloadCipher.from_file(tmp_path / name).key_id == PayloadCipher(key).key_id
    (tmp_path / "short").write_bytes(b"abcd")
    with pytest.raises(PayloadKeyError):
        PayloadCipher.from_file(tmp_path / "short")


def test_audit_settings_are_checked_when_loaded(tmp_path) -> None:
    assert load_settings(environ={}).audit.enabled
    with pytest.raises(ValueError, match=r"audit\.checkpoint_every"):
        parse_audit_settings({"checkpoint_every": 0})
    with pytest.raises(ValueError, match="unknown"):
        parse_audit_settings({"checkpoint_evry": 5})
    config = tmp_path / "c.toml"
    config.write_text('[audit]\nlog_id = "has space"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"audit\.log_id"):
        load_settings(config, environ={})
    assert load_settings(environ={"ONEWINDOW_AUDIT__CHECKPOINT_EVERY": "50"}).audit.checkpoint_every == 50


def test_the_offline_audit_checkers_import_nothing_from_the_gateway() -> None:
    import subprocess
    import sys

    code = (
        "import sys, signing.audit.document_proof, signing.audit.bundle, signing.audit.log_verifier; "
        "sys.exit(any(m == 'gateway' or m.startswith('gateway.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_every_kind_of_entry_the_gateway_appends_is_in_the_audit_guide() -> None:
    from pathlib import Path

    from gateway.audit.reconcile import RECONCILED_KIND
    from gateway.audit.recovery import RECOVERED_KIND
    from signing.registry.acts import ACT_KINDS

    root = Path(__file__).parents[1]
    emitted = {
        kind
        for path in (root / "gateway").rglob("*.py")
        for kind in re.findall(r"emit\(\s*\"([a-z_.]+)\"", path.read_text(encoding="utf-8"))
    }
    outbox_acts = re.findall(r"_record\(\s*settings,\s*\"([a-z_]+)\"", (root / "gateway/cli/outbox.py").read_text())
    admin_acts = {
        f"admin.{kind}"
        for path in (root / "gateway" / "cli").rglob("*.py")
        for kind in re.findall(r"record_admin_act\(\s*settings,\s*\"([a-z_]+)\"", path.read_text(encoding="utf-8"))
    }
    key_acts_source = (root / "gateway/cli/callers.py").read_text()
    key_acts = re.findall(r"record_admin_act\(\s*settings,\s*\"([a-z_]+)\"", key_acts_source)
    assert len(key_acts) >= 2
    kinds = (
        emitted
        | {f"admin.{act}" for act in key_acts}
        | {f"admin.{act}" for act in ACT_KINDS}
        | {RECOVERED_KIND, RECONCILED_KIND}
        | {f"admin.{act}{end}" for act in outbox_acts for end in ("", "_not_applied")}
        | admin_acts
    )
    guide = (root / "docs" / "audit.md").read_text(encoding="utf-8")
    table = guide[guide.index("## What is logged") : guide.index("## The entry")]
    assert len(emitted) > 15 and len(outbox_acts) >= 2 and "admin.rating_follow_up_closed" in admin_acts
    assert not [kind for kind in sorted(kinds) if f"`{kind}`" not in table]


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    offset=st.none() | st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
)
def test_entry_times_are_written_as_strftime_wrote_them(moment, offset) -> None:
    """Formatted field by field for speed: the same text, in UTC, for any zone (and years before 1000)."""
    aware = moment.replace(tzinfo=UTC if offset is None else timezone(offset))
    assert format_time(aware) == aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@settings(max_examples=200, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    previous=st.binary(min_size=32, max_size=32),
    seq=st.integers(0, 2**63 - 1),
    leaf=st.binary(min_size=32, max_size=32),
)
def test_chain_values_are_hmac_sha256_of_the_documented_messages(key, previous, seq, leaf) -> None:
    """The chain precomputes the HMAC's padded-key hashes; the values stay those of docs/audit.md."""
    chain = EntryChain(key)
    eight = seq.to_bytes(8, "big")
    assert chain.link(previous, seq, leaf) == hmac.digest(
        key, b"onewindow-audit-chain/v1 link" + previous + eight + leaf, "sha256"
    )
    assert chain.anchor(seq, leaf) == hmac.digest(key, b"onewindow-audit-chain/v1 anchor" + eight + leaf, "sha256")


def test_parses_of_short_values_are_remembered_and_a_value_that_does_not_parse_never_is() -> None:
    """Item codes, offices and seal numbers recur on every request: that they parse is remembered, for short
    strings only, so what a caller sends cannot fill the memory; a value that does not parse (here a phone
    number) is masked every time and never kept in the process."""
    from gateway.audit import fields

    fields._parsed.clear()
    long_values = {"item": "tax." + "a" * 5000, "office": "3" * 5000, "seal_number": "370303-BM-" + "1" * 5000}
    for _ in range(2):
        clean_fields(long_values)
    assert not fields._parsed
    for _ in range(2):
        cleaned = clean_fields({"item": "tax.payment-record", "office": "13912345678", "seal_number": "370303-BM-0001"})
        assert cleaned["item"] == "tax.payment-record" and cleaned["seal_number"] == "370303-BM-0001"
        assert "13912345678" not in cleaned["office"]  # not an office code: masked as the phone number it looks like
    assert sorted(value for _, value in fields._parsed) == ["370303-BM-0001", "tax.payment-record"]
