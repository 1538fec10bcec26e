"""The verdict on a printout: its PAdES signature, the sealed JSON inside it, and what its pages show.

Three questions, one :class:`~signing.verify.report.VerificationReport` in
the same ETSI vocabulary as a JSON seal (and a report of the attachment on
its own, so both are shown):

1. **The PDF signature.** pyHanko validates the CMS signature and builds
   the path to the district root (the bundle's root as the only trust
   anchor, nothing fetched).  The signer's certificate must be a seal of
   the bundle, with the same SealInfo, and is then judged exactly as a JSON
   seal is: validity at the signing time, revocation and suspension at the
   signing time (a compromise revocation after it needs a proof of
   existence: a trusted RFC 3161 time-stamp on the signature, PAdES-B-T),
   scope (the seal may seal the item of the attached document), signing
   time not in the future.  Bytes changed inside the signed ranges are
   HASH_FAILURE (``pdf_integrity``), a wrong signature value
   SIG_CRYPTO_FAILURE, and anything added after signing -- an incremental
   update replacing the attachment, a page, an annotation -- is HASH_FAILURE
   too (``pdf_unchanged``): the file is no longer what was signed.
2. **The attached sealed JSON** verifies on its own (``embedded_document``;
   its own sub-indication when it does not), and is sealed by the same seal.
3. **The pages show it** (``printed_content``): every value of the
   document's content, its number, item, applicant (the resident ID masked
   as printed), office, authority, request id and verification code
   appear in the page text, and the QR code's link names this request and
   verification code.  Otherwise HASH_FAILURE: the paper says something
   else than what was sealed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from signing.errors import NotJsonError
from signing.model import Seal, format_time
from signing.printout.layout import MISSING, printed_values
from signing.printout.libraries import require_pdf_libraries
from signing.printout.reading import NotAPrintout, Printout, read_printout
from signing.printout.render import verification_code
from signing.verify.reading import verify_text
from signing.verify.report import Indication, SubIndication, VerificationReport
from signing.verify.revocation import AuditChecker, Evidence, check_status
from signing.verify.trust import TrustBundle
from signing.verify.verifier import CLOCK_SKEW, Checks, check_trust, check_validity, format_failure, seal_chain

_ALLOWED_AFTER_SIGNING = ("NONE", "LTA_UPDATES")  # pyHanko ModificationLevel: nothing, or validation data only


@dataclass(frozen=True, slots=True)
class PrintoutVerification:
    """The verdict on the printout, and on the sealed JSON it carries (None when none could be read)."""

    report: VerificationReport
    document_report: VerificationReport | None
    document: dict[str, Any] | None


def _validation(printout: Printout, trust: TrustBundle, moment: datetime, tsa_roots: tuple[bytes, ...]) -> Any:
    """pyHanko's validation against the district root alone (and the given TSA roots for the time-stamp)."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = asn1_x509.Certificate.load(trust.root_der)
    context = ValidationContext(trust_roots=[root], allow_fetching=False, moment=moment)
    ts_context = None
    if tsa_roots:
        ts_context = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(d) for d in tsa_roots], allow_fetching=False
        )
    return validate_pdf_signature(printout.signature, context, ts_validation_context=ts_context)


def _timestamp(status: Any, checks: Checks, tsa_roots: tuple[bytes, ...]) -> Evidence:
    """The signature time-stamp (PAdES-B-T): a proof of existence when its authority is trusted."""
    stamp = status.timestamp_validity
    if stamp is None:
        return Evidence(False, False, "", None, "the PDF signature carries no time-stamp (PAdES-B-T)")
    when = stamp.timestamp
    if not stamp.intact or not stamp.valid:
        checks.record(
            "signature_timestamp", False, SubIndication.SIG_CONSTRAINTS_FAILURE, "the time-stamp token is broken"
        )
        return Evidence(True, False, "", None, "its time-stamp does not verify")
    if not tsa_roots:
        checks.skip(
            "signature_timestamp",
            f"time-stamped {format_time(when)}; not checked: no time-stamping authority root given",
        )
        return Evidence(
            False, False, "", None, "its time-stamp was not checked (no time-stamping authority root given)"
        )
    detail = f"time-stamped {format_time(when)}" + (
        "" if stamp.trusted else " by an authority not among the given roots"
    )
    checks.record("signature_timestamp", bool(stamp.trusted), SubIndication.SIG_CONSTRAINTS_FAILURE, detail)
    if not stamp.trusted:
        return Evidence(True, False, detail, None, "its time-stamp authority is not trusted")
    return Evidence(True, True, detail, when.astimezone(UTC), "")


