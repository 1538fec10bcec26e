"""From the text someone hands a verifier to the sealed document it judges.

Two readers of one text must see one document.  ``{"amount": "99999.00",
"amount": "855.03"}`` is 855.03 to Python and 99999.00 to the person
reading the file, so the text is parsed as I-JSON (RFC 7493, which RFC 8785
presumes): a member name twice anywhere in it, a lone surrogate or
nesting deeper than 64 levels is TOTAL_FAILED / FORMAT_FAILURE, naming
the problem.  Text that is not JSON at all is bad input
(:class:`signing.errors.NotJsonError`), not a verdict.

People paste what the gateway gave them, and that is often the request
resource (``{"id": ..., "status": "completed", "result": {...sealed...}}``)
rather than the sealed result alone: such a wrapper is unwrapped and its
``result`` judged, with a note.  The wrapper itself is not sealed, so it
is taken only when its ``id`` is the sealed result's ``request_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from signing.errors import IJsonError, NotJsonError
from signing.jose import ijson
from signing.verify.report import VerificationReport
from signing.verify.revocation import AuditChecker
from signing.verify.trust import TrustBundle
from signing.verify.verifier import format_failure, verify_document

#: A sealed document is at most this big when read from text (the gateway takes 1 MiB).
MAX_MEMBERS = 100_000


@dataclass(frozen=True, slots=True)
class TextVerification:
    """The verdict on a text, and the sealed document it judged (None when the text had none to read)."""

    report: VerificationReport
    document: dict[str, Any] | None


def unwrap_request_resource(document: Any) -> tuple[Any, str | None]:
    """``(the sealed document, note)``: a request resource's ``result``, or the input itself.

    Raises :class:`ValueError` for a wrapper whose ``id`` is not its result's
    ``request_id``: nothing binds the two, so a reader could be shown one
    request's id and another's result.
    """
    if not isinstance(document, dict) or "seal" in document or not isinstance(document.get("result"), dict):
        return document, None
    result = document["result"]
    if "seal" not in result:
        return document, None
    if document.get("id") != result.get("request_id"):
        raise ValueError(
            f"a request resource whose id {ijson.echo(str(document.get('id')))} is not the request_id of its "
            f"sealed result ({ijson.echo(str(result.get('request_id')))})"
        )
    return result, f"verified the sealed result of request resource {document['id']} (its 'result' member)"


def verify_text(
    data: str | bytes,
    trust: TrustBundle,
    *,
    at: datetime | None = None,
    audit_checker: AuditChecker | None = None,
    accept_stale_bundle: bool = False,
) -> TextVerification:
    """Parse ``data`` strictly and judge the sealed document in it.

    :class:`NotJsonError` when ``data`` is not JSON at all; every other
    problem is a report (FORMAT_FAILURE when the text is not I-JSON).
    """
    try:
        parsed = ijson.loads(data, max_members=MAX_MEMBERS)
    except NotJsonError:
        raise
    except IJsonError as exc:
        return TextVerification(format_failure(trust, f"not I-JSON (RFC 7493): {exc}", at), None)
    try:
        document, note = unwrap_request_resource(parsed)
    except ValueError as exc:
        return TextVerification(format_failure(trust, str(exc), at), None)
    report = verify_document(
        document, trust, at=at, audit_checker=audit_checker, accept_stale_bundle=accept_stale_bundle
    )
    if note:
        report = replace(report, notes=(note, *report.notes))
    return TextVerification(report, document if isinstance(document, dict) else None)
