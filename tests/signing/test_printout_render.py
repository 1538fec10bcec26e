"""A sealed result printed as a signed PDF/A-3b document: what readers, archivists and pyHanko's validator see.

The seal keys are the sample district's (real ECDSA P-384 keys, a real
registry); the PDFs are checked by pyHanko's validation against the
district root alone, by poppler's ``pdfsig`` (NSS: another library than the
one that signed), by ``pdftoppm`` pictures, and by reading their structure.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from signing.errors import PrintoutError
from signing.printout.layout import parse_layout
from signing.printout.render import verification_code
from signing.registry.seal_registry import SealRegistry
from tests.printouts import OPTIONS, check_picture, pdfsig, printout, sealed_result, stamp_box


def validation(pdf: bytes, registry: SealRegistry) -> Any:
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = asn1_x509.Certificate.load(registry.root_certificate.public_bytes(Encoding.DER))
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures
    return signature, validate_pdf_signature(signature, ValidationContext(trust_roots=[root], allow_fetching=False))


def test_pyhankos_validation_finds_the_signature_intact_and_chained_to_the_district_root(
    pdf: bytes, seal_registry: SealRegistry, sealed: dict[str, Any]
) -> None:
    signature, status = validation(pdf, seal_registry)
    assert status.intact and status.valid and status.trusted
    assert status.coverage.name == "ENTIRE_FILE" and status.modification_level.name == "NONE"
    seal = seal_registry.get(sealed["seal"]["number"])
    assert signature.signer_cert.dump() == seal.certificate_der
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES baseline
    attributes = {a["type"].native for a in signature.signer_info["signed_attrs"]}
    assert attributes == {"content_type", "message_digest", "signing_certificate_v2"}  # B-B: no signing-time attribute
    assert signature.sig_object["/M"] and seal_number_in(signature.sig_object["/Name"], sealed)
    assert status.md_algorithm == "sha384"
    embedded = {choice.chosen.dump() for choice in signature.signed_data["certificates"]}
    assert seal.certificate_der in embedded and seal.chain[0] in embedded  # seal certificate and district root
    assert status.timestamp_validity is None  # PAdES-B-B without a time-stamping authority


def seal_number_in(text: str, sealed: dict[str, Any]) -> bool:
    return str(sealed["seal"]["number"]) in str(text)


def test_poppler_an_independent_validator_trusts_the_signature_through_the_district_root_only(
    pdf: bytes, seal_registry: SealRegistry, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    root_pem = seal_registry.root_certificate.public_bytes(Encoding.PEM)
    trusted = pdfsig(pdf, root_pem, tmp_path / "with-root")
    assert "Signature is Valid." in trusted and "Certificate is Trusted." in trusted, trusted
    assert "Signature Type: ETSI.CAdES.detached" in trusted and "Total document signed" in trusted
    assert "Signer full Distinguished Name: CN=" in trusted and "serialNumber=370303-BM-" in trusted
    untrusted = pdfsig(pdf, None, tmp_path / "empty")
    assert "Signature is Valid." in untrusted and "Certificate is Trusted." not in untrusted, untrusted


def test_the_printout_is_pdf_a_3b_with_an_output_intent_embedded_fonts_and_the_sealed_json_as_associated_file(
    pdf: bytes, sealed: dict[str, Any]
) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    assert pdf.startswith(b"%PDF-1.7")  # PDF/A-3 is ISO 32000-1: never the 2.0 header
    reader = PdfFileReader(io.BytesIO(pdf))
    root = reader.root
    xmp = root["/Metadata"].get_object().data.decode("utf-8")
    assert re.search(r'pdfaid:part="3"', xmp) and re.search(r'pdfaid:conformance="B"', xmp)
    (intent,) = root["/OutputIntents"]
    intent = intent.get_object()
    assert intent["/S"] == "/GTS_PDFA1" and intent["/DestOutputProfile"].get_object()["/N"] == 3
    profile = intent["/DestOutputProfile"].get_object().data
    assert profile[36:40] == b"acsp" and profile[16:20] == b"RGB "  # an ICC colour profile of RGB
    info = reader.trailer["/Info"].get_object()
    assert f'pdf:Producer="{info["/Producer"]}"' in xmp or f"<pdf:Producer>{info['/Producer']}<" in xmp
    (spec,) = [ref.get_object() for ref in root["/AF"]]
    assert spec["/AFRelationship"] == "/Source" and spec["/F"] == spec["/UF"] == "sealed-result.json"
    stream = spec["/EF"]["/F"].get_object()
    assert stream["/Subtype"] == "/application/json"
    assert json.loads(stream.data) == sealed
    for page in reader.root["/Pages"]["/Kids"]:
        for annot in page.get_object().get("/Annots", []):
            assert int(annot.get_object()["/F"]) & 4, "every annotation prints (PDF/A)"
    assert "/JavaScript" not in pdf.decode("latin-1") and "/Encrypt" not in reader.trailer


def test_every_font_is_embedded_and_the_text_reads_back_in_chinese(pdf: bytes, tmp_path: Path) -> None:
    import subprocess

    from tests.printouts import needs

    needs("pdffonts", "pdftotext")
    (tmp_path / "p.pdf").write_bytes(pdf)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "p.pdf")], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(re.search(r"\byes\s+yes\s+yes\b", row) for row in rows), fonts  # embedded, subset, unicode
    assert "Helvetica" not in fonts and "Times" not in fonts
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "p.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "中华人民共和国税收完税证明" in text and "370303********1239" in text and "370303199001011239" not in text


def test_the_same_result_gives_the_same_pages_and_attachment_byte_for_byte(
    seal_registry: SealRegistry, sealed: dict[str, Any]
) -> None:
    first, second = printout(seal_registry, sealed), printout(seal_registry, sealed)
    end = first.index(b"%%EOF") + 5  # the revision before the signature: pages, metadata, attachment
    assert first[:end] == second[:end] and b"/ByteRange" not in first[:end]
    assert first != second  # each signature is made afresh


def test_the_qr_code_links_the_verification_page_with_the_request_and_code_and_nothing_personal(
    pdf: bytes, sealed: dict[str, Any]
) -> None:
    from signing.printout.reading import read_printout

    (link,) = read_printout(pdf).link_uris
    code = verification_code(sealed)
    assert link == f"{OPTIONS.public_url}/verify?request={sealed['request_id']}&digest={code}"
    assert code == sealed_digest(sealed)
    assert "张伟" not in link and "370303199001011239" not in link


def sealed_digest(sealed: dict[str, Any]) -> str:
    """The ow_jcs_sha256 the seal signs: the printed verification code is the same value."""
    import base64

    header = json.loads(base64.urlsafe_b64decode(sealed["seal"]["jws"].split(".")[0] + "=="))
    return str(header["ow_jcs_sha256"])


def test_the_page_shows_real_chinese_glyphs_and_the_red_stamp_where_the_signature_field_is(pdf: bytes) -> None:
    box, page = stamp_box(pdf)
    check_picture(pdf, "中华人民共和国税收完税证明", box, page=page)


def test_a_result_whose_seal_fails_is_not_printed(seal_registry: SealRegistry, sealed: dict[str, Any]) -> None:
    changed = {**sealed, "content": {**sealed["content"], "total": "99999.00"}}
    with pytest.raises(PrintoutError, match=r"does not verify.*HASH_FAILURE"):
        printout(seal_registry, changed)


def test_a_seal_revoked_since_the_result_was_sealed_signs_no_printout(
    seal_registry: SealRegistry, sealed: dict[str, Any]
) -> None:
    seal_registry.revoke(sealed["seal"]["number"], reason="office merged", reason_code="cessation_of_operation")
    with pytest.raises(PrintoutError, match="cannot sign"):
        printout(seal_registry, sealed)


def test_a_font_without_the_characters_refuses_to_print_rather_than_draw_empty_boxes(
    seal_registry: SealRegistry, sealed: dict[str, Any], office: tuple[str, str]
) -> None:
    from importlib import resources

    latin_only = str(resources.files("reportlab").joinpath("fonts", "Vera.ttf"))
    with pytest.raises(PrintoutError, match=r"cannot draw \d+ character"):
        printout(seal_registry, sealed, font=latin_only)
    rare = sealed_result(
        seal_registry, office, applicant={"kind": "person", "name": "张𠈌", "id_number": "370303199001011239"}
    )
    with pytest.raises(PrintoutError, match=r"cannot draw 1 character\(s\) of this document \(in 申请人\)") as refused:
        printout(seal_registry, rare)  # WenQuanYi Zen Hei has no CJK extension B
    assert "𠈌" not in str(refused.value)  # where, never what: it is part of a name


def test_a_result_without_a_declared_layout_prints_every_member_by_name(
    seal_registry: SealRegistry, office: tuple[str, str]
) -> None:
    from signing.printout.layout import GENERIC
    from signing.printout.verify_pdf import verify_printout

    content = {"grade": "A", "year": 2025, "checks": [{"rule": "按期申报", "result": True}], "note": None}
    document = sealed_result(seal_registry, office, content=content)
    pdf = printout(seal_registry, document, layout=GENERIC)
    verdict = verify_printout(pdf, seal_registry.trust_view())
    assert verdict.report.passed, verdict.report.render()


def test_any_sealed_document_type_with_a_layout_renders_a_receipt_for_one(
    seal_registry: SealRegistry, office: tuple[str, str]
) -> None:
    """A 受理回执 sealed as a document of its own prints through a layout like any result (docs/seals.md)."""
    from signing.printout.verify_pdf import verify_printout
    from signing.sealing import seal_document

    receipt = {
        "document_type": "onewindow.receipt.v1",
        "request_id": "01M947MVC2D8GHF3HVZQ6SX074",
        "item": "property.title-reissue",
        "item_name": {"zh": "不动产权证书补发", "en": "Title certificate reissue"},
        "office": {"code": office[0], "name": office[1]},
        "applicant": {"kind": "person", "name": "张伟", "id_number": "370303199001011239"},
        "agency_reference": "BF2026010000123",
        "issued_at": "2026-01-10T08:30:00+00:00",
        "content": {"accepted_at": "2026-01-10 16:30", "time_limit_days": 5, "materials_received": ["身份证复印件"]},
    }
    seal = seal_registry.seal_for(office[0], "delegated_approval", "property.title-reissue")
    assert seal is not None
    sealed = seal_document(receipt, seal_registry.signer_for(seal), seal, item=receipt["item"], request_id="R-2")
    layout = parse_layout(
        {
            "title": "受理回执",
            "fields": [
                {"key": "accepted_at", "label": "受理时间"},
                {"key": "time_limit_days", "label": "承诺办结时限（工作日）"},
                {"key": "materials_received", "label": "已收材料"},
            ],
        }
    )
    pdf = printout(seal_registry, sealed, layout=layout)
    result = verify_printout(pdf, seal_registry.trust_view())
    assert result.report.passed, result.report.render()
    assert "受理回执" in "".join(read_texts(pdf)) and "行政审批专用章" in "".join(read_texts(pdf))


def read_texts(pdf: bytes) -> tuple[str, ...]:
    from signing.printout.reading import read_printout

    texts = read_printout(pdf).page_texts
    assert texts is not None
    return texts
