"""Revocation status at the signing time, and the proof of existence a compromise revocation demands.

Part of :func:`signing.verify.verifier.verify_document`, kept apart because this is
where the claimed signing time (``sigT``) stops being believed.  A seal
revoked *at* ``sigT`` is REVOKED; a seal revoked *after* it keeps its
earlier signatures -- unless the revocation's reason means the key may be
in other hands (``signing.pki.certificates.COMPROMISE_REASON_CODES``).  Then a thief
could date a forgery before the revocation, so the signature passes only
with a proof of existence (POE, ETSI EN 319 102-1) at or before the
revocation: the audit checker's ``poe_time``, the signed checkpoint time of
the document's audit-log inclusion proof.  Otherwise INDETERMINATE /
REVOKED_NO_POE.  docs/seals.md, "Revocation, key compromise and proof of
existence", has the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from signing.model import Seal, SealStatus, StatusEvent, format_time
from signing.pki.certificates import COMPROMISE_REASON_CODES
from signing.verify.report import SubIndication


class AuditEvidence(Protocol):
    """What an audit checker may answer instead of a bare bool (``signing.audit.document_proof.AuditProofCheck``).

    Truthy when the proof holds.  ``poe_time`` is the proof of existence:
    the time by which the document provably existed (the signed
    checkpoint's timestamp), or None when the proof does not say.
    ``reason``, when present, becomes the ``audit_proof`` check's detail.
    """

    @property
    def poe_time(self) -> datetime | None: ...

    def __bool__(self) -> bool: ...


#: Called as ``audit_checker(audit_proof, sealed_document)``.  A bare bool
#: (True when the proof holds) is still accepted, but gives no POE time.
AuditChecker = Callable[[Any, dict[str, Any]], bool | AuditEvidence]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the audit proof showed: the check's outcome and the POE time, or why there is none."""

    ran: bool  # an audit checker judged the proof
    ok: bool
    detail: str
    poe_time: datetime | None
    missing: str  # why there is no POE time (empty when there is one)


def check_status(
    seal: Seal,
    signed_at: datetime,
    validated_at: datetime,
    record: Callable[..., None],
    evidence: Evidence,
) -> str | None:
    """The seal's status at the signing time, and what a later revocation means for this document.

    * revoked at ``sigT`` (whatever the reason): REVOKED;
    * suspended at ``sigT``: SIG_CONSTRAINTS_FAILURE;
    * revoked after ``sigT`` for a compromise reason: passes only with a POE
      time at or before the revocation, otherwise REVOKED_NO_POE -- whatever
      the validation time, since a past validation time does not show the
      document existed then;
    * revoked after ``sigT`` for another reason, or suspended after it: passes, with a note.
    """
    event = seal.status_at(signed_at)
    if event is not None and event.status is SealStatus.REVOKED:
        record(
            "revocation_status",
            False,
            SubIndication.REVOKED,
            f"revoked {format_time(event.at)}: {event.reason}",
        )
        return f"吊销于 revoked at {format_time(event.at)} ({event.reason}); sealed after that"
    if event is not None and event.status is SealStatus.SUSPENDED:
        record(
            "revocation_status",
            False,
            SubIndication.SIG_CONSTRAINTS_FAILURE,
            f"seal suspended {format_time(event.at)}: {event.reason}",
        )
        return None
    revocation = seal.revocation()
    if revocation is not None and revocation.reason_code in COMPROMISE_REASON_CODES:
        return _check_compromise(revocation, record, evidence)
    record("revocation_status", True, SubIndication.REVOKED)
    later = [e for e in seal.history if signed_at < e.at <= validated_at and e.status is not SealStatus.ACTIVE]
    if not later:
        return None
    last = later[-1]
    words = "吊销 revoked" if last.status is SealStatus.REVOKED else "暂停 suspended"
    return (
        f"{words} at {format_time(last.at)} ({last.reason}), after this document was sealed; "
        "the seal on this document stays valid"
    )


def _check_compromise(revocation: StatusEvent, record: Callable[..., None], evidence: Evidence) -> str:
    """A signature claimed before a compromise revocation: believed only with POE before it."""
    when = format_time(revocation.at)
    why = f"{revocation.reason_code}: {revocation.reason}"
    poe = evidence.poe_time
    if poe is not None and poe <= revocation.at:
        record(
            "revocation_status",
            True,
            SubIndication.REVOKED_NO_POE,
            f"revoked {when} ({why}); the audit log proves the document existed by "
            f"{format_time(poe)}, before the revocation",
        )
        return (
            f"吊销 revoked at {when} ({why}), after this document was sealed; "
            f"审计日志证明文件在吊销前已存在 the audit log proves it existed by {format_time(poe)}: "
            "the seal on this document stays valid"
        )
    if poe is not None:
        missing = f"the audit log shows the document only from {format_time(poe)}, after the revocation"
    else:
        missing = evidence.missing
    record(
        "revocation_status",
        False,
        SubIndication.REVOKED_NO_POE,
        f"revoked {when} ({why}); the claimed signing time lies before the revocation, but {missing}",
    )
    return (
        f"因密钥可能泄露而吊销 revoked at {when} ({why}); the claimed signing time is earlier, "
        "but nothing independent shows the document existed before the revocation"
    )


def audit_evidence(block: dict[str, Any], document: dict[str, Any], checker: AuditChecker | None) -> Evidence:
    """Run the audit checker on ``seal.audit_proof`` (the seal does not sign it) and read its POE time."""
    if "audit_proof" not in block:
        return Evidence(False, False, "", None, "the document carries no audit-log proof (seal.audit_proof)")
    if checker is None:
        return Evidence(
            False,
            False,
            "",
            None,
            "its audit-log proof was not checked (give the district audit key: --audit-key)",
        )
    try:
        result = checker(block["audit_proof"], document)
        ok = bool(result)
    except Exception as exc:  # a checker that cannot run means the proof is not shown
        detail = f"audit proof check failed: {exc}"
        return Evidence(True, False, detail, None, f"its audit-log proof does not hold ({detail})")
    reason = getattr(result, "reason", None)
    if ok:
        detail = reason if isinstance(reason, str) else ""
        poe = getattr(result, "poe_time", None)
        if isinstance(poe, datetime) and poe.tzinfo is not None:
            return Evidence(True, True, detail, poe.astimezone(UTC), "")
        return Evidence(True, True, detail, None, "the audit checker gave no proof-of-existence time")
    detail = reason if isinstance(reason, str) and reason else "audit proof does not verify against the checkpoint"
    return Evidence(True, False, detail, None, f"its audit-log proof does not hold ({detail})")
