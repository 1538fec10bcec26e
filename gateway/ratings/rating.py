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
from dataclasses import dataclass
from typing import Any

from gateway.callers.model import Caller
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


@dataclass(frozen=True)
class Rated:
    """What a rating is about -- a request or a bundle -- as far as rating it goes."""

    kind: str  # "request" or "bundle"
    id: str
    caller_id: str
    office: str
    channel: str
    item: str  # the item code, or the chain of a bundle
    status: str
    finished: bool
    envelope: Mapping[str, Any] | None = None  # whose names and identifiers a comment must not keep

    @property
    def path(self) -> str:
        return f"/v1/{self.kind}s/{self.id}/rating"


def rated_request(record: RequestRecord) -> Rated:
    """A request, as a rating sees it: finished once its status is final."""
    return Rated(
        "request",
        record.id,
        record.caller_id,
        record.office,
        record.channel,
        record.item,
        str(record.status),
        record.status.final,
        record.envelope,
    )


def _already_rated(subject: Rated) -> ProblemError:
    return ProblemError(
        ALREADY_RATED,
        f"The {subject.kind} {subject.id} has been rated already; a service is rated once.",
        f"{'申请' if subject.kind == 'request' else '一链办理'} {subject.id} 已评价，每项服务只能评价一次。",
        rating=subject.path,
    )


async def rate_request(
    book: RatingBook, events: Events, caller: Caller, record: RequestRecord, body: Mapping[str, Any]
) -> Rating:
    """Keep and audit ``caller``'s rating of ``record``, or raise the problem that stops it."""
    return await rate(book, events, caller, rated_request(record), body)


async def rate(book: RatingBook, events: Events, caller: Caller, subject: Rated, body: Mapping[str, Any]) -> Rating:
    """Keep and audit ``caller``'s rating of a request or bundle, or raise the problem that stops it."""
    if subject.caller_id != caller.id:
        raise ProblemError(
            FORBIDDEN,
            f"Only the intake system that made the {subject.kind} may rate it.",
            "只有受理该申请的终端可以提交评价。",
        )
    if not subject.finished:
        raise ProblemError(
            NOT_FINISHED,
            f"The {subject.kind} {subject.id} is {subject.status}: it can be rated once it is finished.",
            f"{subject.id} 当前状态为 {subject.status}，办结后方可评价。",
            status_now=subject.status,
        )
    if await book.of(subject.kind, subject.id) is not None:
        raise _already_rated(subject)
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
    comment = None if given.comment is None else masked_text(given.comment, subject.envelope)
    rating = Rating(
        id=new_ulid(),
        request_id=subject.id if subject.kind == "request" else None,
        bundle_id=subject.id if subject.kind == "bundle" else None,
        caller_id=caller.id,
        office=subject.office,
        channel=subject.channel,
        item=subject.item,
        grade=given.grade,
        tags=given.tags,
        comment=comment,
        rated_at=now,
        follow_up=FollowUp(new_ulid(), now) if given.grade.bad else None,
    )
    # Recorded before it is kept, like every act on a request: the store never holds a rating the log lacks.
    await events.emit(
        "rating.recorded",
        request_id=subject.id,
        rating=rating.id,
        rated=subject.kind,
        caller=caller.id,
        office=subject.office,
        channel=subject.channel,
        item=subject.item,
        grade=str(rating.grade),
        tags=list(rating.tags),
        comment_chars=len(comment or ""),
        comment_digest=None if comment is None else events.digest(comment, request_id=subject.id),
        follow_up=rating.follow_up.id if rating.follow_up else None,
    )
    if not await book.add(rating):
        raise _already_rated(subject)  # another call rated it between the check and now
    return rating
