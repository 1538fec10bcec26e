"""A month of generated traffic for the district report, written through the store API.

Requests from every sample caller at its office and channel, spread over
November 2026 on the district's clock (plus three at the month's edges),
in every status; ratings of half the finished ones (bad ones with their
follow-ups, some closed), refusals at intake, rows waiting in the outbox.
Seeded, so a failure can be replayed.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.intake.request_ids import new_ulid
from gateway.ratings.book import FollowUp, Rating, RatingBook
from gateway.ratings.grades import TAGS, Grade
from gateway.store import RequestRecord, RequestStatus, Store
from gateway.store.plain_sql import Tables

MONTH = "2026-11"
START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 1 November 00:00 China Standard Time
END = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 December 00:00 CST
TOWN, STREET, VILLAGE = "370303105000", "370303007000", "370303105201"
CALLERS = (
    ("fangzhen-window", TOWN, "window"),
    ("fangzhen-kiosk", TOWN, "kiosk"),
    ("bank-outlet", TOWN, "partner_outlet"),
    ("helper-tablet", TOWN, "helper"),
    ("mashang-window", STREET, "window"),
    ("dongcun-station", VILLAGE, "village_station"),
)
ITEMS = ("tax.payment-record", "tax.clearance-certificate", "social_security.contribution-record", "medical.enrolment")
STATUSES = (
    (RequestStatus.COMPLETED, 60),
    (RequestStatus.REJECTED, 12),
    (RequestStatus.FAILED, 3),
    (RequestStatus.DEAD_LETTER, 4),
    (RequestStatus.PENDING, 8),
    (RequestStatus.DEFERRED, 6),
    (RequestStatus.ACCEPTED, 2),
)
REJECTIONS = ("arrears_outstanding", "not_registered", "record_not_found")
PROBLEMS = ("applicant/id_number:invalid_check_digit", "materials/period_start:required", "materials/reason:too_long")


async def columns(tables: Tables, table: str) -> set[str]:
    """The columns ``table`` has in this store."""
    if tables.postgres:
        rows = await tables.rows(
            "SELECT column_name AS name FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = current_schema()",
            table,
        )
    else:
        rows = await tables.rows("SELECT name FROM pragma_table_info(?)", table)
    return {r["name"] for r in rows}


def _request(rng: random.Random, created: datetime) -> RequestRecord:
    caller, office, channel = rng.choice(CALLERS)
    status = rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0]
    finished = created + timedelta(minutes=rng.randint(1, 3000)) if status.final else None
    result: dict[str, Any] | None = None
    if status is RequestStatus.REJECTED:
        result = {"reasons": [{"code": rng.choice(REJECTIONS), "message_zh": "不予办理", "message_en": "refused"}]}
    return RequestRecord(
        id=new_ulid(int(created.timestamp() * 1000)),
        caller_id=caller,
        item=rng.choice(ITEMS),
        agency="tax",
        office=office,
        operator=f"op-{rng.randint(1, 5)}",
        channel=channel,
        status=status,
        envelope={"applicant": {"name": "张伟"}}
        | (
            {"authorisation": {"applicant_id": "3703…", "items": ["*"]}}
            if channel == "helper" and rng.random() < 0.7
            else {}
        ),
        created_at=created,
        updated_at=finished or created,
        result=result,
        finished_at=finished,
    )


async def generate_month(store: Store, *, requests: int = 240, seed: int = 14) -> list[RequestRecord]:
    """Write a month of traffic into ``store``; returns the requests written (edges included)."""
    rng = random.Random(seed)
    span = (END - START).total_seconds()
    moments = [START + timedelta(seconds=rng.uniform(0, span - 3600)) for _ in range(requests)]
    moments += [START, START - timedelta(seconds=1), END]  # in (00:00 CST on the 1st), out, out
    written = []
    for moment in moments:
        record = _request(rng, moment)
        assert await store.insert_request(record)
        written.append(record)
    book = RatingBook(store)
    finished = [r for r in written if r.status.final and START <= r.created_at < END]
    for record in rng.sample(finished, len(finished) // 2):
        grade = rng.choice(list(Grade))
        rated = (record.finished_at or record.created_at) + timedelta(minutes=5)
        rated = min(rated, END - timedelta(seconds=1))
        rating = Rating(
            id=new_ulid(),
            request_id=record.id,
            caller_id=record.caller_id,
            office=record.office,
            channel=record.channel,
            item=record.item,
            grade=grade,
            tags=tuple(rng.sample(sorted(TAGS), rng.randint(0, 2))),
            comment=None,
            rated_at=rated,
            follow_up=FollowUp(new_ulid(), rated) if grade.bad else None,
        )
        assert await book.add(rating)
        if rating.follow_up is not None and rng.random() < 0.5:
            await book.close_follow_up(rating.follow_up.id, by="ops-li", note="已回访", now=rated + timedelta(days=1))
    tables = Tables(store)
    if "due_on" in await columns(tables, "requests"):  # a release with time limits: some finished late
        for record in written:
            if record.finished_at is not None:
                finished_on = (record.finished_at + timedelta(hours=8)).date()
                due_on = finished_on + timedelta(days=rng.choice((-2, -1, 0, 0, 1, 3)))
                await tables.write([("UPDATE requests SET due_on = ? WHERE id = ?", [due_on.isoformat(), record.id])])
    if await columns(tables, "bundles"):  # a release with chained items: bundles of the month, in every status
        for n in range(30):
            caller, office, channel = rng.choice(CALLERS)
            created = START + timedelta(hours=20 * n + 1)
            await tables.write(
                [
                    (
                        "INSERT INTO bundles (id, caller_id, chain, office, operator, channel, status, body, steps, "
                        "created_at, updated_at) VALUES (?, ?, 'new-business', ?, 'op-1', ?, ?, ?, ?, ?, ?)",
                        [
                            new_ulid(),
                            caller,
                            office,
                            channel,
                            rng.choice(("completed", "waiting", "stopped")),
                            {},
                            [],
                            created,
                            created,
                        ],
                    )
                ]
            )
    for _ in range(40):
        caller, office, channel = rng.choice(CALLERS)
        problems = rng.sample(PROBLEMS, rng.randint(1, 2))
        await tables.write(
            [
                (
                    "INSERT INTO refusals (request_id, caller_id, office, channel, item, problems, refused_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [new_ulid(), caller, office, channel, rng.choice(ITEMS), problems, rng.choice(moments[:-3])],
                )
            ]
        )
    for record in written:
        if record.status in (RequestStatus.DEFERRED, RequestStatus.ACCEPTED):
            await store.schedule(record.id, "submit", due_at=END, expires_at=END + timedelta(days=3))
        elif record.status is RequestStatus.PENDING:
            await store.schedule(record.id, "poll", due_at=END, expires_at=END + timedelta(days=3))
    return written