def printed_problems(printout: Printout, document: dict[str, Any]) -> list[str]:
    """What the pages fail to show of ``document`` (empty when they show all of it)."""
    if printout.page_texts is None:
        return [f"the pages cannot be read ({printout.unreadable})"]
    text = "".join("".join(page.split()) for page in printout.page_texts)
    code = verification_code(document)
    expected = [*printed_values(document), ("the verification code", code)]
    missing = [where for where, value in expected if value != MISSING and "".join(value.split()) not in text]
    problems = [f"the pages do not show {', '.join(missing[:5])}"] if missing else []
    if len(missing) > 5:
        problems.append(f"nor {len(missing) - 5} more values")
    links = [parse_qs(urlsplit(uri).query) for uri in printout.link_uris]
    wanted = {"request": [str(document.get("request_id"))], "digest": [code]}
    if not any(link == wanted for link in links):
        problems.append("the QR code's link does not name this request and verification code")
    return problems


def _judge_seal(
    checks: Checks,
    seal: Seal | None,
    signed_at: datetime,
    at: datetime,
    evidence: Evidence,
    document: dict[str, Any] | None,
    doc_report: VerificationReport | None,
) -> str | None:
    """Revocation and scope, as for a JSON seal; and the attached document was sealed by this same seal."""
    if seal is None:
        checks.skip("revocation_status", "not checked: seal not in the registry")
        checks.skip("scope", "not checked: seal not in the registry")
        return None
    note = check_status(seal, signed_at, at, checks.record, evidence)
    item = document.get("item") if document else None
    same_seal = doc_report is not None and doc_report.seal_number == seal.number
    ok = isinstance(item, str) and seal.covers(item) and same_seal
    sealed_by = doc_report.seal_number if doc_report else None
    detail = "" if ok else f"seal {seal.number} may not sign a printout of {item} sealed by {sealed_by}"
    checks.record("scope", ok, SubIndication.SIG_CONSTRAINTS_FAILURE, detail)
    return note


def _judge_pdf(checks: Checks, status: Any) -> None:
    checks.record(
        "pdf_integrity",
        bool(status.intact),
        SubIndication.HASH_FAILURE,
        "" if status.intact else "the signed bytes of the PDF were changed",
    )
    checks.record("pdf_signature", bool(status.valid), SubIndication.SIG_CRYPTO_FAILURE)
    level = getattr(status.modification_level, "name", "OTHER")
    unchanged = status.coverage.name == "ENTIRE_FILE" or level in _ALLOWED_AFTER_SIGNING
    detail = "" if unchanged else f"the PDF was changed after it was signed ({status.coverage.name}, {level})"
    checks.record("pdf_unchanged", unchanged, SubIndication.HASH_FAILURE, detail)


def _read_document(
    printout: Printout, trust: TrustBundle, at: datetime, audit_checker: AuditChecker | None, accept_stale: bool
) -> tuple[VerificationReport | None, dict[str, Any] | None, str]:
    try:
        verified = verify_text(
            printout.attachment, trust, at=at, audit_checker=audit_checker, accept_stale_bundle=accept_stale
        )
    except NotJsonError as exc:
        return None, None, f"the attached {len(printout.attachment)}-byte file is not JSON ({exc})"
    return verified.report, verified.document, ""


