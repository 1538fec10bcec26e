"""Verifying a printout: its PAdES signature, the sealed JSON inside, what the pages show, and ways to break them.

Each tampering is done the way someone would: bytes changed in the file,
an incremental update that swaps the attachment, a printout whose pages
say something other than its JSON (made by whoever holds the seal key), a
foreign district, a revocation, a time-stamp that saves a document from a
later key compromise.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from signing.printout import render as render_module
from signing.printout.layout import Sheet
from signing.printout.verify_pdf import verify_printout
from signing.registry.sample import create_sample_district
from signing.registry.seal_registry import SealRegistry
from signing.verify.trust import TrustBundle
from tests.printouts import TimeStampingAuthority, needs, printout, sealed_result
from tests.signing.conftest import pinned_bundle


def checks(result: Any) -> dict[str, bool | None]:
    return {check.name: check.passed for check in result.report.checks}


def verdict(result: Any) -> tuple[str, str | None]:
    report = result.report
    return report.indication.value, report.sub_indication.value if report.sub_indication else None


def test_a_printout_passes_and_so_does_the_sealed_json_it_carries(
    pdf: bytes, trust: TrustBundle, sealed: dict[str, Any]
) -> None:
    result = verify_printout(pdf, trust)
    assert verdict(result) == ("TOTAL_PASSED", None), result.report.render()
    assert result.document_report is not None and result.document_report.passed
    assert result.document == sealed
    assert set(checks(result)) >= {
        "trust_anchor",
        "certificate_chain",
        "validity_period",
        "revocation_status",
        "scope",
        "signing_time",
        "pdf_integrity",
        "pdf_signature",
        "pdf_unchanged",
        "embedded_document",
        "printed_content",
    }
    assert result.report.seal_number == sealed["seal"]["number"] and result.report.item == "tax.payment-record"


def _content_stream_at(pdf: bytes) -> int:
    """An offset inside the first page's content stream (signed bytes, the words on the page)."""
    import pypdf

    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    number = page.raw_get("/Contents").idnum
    start = re.search(rb"\n%d 0 obj" % number, pdf)
    assert start is not None
    return pdf.index(b"stream", start.end()) + 40


def test_one_byte_changed_in_the_page_content_is_a_hash_failure(pdf: bytes, trust: TrustBundle) -> None:
    at = _content_stream_at(pdf)
    changed = pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]
    result = verify_printout(changed, trust)
    assert verdict(result) == ("TOTAL_FAILED", "HASH_FAILURE"), result.report.render()
    assert checks(result)["pdf_integrity"] is False


def test_one_byte_changed_in_the_attached_json_is_a_hash_failure(pdf: bytes, trust: TrustBundle) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    spec = PdfFileReader(io.BytesIO(pdf)).root["/AF"][0].get_object()
    number = spec["/EF"].raw_get("/F").idnum
    start = re.search(rb"\n%d 0 obj" % number, pdf)
    assert start is not None
    at = pdf.index(b"stream", start.end()) + 30
    changed = pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]
    result = verify_printout(changed, trust)
    assert verdict(result)[1] in ("HASH_FAILURE", "FORMAT_FAILURE"), result.report.render()
    if verdict(result)[1] == "HASH_FAILURE":
        assert checks(result)["pdf_integrity"] is False


def _swap_attachment(pdf: bytes, replacement: bytes) -> bytes:
    """An incremental update after the signature that puts ``replacement`` where the sealed JSON was."""
    from pyhanko.pdf_utils.embed import EmbeddedFileObject
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    spec = writer.root["/AF"][0].get_object()
    stream = EmbeddedFileObject.from_file_data(writer, replacement, mime_type="application/json")
    spec["/EF"]["/F"] = writer.add_object(stream)
    writer.update_container(spec)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_an_attachment_swapped_after_signing_for_another_genuinely_sealed_result_is_a_hash_failure(
    pdf: bytes, trust: TrustBundle, seal_registry: SealRegistry, office: tuple[str, str], sealed: dict[str, Any]
) -> None:
    import json

    other = sealed_result(seal_registry, office, content={**sealed["content"], "total": "1.00"})
    swapped = _swap_attachment(pdf, json.dumps(other, ensure_ascii=False).encode())
    result = verify_printout(swapped, trust)
    assert verdict(result) == ("TOTAL_FAILED", "HASH_FAILURE"), result.report.render()
    assert checks(result)["pdf_unchanged"] is False and checks(result)["pdf_integrity"] is True
    assert result.document_report is not None and result.document_report.passed  # the swapped-in JSON is genuine
    assert checks(result)["printed_content"] is False  # but it is not what the pages show


def test_an_attachment_swapped_for_an_edited_result_fails_both_ways(
    pdf: bytes, trust: TrustBundle, sealed: dict[str, Any]
) -> None:
    import json

    edited = {**sealed, "content": {**sealed["content"], "total": "1.00"}}
    result = verify_printout(_swap_attachment(pdf, json.dumps(edited).encode()), trust)
    assert verdict(result) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert result.document_report is not None and result.document_report.sub_indication.value == "HASH_FAILURE"
    assert checks(result)["embedded_document"] is False


