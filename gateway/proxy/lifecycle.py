"""The six steps of proxy handling (帮办代办六步法), derived from a request's real state.

The policy names them: consultation, authorisation, handling, coordination,
follow-up feedback, rating and archiving. Nothing here is stored on its
own: each step's state is read off what the gateway already knows of the
request -- accepted (the helper consulted and brought the signed
authorisation), at the agency or in the outbox (handling), decided later
by the agency or retried (coordination), final (feedback: the result is
there for the applicant), rated and finished (archived). A step whose fact
does not exist yet is ``waiting``; one the request cannot reach any more
(it failed) is ``stopped``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.store import RequestRecord, RequestStatus

STEPS = (
    ("consultation", "咨询", "Consultation"),
    ("authorisation", "授权", "Authorisation"),
    ("handling", "办理", "Handling"),
    ("coordination", "协调", "Coordination"),
    ("feedback", "反馈", "Follow-up feedback"),
    ("rating_archiving", "评价归档", "Rating and archiving"),
)
_STOPPED = (RequestStatus.FAILED, RequestStatus.DEAD_LETTER)


def _step(code: str, state: str, at: datetime | None = None, **facts: str | None) -> dict[str, Any]:
    zh, en = next((z, e) for c, z, e in STEPS if c == code)
    step: dict[str, Any] = {"step": code, "name_zh": zh, "name_en": en, "state": state}
    if at is not None:
        step["at"] = at.isoformat()
    return step | {key: value for key, value in facts.items() if value is not None}


def proxy_steps(record: RequestRecord, *, rated_at: datetime | None = None) -> list[dict[str, Any]]:
    """The six steps of ``record`` as they stand: ``completed``, ``in_progress``, ``waiting`` or ``stopped``.

    ``rated_at`` is when the applicant rated the service (好差评), if they have.
    """
    status = record.status
    accepted = record.created_at
    steps = [_step("consultation", "completed", accepted), _step("authorisation", "completed", accepted)]
    if status in (RequestStatus.ACCEPTED, RequestStatus.DEFERRED):
        deferred = status is RequestStatus.DEFERRED
        note = "waiting for the agency: the request is in the outbox" if deferred else None
        steps.append(_step("handling", "in_progress", note=note))
        steps.append(_step("coordination", "waiting"))
    elif status is RequestStatus.PENDING:
        steps.append(_step("handling", "completed", agency_reference=record.agency_reference))
        steps.append(_step("coordination", "in_progress", note="the agency decides later; the gateway follows it up"))
    elif status in _STOPPED:
        steps.append(_step("handling", "stopped", record.finished_at, reason=(record.error or {}).get("code")))
        steps.append(_step("coordination", "stopped"))
    else:  # completed or rejected: the agency decided
        steps.append(_step("handling", "completed", agency_reference=record.agency_reference))
        steps.append(_step("coordination", "completed", record.finished_at))
    if status in (RequestStatus.COMPLETED, RequestStatus.REJECTED):
        steps.append(_step("feedback", "completed", record.finished_at, outcome=str(status)))
        if rated_at is not None:
            steps.append(_step("rating_archiving", "completed", rated_at))
        else:
            steps.append(_step("rating_archiving", "waiting", note="archived once the applicant has rated the service"))
    elif status in _STOPPED:
        steps.append(_step("feedback", "completed", record.finished_at, outcome=str(status)))
        steps.append(_step("rating_archiving", "stopped"))
    else:
        steps.append(_step("feedback", "waiting"))
        steps.append(_step("rating_archiving", "waiting"))
    return steps
