"""A member name twice is refused wherever a verifier reads JSON: two readers must see one document.

``{"amount": "99999.00", "amount": "855.03"}`` is 855.03 to Python (the
last wins) and 99999.00 to a person reading the file.  Sealed results,
request resources, JWS headers, trust bundles, the registry file and audit
proof files are all read as I-JSON (RFC 7493); a sealed document that
breaks it is TOTAL_FAILED / FORMAT_FAILURE naming the member.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signing.cli.main import main
from signing.errors import NotJsonError, RegistryError, TrustBundleError
from signing.jose.jws import b64url, b64url_decode
from signing.registry.seal_registry import SealRegistry
from signing.sealing import seal_document
from signing.verify.reading import verify_text
from signing.verify.trust import TrustBundle, load_trust_bundle

ITEM = "tax.payment-record"


@pytest.fixture
def document(seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict[str, Any]) -> dict[str, Any]:
    seal = seal_registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    result = {**result_doc, "records": [{**r, "amount": "855.03"} for r in result_doc["records"][:1]]}
    return seal_document(result, seal_registry.signer_for(seal), seal, item=ITEM, request_id="R-1")


def _twice(text: str, member: str, first_value: str) -> str:
    """``text`` with ``"member": <first_value>`` put before the member's own (first) occurrence."""
    needle = f'"{member}": '
    at = text.index(needle)
    return text[:at] + f"{needle}{first_value}, " + text[at:]


def test_a_sealed_result_with_an_amount_written_twice_is_format_failure_naming_it(
    document: dict[str, Any], trust: TrustBundle
) -> None:
    text = json.dumps(document, ensure_ascii=False)
    assert verify_text(text, trust).report.passed  # the untouched text passes
    edited = _twice(text, "amount", '"99999.00"')
    assert json.loads(edited)["records"][0]["amount"] == "855.03"  # what a lenient parser would judge
    verified = verify_text(edited, trust)
    report = verified.report
    assert (report.indication.value, report.sub_indication and report.sub_indication.value) == (
        "TOTAL_FAILED",
        "FORMAT_FAILURE",
    )
    assert "duplicate member name 'amount'" in report.checks[0].detail and verified.document is None
    assert report.root_fingerprint == trust.root_fingerprint and "Root SHA-256" in report.render()


@pytest.mark.parametrize(
    ("member", "value"),
    [("number", '"370303-BM-0099"'), ("jws", '"x..y"'), ("seal", "{}"), ("item", '"tax.credit-grade"')],
)
def test_a_member_twice_anywhere_in_a_sealed_document_is_format_failure(
    document: dict[str, Any], trust: TrustBundle, member: str, value: str
) -> None:
    report = verify_text(_twice(json.dumps(document), member, value), trust).report
    assert report.sub_indication is not None and report.sub_indication.value == "FORMAT_FAILURE"
    assert f"duplicate member name '{member}'" in report.checks[0].detail


def test_a_protected_header_naming_a_member_twice_is_format_failure(
    document: dict[str, Any], trust: TrustBundle
) -> None:
    header_b64, _, signature = document["seal"]["jws"].split(".")
    header = b64url_decode(header_b64)
    doubled = header.replace(b'{"alg":"ES384",', b'{"alg":"ES256","alg":"ES384",', 1)
    assert doubled != header
    document["seal"]["jws"] = f"{b64url(doubled)}..{signature}"
    report = verify_text(json.dumps(document), trust).report
    assert report.sub_indication is not None and report.sub_indication.value == "FORMAT_FAILURE"
    assert "duplicate member name 'alg'" in report.checks[0].detail


def test_other_text_that_is_not_i_json_is_format_failure_and_text_that_is_not_json_is_bad_input(
    document: dict[str, Any], trust: TrustBundle
) -> None:
    surrogate = json.dumps({**document, "remarks": "x"}).replace('"remarks": "x"', '"remarks": "\\ud800"')
    assert "lone surrogate" in verify_text(surrogate, trust).report.checks[0].detail
    assert "nested more than 64" in verify_text("[" * 65 + "]" * 65, trust).report.checks[0].detail
    with pytest.raises(NotJsonError):
        verify_text('{"seal": ', trust)