def test_pages_that_show_other_values_than_the_sealed_json_fail_even_when_the_key_holder_signed_them(
    seal_registry: SealRegistry, sealed: dict[str, Any], trust: TrustBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = render_module.sheet_for

    def inflated(document: Any, layout: Any) -> Sheet:
        sheet = real(document, layout)
        fields = tuple((label, "99999.00" if value == "4965.00" else value) for label, value in sheet.fields)
        return Sheet(**{**{f: getattr(sheet, f) for f in Sheet.__slots__}, "fields": fields})

    monkeypatch.setattr(render_module, "sheet_for", inflated)
    forged = printout(seal_registry, sealed)
    result = verify_printout(forged, trust)
    assert checks(result)["pdf_integrity"] and checks(result)["pdf_signature"] and checks(result)["embedded_document"]
    assert checks(result)["printed_content"] is False
    assert verdict(result) == ("TOTAL_FAILED", "HASH_FAILURE")
    detail = next(c.detail for c in result.report.checks if c.name == "printed_content")
    assert detail == "the pages do not show total"  # named by member, the value never echoed


def test_a_qr_code_naming_another_document_fails_the_printed_content_check(
    seal_registry: SealRegistry, sealed: dict[str, Any], trust: TrustBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render_module, "verification_url", lambda base, doc: f"{base}/verify?request=01OTHER&digest=x")
    result = verify_printout(printout(seal_registry, sealed), trust)
    assert checks(result)["printed_content"] is False and verdict(result)[1] == "HASH_FAILURE"


def test_without_a_pinned_root_nothing_is_genuine(seal_registry: SealRegistry, pdf: bytes) -> None:
    unpinned = TrustBundle.from_dict(seal_registry.export_trust_bundle())
    result = verify_printout(pdf, unpinned)
    assert verdict(result) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    assert checks(result)["trust_anchor"] is False


def test_a_printout_of_another_district_does_not_chain_to_this_root(
    tmp_path: Any, seal_env: str, trust: TrustBundle, office: tuple[str, str]
) -> None:
    foreign = create_sample_district(tmp_path / "foreign", now=datetime.now(UTC) - timedelta(days=30))
    result = verify_printout(printout(foreign, sealed_result(foreign, office)), trust)
    assert verdict(result) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND"), result.report.render()
    assert checks(result)["certificate_chain"] is False


def test_a_seal_revoked_when_the_printout_was_signed_is_revoked(
    seal_registry: SealRegistry, pdf: bytes, sealed: dict[str, Any]
) -> None:
    signed_at = datetime.now(UTC) - timedelta(minutes=1)  # back-dated to before the PDF was signed
    seal_registry.revoke(sealed["seal"]["number"], reason="key card lost", reason_code="key_compromise", at=signed_at)
    result = verify_printout(pdf, pinned_bundle(seal_registry))
    assert verdict(result) == ("TOTAL_FAILED", "REVOKED"), result.report.render()


def test_a_compromise_revocation_after_signing_needs_a_time_stamp_as_proof_of_existence(
    seal_registry: SealRegistry, sealed: dict[str, Any], tmp_path: Any
) -> None:
    needs()  # nothing outside Python: the authority runs on loopback
    with TimeStampingAuthority(tmp_path) as tsa:
        stamped = printout(seal_registry, sealed, timestamp_url=tsa.url)
        assert tsa.requests >= 1
    plain = printout(seal_registry, sealed)
    seal_registry.revoke(sealed["seal"]["number"], reason="key copied", reason_code="key_compromise")
    trust = pinned_bundle(seal_registry)

    assert verdict(verify_printout(plain, trust)) == ("INDETERMINATE", "REVOKED_NO_POE")
    untrusted = verify_printout(stamped, trust)  # a time-stamp from an authority nobody vouched for proves nothing
    assert (
        verdict(untrusted) == ("INDETERMINATE", "REVOKED_NO_POE") and checks(untrusted)["signature_timestamp"] is None
    )
    stranger = TimeStampingAuthority(tmp_path)  # another authority's root: not the one that stamped
    foreign = verify_printout(stamped, trust, tsa_roots=(stranger.root_der,))
    assert checks(foreign)["signature_timestamp"] is False and verdict(foreign)[1] == "REVOKED_NO_POE"
    proven = verify_printout(stamped, trust, tsa_roots=(tsa.root_der,))
    assert checks(proven)["signature_timestamp"] is True
    assert checks(proven)["revocation_status"] is True, proven.report.render()
    assert proven.report.indication.value == "INDETERMINATE"  # the attached JSON itself has no audit proof
    assert proven.document_report is not None and proven.document_report.sub_indication.value == "REVOKED_NO_POE"


def test_a_second_attachment_is_a_format_failure(pdf: bytes, trust: TrustBundle) -> None:
    from pyhanko.pdf_utils.embed import EmbeddedFileObject, FileSpec, embed_file
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    data = EmbeddedFileObject.from_file_data(writer, b'{"total": "99999.00"}', mime_type="application/json")
    embed_file(writer, FileSpec(file_spec_string="also.json", embedded_data=data))
    out = io.BytesIO()
    writer.write(out)
    result = verify_printout(out.getvalue(), trust)
    assert verdict(result) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "2 attachments" in result.report.checks[0].detail


def test_a_pdf_that_is_no_printout_is_a_format_failure(trust: TrustBundle) -> None:
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    Canvas(out).save()
    result = verify_printout(out.getvalue(), trust)
    assert verdict(result) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert verify_printout(b"%PDF-1.7\n garbage", trust).report.sub_indication.value == "FORMAT_FAILURE"


def test_a_printout_signed_by_another_seal_than_the_one_that_sealed_its_json_is_out_of_scope(
    seal_registry: SealRegistry, sealed: dict[str, Any], trust: TrustBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signing.printout.render import PrintoutOptions, render_printout

    other = next(
        s for s in seal_registry.seals() if s.number != sealed["seal"]["number"] and s.covers("tax.payment-record")
    )
    monkeypatch.setattr(render_module, "_check_sealed", lambda *args: None)  # a renderer that would not check
    pdf = render_printout(
        sealed, seal_registry.signer_for(other), other, seal_registry.trust_view(), PrintoutOptions("https://x.example")
    )
    result = verify_printout(pdf, trust)
    assert checks(result)["scope"] is False and verdict(result) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")
    assert result.report.seal_number == other.number
