"""A sealed document as the printout the applicant takes home: :func:`render_printout`.

The printout is made from the sealed JSON alone (no gateway, no store):
its layout comes with the call (an item's catalogue declaration, a layout
file, or the generic layout), its seal key from the registry.  Before a
single page is drawn the sealed document must verify (TOTAL_PASSED against
the given trust bundle) and the seal that signs the PDF must be the one
that sealed the JSON, usable now: a printout never lends a valid PDF
signature to a document whose own seal fails, nor signs with a revoked
seal.

The QR code opens ``{public_url}/verify?request=<request id>&digest=<code>``;
the verification code is the base64url SHA-256 of the document's canonical
JSON (RFC 8785) without its seal block -- the ``ow_jcs_sha256`` the seal
signs -- printed under the code as well.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from signing.errors import PrintoutError
from signing.jose.jcs import canonicalize
from signing.jose.jws import b64url
from signing.keys.signers import Signer
from signing.model import KIND_WORDS, Seal, format_time, parse_time
from signing.printout.layout import GENERIC, Layout, Sheet, sheet_for
from signing.printout.libraries import require_pdf_libraries
from signing.verify.trust import TrustBundle
from signing.verify.verifier import verify_document


@dataclass(frozen=True, slots=True)
class PrintoutOptions:
    """Where the QR code points and how the PDF is signed."""

    public_url: str  # the gateway's public base URL: the QR code opens its /verify page
    timestamp_url: str | None = None  # an RFC 3161 time-stamping authority: PAdES-B-T
    font: str | None = None  # PATH[#INDEX] of the CJK TrueType font (default: see signing.printout.fonts)


def verification_code(document: dict[str, Any]) -> str:
    """base64url SHA-256 of the canonical JSON without ``seal``: what the seal signs, printed and in the QR code."""
    return b64url(hashlib.sha256(canonicalize({k: v for k, v in document.items() if k != "seal"})).digest())


def verification_url(public_url: str, document: dict[str, Any]) -> str:
    """The verification page for this document: request id and verification code, nothing personal."""
    query = urlencode({"request": str(document.get("request_id", "")), "digest": verification_code(document)})
    return f"{public_url.rstrip('/')}/verify?{query}"


def _check_sealed(document: dict[str, Any], seal: Seal, trust: TrustBundle, now: datetime) -> None:
    """Only a sealed document that verifies is printed, and only with its own seal, usable now."""
    report = verify_document(document, trust, at=now)
    if not report.passed:
        reason = report.sub_indication.value if report.sub_indication else report.indication.value
        failed = next((c for c in report.checks if c.passed is False), None)
        detail = f" ({failed.name}: {failed.detail})" if failed and failed.detail else ""
        raise PrintoutError(
            f"the sealed document does not verify ({report.indication.value}/{reason}{detail}): not printed"
        )
    if report.seal_number != seal.number:
        raise PrintoutError(f"the document is sealed by {report.seal_number}, not by {seal.number}")
    if not seal.usable_at(now):
        raise PrintoutError(f"seal {seal.number} cannot sign at {format_time(now)} (status {seal.status.value})")


def _printed_strings(sheet: Sheet, stamp: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(where, text)`` for every string the page draws; ``where`` is a label, never the text."""
    found = [("title", sheet.title), ("note", sheet.note), ("出具机关", sheet.issuer), ("date", sheet.date)]
    found += [("stamp", text) for text in stamp]
    found += [(label, f"{label}{value}") for label, value in (*sheet.header, *sheet.fields, *sheet.extra_fields)]
    for table in (*sheet.tables, *sheet.extra_tables):
        found.append((table.title, "".join((table.title, *table.headers))))
        found += [
            (f"{table.title}/{header}", cell)
            for row in table.rows
            for header, cell in zip(table.headers, row, strict=True)
        ]
    return found


def _check_font(sheet: Sheet, stamp: tuple[str, ...], font: Any) -> None:
    """Refuse, naming where (never what: it may be part of a name), every character the font cannot draw."""
    printed = _printed_strings(sheet, stamp)
    missing = font.missing(text for _, text in printed)
    if missing:
        places = list(dict.fromkeys(where for where, text in printed if font.missing([text])))
        raise PrintoutError(
            f"the font {font.path} cannot draw {len(missing)} character(s) of this document (in "
            f"{', '.join(places[:5])}): not printed rather than printed with empty boxes; name another font in "
            "ONEWINDOW_PRINTOUT_FONT or [printouts] font"
        )


def render_printout(
    document: dict[str, Any],
    signer: Signer,
    seal: Seal,
    trust: TrustBundle,
    options: PrintoutOptions,
    *,
    layout: Layout = GENERIC,
    now: datetime | None = None,
) -> bytes:
    """The signed PDF/A-3b printout of a sealed document (PAdES-B-B, or B-T with a time-stamping authority)."""
    from signing.printout.archive import Description, make_archival
    from signing.printout.fonts import cjk_font
    from signing.printout.pades import SignatureInfo, sign_pdf
    from signing.printout.page import StampFace, draw_sheet, stamp_texts

    require_pdf_libraries()
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    _check_sealed(document, seal, trust, moment)
    sheet = sheet_for(document, layout)
    face = StampFace(seal.holder_name, seal.number, seal.kind.value)
    font = cjk_font(options.font)
    _check_font(sheet, stamp_texts(face), font)
    code = verification_code(document)
    drawn = draw_sheet(
        sheet, face, url=verification_url(options.public_url, document), code=code, font=font, title=sheet.title
    )
    try:
        created = parse_time(str(document.get("issued_at")))
    except ValueError:
        created = parse_time(format_time(moment))
    sealed_json = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    archival = make_archival(
        drawn.pdf, sealed_json, Description(sheet.title, sheet.issuer, sheet.header[1][1], created)
    )
    office = document.get("office") if isinstance(document.get("office"), dict) else {}
    info = SignatureInfo(
        name=f"{seal.holder_name}（{seal.number}）",
        location=str(office.get("name", seal.holder_name)) if isinstance(office, dict) else seal.holder_name,
        reason=f"{KIND_WORDS[seal.kind][0]}：{sheet.title}（{document.get('request_id')}）",
        signed_at=moment,
    )
    return sign_pdf(
        archival, signer, seal, info, page=drawn.stamp.page, box=drawn.stamp.box, timestamp_url=options.timestamp_url
    )