def test_a_trust_bundle_or_registry_file_naming_a_member_twice_is_refused(
    seal_registry: SealRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "bundle.json"
    text = json.dumps(seal_registry.export_trust_bundle(), ensure_ascii=False)
    path.write_text(_twice(text, "root_sha256", '"' + "0" * 64 + '"'), encoding="utf-8")
    with pytest.raises(TrustBundleError, match="duplicate member name 'root_sha256'"):
        load_trust_bundle(path)
    registry_file = seal_registry.directory / "registry.json"
    registry_file.write_text(_twice(registry_file.read_text(encoding="utf-8"), "format", '"x"'), encoding="utf-8")
    with pytest.raises(RegistryError, match="duplicate member name 'format'"):
        SealRegistry.open(seal_registry.directory)


def test_onewindow_verify_says_format_failure_for_a_duplicate_and_refuses_such_a_bundle(
    document: dict[str, Any],
    seal_registry: SealRegistry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trust_store: Path,
) -> None:
    bundle = tmp_path / "bundle.json"
    root = seal_registry.export_trust_bundle(bundle)["root_sha256"]
    doc = tmp_path / "doc.json"
    doc.write_text(_twice(json.dumps(document, ensure_ascii=False), "amount", '"99999.00"'), encoding="utf-8")
    code = main(["verify", str(doc), "--trust", str(bundle), "--root-fingerprint", root, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["sub_indication"] == "FORMAT_FAILURE" and report["root_sha256"] == root
    assert "duplicate member name 'amount'" in report["checks"][0]["detail"]
    bundle.write_text(_twice(bundle.read_text(encoding="utf-8"), "issued_at", '"2000-01-01T00:00:00Z"'))
    code = main(["verify", str(doc), "--trust", str(bundle), "--root-fingerprint", root])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "duplicate member name 'issued_at'" in err and err.count("\n") == 1


def test_a_request_resource_is_verified_by_its_result_in_the_library_and_the_cli(
    document: dict[str, Any],
    seal_registry: SealRegistry,
    trust: TrustBundle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trust_store: Path,
) -> None:
    rid = document["request_id"]
    resource = {"id": rid, "status": "completed", "item": ITEM, "result": document}
    verified = verify_text(json.dumps(resource), trust)
    assert verified.report.passed and verified.document == document
    assert f"request resource {rid}" in verified.report.notes[0]
    other = verify_text(json.dumps({**resource, "id": "R-2"}), trust).report
    assert other.sub_indication is not None and other.sub_indication.value == "FORMAT_FAILURE"
    assert "is not the request_id" in other.checks[0].detail
    bundle = tmp_path / "bundle.json"
    root = seal_registry.export_trust_bundle(bundle)["root_sha256"]
    (tmp_path / "resource.json").write_text(json.dumps(resource, ensure_ascii=False), encoding="utf-8")
    assert main(["verify", str(tmp_path / "resource.json"), "--trust", str(bundle), "--root-fingerprint", root]) == 0
    assert f"request resource {rid}" in capsys.readouterr().out


def test_an_audit_entry_read_back_with_a_member_twice_is_malformed_naming_it() -> None:
    from signing.audit.entry import parse_entry
    from signing.errors import EntryFormatError

    entry = b'{"v":1,"seq":7,"time":"2024-05-01T08:30:00Z","kind":"result.sealed","instance":"gw","fields":{}}'
    assert parse_entry(entry).seq == 7
    with pytest.raises(EntryFormatError, match="duplicate member name 'seq'"):
        parse_entry(entry.replace(b'"seq":7,', b'"seq":8,"seq":7,'))
