"""Ratings and their follow-ups in the store: one rating per request (or bundle), kept once.

The tables come with migration 0011 (``ratings``, ``rating_follow_ups``);
the same SQL runs on SQLite and PostgreSQL through
:class:`~gateway.store.plain_sql.Tables`. A rating and the follow-up a bad
one opens are written in one transaction, so there is never a bad rating
without its follow-up; the unique request (or bundle) id makes a second
rating of the same service write nothing, however two calls race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.ratings.grades import Grade
from gateway.store.plain_sql import Tables

_RATING_COLUMNS = (
    "id",
    "request_id",
    "bundle_id",
    "caller_id",
    "office",
    "channel",
    "item",
    "grade",
    "comment",
    "tags",
    "rated_at",
)
_SELECT = (
    "SELECT r.id, r.request_id, r.bundle_id, r.caller_id, r.office, r.channel, r.item, r.grade, r.comment, "
    "r.tags, r.rated_at, f.id AS follow_up_id, f.opened_at, f.closed_at, f.closed_by, f.note "
    "FROM ratings r LEFT JOIN rating_follow_ups f ON f.rating_id = r.id"
)
_TIMES = ("rated_at", "opened_at", "closed_at")


@dataclass(frozen=True)
class FollowUp:
    """The follow-up of a bad rating: open until an operator closes it with a note."""

    id: str
    opened_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None
    note: str | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Rating:
    """One rating of one finished request or bundle, as stored (comment already masked)."""

    id: str
    caller_id: str
    office: str
    channel: str
    item: str
    grade: Grade
    tags: tuple[str, ...]
    comment: str | None
    rated_at: datetime
    request_id: str | None = None
    bundle_id: str | None = None
    follow_up: FollowUp | None = None

    def view(self) -> dict[str, Any]:
        """The rating as the API shows it."""
        follow_up = self.follow_up
        return {
            "id": self.id,
            **({"request_id": self.request_id} if self.request_id else {"bundle_id": self.bundle_id}),
            "grade": str(self.grade),
            "grade_zh": self.grade.zh,
            "tags": list(self.tags),
            "comment": self.comment,
            "rated_at": self.rated_at.isoformat(),
            "follow_up": None
            if follow_up is None
            else {"id": follow_up.id, "status": "open" if follow_up.open else "closed"},
        }


def _rating(row: dict[str, Any]) -> Rating:
    follow_up = None
    if row.get("follow_up_id"):
        follow_up = FollowUp(row["follow_up_id"], row["opened_at"], row["closed_at"], row["closed_by"], row["note"])
    return Rating(
        id=row["id"],
        caller_id=row["caller_id"],
        office=row["office"],
        channel=row["channel"],
        item=row["item"],
        grade=Grade(row["grade"]),
        tags=tuple(row["tags"] or ()),
        comment=row["comment"],
        rated_at=row["rated_at"],
        request_id=row["request_id"],
        bundle_id=row["bundle_id"],
        follow_up=follow_up,
    )


class RatingBook:
    """The ratings and follow-ups of an open store."""

    def __init__(self, store: Any) -> None:
        self.tables = Tables(store)

    async def add(self, rating: Rating) -> bool:
        """Keep ``rating`` (and its follow-up, if it has one); False when its service was rated already."""
        values = [getattr(rating, c) for c in _RATING_COLUMNS]
        values[_RATING_COLUMNS.index("grade")] = str(rating.grade)
        values[_RATING_COLUMNS.index("tags")] = list(rating.tags)
        marks = ", ".join("?" for _ in _RATING_COLUMNS)
        statements: list[tuple[str, list[Any]]] = [
            (f"INSERT INTO ratings ({', '.join(_RATING_COLUMNS)}) VALUES ({marks}) ON CONFLICT DO NOTHING", values)
        ]
        if rating.follow_up is not None:
            statements.append(
                (
                    "INSERT INTO rating_follow_ups (id, rating_id, office, opened_at) "
                    "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM ratings WHERE id = ?)",
                    [rating.follow_up.id, rating.id, rating.office, rating.follow_up.opened_at, rating.id],
                )
            )
        counts = await self.tables.write(statements)
        return counts[0] == 1

    async def of_request(self, request_id: str) -> Rating | None:
        """The rating of a request, or None."""
        return await self.of("request", request_id)

    async def of(self, kind: str, subject_id: str) -> Rating | None:
        """The rating of a ``request`` or a ``bundle``, or None."""
        column = {"request": "r.request_id", "bundle": "r.bundle_id"}[kind]
        rows = await self.tables.rows(_SELECT + f" WHERE {column} = ?", subject_id, times=_TIMES, json=("tags",))
        return _rating(rows[0]) if rows else None

    async def with_follow_up(self, follow_up_id: str) -> Rating | None:
        """The rating whose follow-up this is, or None."""
        rows = await self.tables.rows(_SELECT + " WHERE f.id = ?", follow_up_id, times=_TIMES, json=("tags",))
        return _rating(rows[0]) if rows else None

    async def listing(self, *, open_only: bool = False, office: str | None = None, limit: int = 200) -> list[Rating]:
        """Ratings, newest first: only those with an open follow-up, only one office's, if asked."""
        where, params = [], []
        if open_only:
            where.append("f.id IS NOT NULL AND f.closed_at IS NULL")
        if office is not None:
            where.append("r.office = ?")
            params.append(office)
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.rated_at DESC LIMIT ?"
        return [_rating(r) for r in await self.tables.rows(sql, *params, limit, times=_TIMES, json=("tags",))]

    async def close_follow_up(self, follow_up_id: str, *, by: str, note: str, now: datetime) -> bool:
        """Close an open follow-up with the operator's note (already masked); False when it is not open."""
        counts = await self.tables.write(
            [
                (
                    "UPDATE rating_follow_ups SET closed_at = ?, closed_by = ?, note = ? "
                    "WHERE id = ? AND closed_at IS NULL",
                    [now, by, note, follow_up_id],
                )
            ]
        )
        return counts[0] == 1
