"""Rating one finished request: only by the intake system that made it, once, stored and audited.

The window, kiosk or outlet that submitted the request is where the
applicant stands when the service ends, so only that caller may pass on
the rating (a caller reading its office's requests may see them, not rate
them). A request still being handled cannot be rated; a second rating is
refused. The comment is kept with ID numbers, credit codes, phone numbers
and the applicant's own name and identifiers masked, because the rating
outlives the request's retention period; the audit entry carries its keyed
digest and length, never its text. A bad rating opens a follow-up in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.intake.callers import Caller
from gateway.intake.request_ids import new_ulid
from gateway.observability.events import Events
from gateway.observability.logs import personal_values
from gateway.personal_data.masking import mask_name, mask_text
from gateway.problems import ALREADY_RATED, FORBIDDEN, NOT_FINISHED, VALIDATION_FAILED, ProblemError
from gateway.ratings.book import FollowUp, Rating, RatingBook
from gateway.ratings.grades import read_rating
from gateway.store import RequestRecord, utcnow


def masked_text(text: str, envelope: Mapping[str, Any] | None = None) -> str:
    """Free text as the gateway keeps it: numbers masked, and the applicant's names and identifiers
    from the request's envelope masked wherever they appear."""
    for value in sorted(personal_values(envelope or {}), key=len, reverse=True):
        if len(value) >= 2:
            text = text.replace(value, mask_name(value))
    return mask_text(text)


def _already_rated(record: RequestRecord) -> ProblemError:
    return ProblemError(
        ALREADY_RATED,
        f"Request {record.id} has been rated already; a service is rated once.",
        f"申请 {record.id} 已评价，每项服务只能评价一次。",
        rating=f"/v1/requests/{record.id}/rating",
    )


async def rate_request(
    book: RatingBook, events: Events, caller: Caller, record: RequestRecord, body: Mapping[str, Any]
) -> Rating:
    """Keep and audit ``caller``'s rating of ``record``, or raise the problem that stops it."""
    if record.caller_id != caller.id:
        raise ProblemError(
            FORBIDDEN,
            "Only the intake system that made the request may rate it.",
            "只有受理该申请的终端可以提交评价。",
        )
    if not record.status.final:
        raise ProblemError(
            NOT_FINISHED,
            f"Request {record.id} is {record.status}: it can be rated once it is finished.",
            f"申请 {record.id} 当前状态为 {record.status}，办结后方可评价。",
            status_now=str(record.status),
        )
    if await book.of_request(record.id) is not None:
        raise _already_rated(record)
    given, problems = read_rating(body)
    if given is None:
        raise ProblemError(
            VALIDATION_FAILED,
            f"{len(problems)} problem(s) with the rating; every one is listed in 'errors'.",
            f"评价共有 {len(problems)} 处问题，已在 errors 中一次性列出。",
            errors=[
                {"path": p.path, "code": p.code, "message_zh": p.message_zh, "message_en": p.message_en}
                for p in problems
            ],
        )
    now = utcnow()
    comment = None if given.comment is None else masked_text(given.comment, record.envelope)
    rating = Rating(
        id=new_ulid(),
        request_id=record.id,
        caller_id=caller.id,
        office=record.office,
        channel=record.channel,
        item=record.item,
        grade=given.grade,
        tags=given.tags,
        comment=comment,
        rated_at=now,
        follow_up=FollowUp(new_ulid(), now) if given.grade.bad else None,
    )
    # Recorded before it is kept, like every act on a request: the store never holds a rating the log lacks.
    await events.emit(
        "rating.recorded",
        request_id=record.id,
        rating=rating.id,
        caller=caller.id,
        office=record.office,
        channel=record.channel,
        item=record.item,
        grade=str(rating.grade),
        tags=list(rating.tags),
        comment_chars=len(comment or ""),
        comment_digest=None if comment is None else events.digest(comment, request_id=record.id),
        follow_up=rating.follow_up.id if rating.follow_up else None,
    )
    if not await book.add(rating):
        raise _already_rated(record)  # another call rated it between the check and now
    return rating