def verify_printout(
    data: bytes,
    trust: TrustBundle,
    *,
    at: datetime | None = None,
    audit_checker: AuditChecker | None = None,
    accept_stale_bundle: bool = False,
    tsa_roots: tuple[bytes, ...] = (),
) -> PrintoutVerification:
    """Judge a printout; ``tsa_roots``: DER certificates of trusted time-stamping authorities.

    Raises :class:`~signing.errors.PrintoutError` when the PDF libraries are not installed (not a verdict).
    """
    require_pdf_libraries()
    validated_at = (at or datetime.now(UTC)).astimezone(UTC)
    try:
        printout = read_printout(data)
        signer_der = printout.signature.signer_cert.dump()
        chain = seal_chain(trust, (base64.b64encode(signer_der).decode("ascii"), trust.root_b64))
        signed_at = printout.signature.self_reported_timestamp
        status = _validation(printout, trust, signed_at or validated_at, tsa_roots)
    except (NotAPrintout, ValueError) as exc:
        return PrintoutVerification(format_failure(trust, str(exc), validated_at), None, None)
    except Exception as exc:  # pyHanko refuses a damaged CMS in many ways: not a well-formed signature
        return PrintoutVerification(
            format_failure(trust, f"the PDF signature cannot be read: {str(exc)[:200]}", validated_at), None, None
        )
    if signed_at is None:
        return PrintoutVerification(
            format_failure(trust, "the PDF signature names no signing time (/M)", validated_at), None, None
        )
    doc_report, document, unreadable = _read_document(printout, trust, validated_at, audit_checker, accept_stale_bundle)
    checks = Checks()
    facts = check_trust(checks, trust, validated_at, accept_stale_bundle)
    chain_ok = chain.seal is not None and bool(status.trusted)
    chain_detail = chain.problem or (
        "" if status.trusted else "the signature's certificate path does not reach the district root"
    )
    checks.record("certificate_chain", chain_ok, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, chain_detail)
    evidence = _timestamp(status, checks, tsa_roots)
    signed_at = signed_at.astimezone(UTC)
    check_validity(checks, chain.certificate, signed_at)
    note = _judge_seal(checks, chain.seal, signed_at, validated_at, evidence, document, doc_report)
    future = signed_at > validated_at + CLOCK_SKEW
    checks.record(
        "signing_time",
        not future,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
        "signing time lies in the future" if future else "",
    )
    _judge_pdf(checks, status)
    if doc_report is None:
        checks.record("embedded_document", False, SubIndication.FORMAT_FAILURE, unreadable)
    else:
        sub = doc_report.sub_indication or SubIndication.FORMAT_FAILURE
        checks.record(
            "embedded_document",
            doc_report.passed,
            sub,
            "" if doc_report.passed else f"{doc_report.indication.value}/{sub.value}",
        )
    problems = printed_problems(printout, document) if document is not None else ["no sealed document to compare with"]
    checks.record("printed_content", not problems, SubIndication.HASH_FAILURE, "; ".join(problems))
    indication, verdict_sub = _overall(checks)
    seal = chain.seal
    report = VerificationReport(
        indication,
        verdict_sub,
        tuple(checks.checks),
        seal_number=seal.number if seal else None,
        holder_office=seal.office if seal else None,
        holder_name=seal.holder_name if seal else None,
        kind=seal.kind if seal else None,
        item=document.get("item") if document else None,
        request_id=document.get("request_id") if document else None,
        signed_at=signed_at,
        validated_at=validated_at,
        revocation_note=note,
        notes=(f"PDF printout of {printout.pages} page(s), signed {format_time(signed_at)} (PAdES)",),
        trust=facts,
    )
    return PrintoutVerification(report, doc_report, document)


def _overall(checks: Checks) -> tuple[Indication, SubIndication | None]:
    """A FORMAT_FAILURE of the attachment outranks the priority list's first entry only as the verifier's own does."""
    if SubIndication.FORMAT_FAILURE in checks.failed:
        return Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE
    return checks.verdict()


def with_note(result: PrintoutVerification, note: str) -> PrintoutVerification:
    """The same verdict with one more note (e.g. which file was judged)."""
    return replace(result, report=replace(result.report, notes=(*result.report.notes, note)))
