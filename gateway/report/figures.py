"""The month's figures per office, counted from the store.

Everything is counted from what the gateway itself recorded: requests
(by the month they were received, on the district's clock), refusals at
intake, ratings and their follow-ups, and the outbox as it stands when the
report is made. A figure the store cannot give -- because the feature that
records it is not in this release -- is ``None`` with the reason in
``unavailable``, never a zero: a zero would say "none happened".

Requests are read in pages (keyset on the id) with progress reported per
page, so a month of a busy district neither holds one long transaction nor
leaves the operator guessing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from importlib.util import find_spec
from typing import Any

from gateway.config import Office
from gateway.ratings.grades import Grade
from gateway.report.month import Month
from gateway.store import utcnow
from gateway.store.plain_sql import Tables

PAGE = 2000
FINAL = ("completed", "rejected", "failed", "dead_letter")
WAITING = ("accepted", "pending", "deferred")
#: The centre's opening hours on a working day, for counting self-service used outside them (24小时不打烊).
OPENING = (time(8, 30), time(17, 30))
SELF_SERVICE = "kiosk"

Progress = Callable[[str], None]


@dataclass
class OfficeFigures:
    """One office's month."""

    code: str
    name: str
    level: str
    by_item_channel: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    operators: set[str] = field(default_factory=set)
    self_service_off_hours: int = 0
    refusals: int = 0
    refusal_problems: Counter[str] = field(default_factory=Counter)
    rejection_reasons: Counter[str] = field(default_factory=Counter)
    grades: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    follow_ups_opened: int = 0
    follow_ups_closed: int = 0  # of those opened this month, closed by the time of the report
    follow_ups_open_now: int = 0  # every open follow-up of the office, whenever opened
    outbox_now: Counter[str] = field(default_factory=Counter)
    on_time: int | None = None
    with_due_date: int | None = None
    bundles: Counter[str] = field(default_factory=Counter)  # bundles (一链办理) received, by status
    proxy_handled: int = 0  # requests carrying an applicant's authorisation (帮办代办)
    purged: int = 0  # requests whose envelope was purged: whether a proxy handled them is no longer known

    @property
    def received(self) -> int:
        return sum(self.by_status.values())

    @property
    def finished(self) -> int:
        return sum(self.by_status[s] for s in FINAL)

    @property
    def completed(self) -> int:
        return self.by_status["completed"]

    @property
    def dead_letters(self) -> int:
        return self.by_status["dead_letter"]

    @property
    def rated(self) -> int:
        return sum(self.grades.values())

    @property
    def good_ratings(self) -> int:
        return sum(n for grade, n in self.grades.items() if not Grade(grade).bad)

    def by_channel(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for (_, channel), n in self.by_item_channel.items():
            found[channel] += n
        return found

    def by_item(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for (item, _), n in self.by_item_channel.items():
            found[item] += n
        return found


def rate(part: int | None, whole: int | None) -> float | None:
    """``part / whole``, or None when there is nothing to divide (no rate, rather than 0 %)."""
    if part is None or not whole:
        return None
    return part / whole


@dataclass
class DistrictFigures:
    """Every office's month, and which figures this store cannot give (name -> why)."""

    month: Month
    offices: dict[str, OfficeFigures]
    made_at: datetime
    unavailable: dict[str, str] = field(default_factory=dict)


def _off_hours(month: Month, moment: datetime) -> bool:
    local = month.local(moment)
    return local.weekday() >= 5 or not OPENING[0] <= local.time() < OPENING[1]


async def _columns(tables: Tables, table: str) -> set[str]:
    """The columns ``table`` has in this store (empty when the table does not exist)."""
    if tables.postgres:
        rows = await tables.rows(
            "SELECT column_name AS name FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = current_schema()",
            table,
        )
    else:
        rows = await tables.rows("SELECT name FROM pragma_table_info(?)", table)
    return {r["name"] for r in rows}


async def gather(
    store: Any,
    month: Month,
    offices: Iterable[Office],
    *,
    progress: Progress = lambda _: None,
) -> DistrictFigures:
    """Count ``month`` for each of ``offices`` from ``store``."""
    tables = Tables(store)
    figures = {o.code: OfficeFigures(o.code, o.name, o.level) for o in offices}
    district = DistrictFigures(month, figures, made_at=utcnow())
    codes = list(figures)
    if not codes:
        return district
    marks = ", ".join("?" for _ in codes)
    bounds = (month.start, month.end)
    request_columns = await _columns(tables, "requests")
    has_due = "due_on" in request_columns
    if not has_due:
        district.unavailable["on_time"] = "due dates (办理时限) are not recorded by this release"
    has_proxy = find_spec("gateway.proxy") is not None
    if not has_proxy:
        district.unavailable["proxy"] = "proxy handling (帮办代办 authorisations) is not recorded by this release"
    await _requests(tables, district, marks, codes, bounds, has_due, has_proxy, progress)
    progress("reading agency rejections")
    await _rejections(tables, district, marks, codes, bounds)
    progress("reading refusals at intake")
    for row in await tables.rows(
        f"SELECT office, problems FROM refusals WHERE office IN ({marks}) AND refused_at >= ? AND refused_at < ?",
        *codes,
        *bounds,
        json=("problems",),
    ):
        office = figures[row["office"]]
        office.refusals += 1
        office.refusal_problems.update(set(row["problems"] or ()))
    progress("reading ratings and follow-ups")
    await _ratings(tables, district, marks, codes, bounds)
    progress("reading the outbox")
    for row in await tables.rows(
        f"SELECT r.office, o.action, count(*) AS n FROM outbox o JOIN requests r ON r.id = o.request_id "
        f"WHERE r.office IN ({marks}) GROUP BY r.office, o.action",
        *codes,
    ):
        figures[row["office"]].outbox_now[row["action"]] = int(row["n"])
    if await _columns(tables, "bundles"):
        progress("reading bundles")
        for row in await tables.rows(
            f"SELECT office, status, count(*) AS n FROM bundles WHERE office IN ({marks}) "
            "AND created_at >= ? AND created_at < ? GROUP BY office, status",
            *codes,
            *bounds,
        ):
            figures[row["office"]].bundles[row["status"]] = int(row["n"])
    else:
        district.unavailable["bundles"] = "chained items (一链办理, bundles) are not recorded by this release"
    return district


async def _requests(
    tables: Tables,
    district: DistrictFigures,
    marks: str,
    codes: list[str],
    bounds: tuple[datetime, datetime],
    has_due: bool,
    has_proxy: bool,
    progress: Progress,
) -> None:
    due = ", due_on" if has_due else ""
    if has_proxy:  # the authorisation is kept in the stored envelope, until the retention purge
        carried = "(envelope -> 'authorisation')" if tables.postgres else "json_extract(envelope, '$.authorisation')"
        due += f", {carried} IS NOT NULL AS proxy, purged_at IS NOT NULL AS purged"
    after: tuple[Any, str] = (bounds[0], "")
    read = 0
    while True:  # keyset pages in the order received (index requests_by_created): no long transaction
        rows = await tables.rows(
            f"SELECT id, office, item, channel, operator, status, created_at, finished_at{due} FROM requests "
            f"WHERE created_at >= ? AND created_at < ? AND (created_at > ? OR (created_at = ? AND id > ?)) "
            f"AND office IN ({marks}) ORDER BY created_at, id LIMIT ?",
            *bounds,
            after[0],
            after[0],
            after[1],
            *codes,
            PAGE,
            times=("created_at", "finished_at"),
        )
        for row in rows:
            _count_request(district, row, has_due)
        read += len(rows)
        progress(f"requests of {district.month.label}: {read} read")
        if len(rows) < PAGE:
            return
        after = (rows[-1]["created_at"], rows[-1]["id"])


def _count_request(district: DistrictFigures, row: Mapping[str, Any], has_due: bool) -> None:
    office = district.offices[row["office"]]
    office.by_item_channel[(row["item"], row["channel"])] += 1
    office.by_status[row["status"]] += 1
    office.operators.add(row["operator"])
    if row.get("purged"):
        office.purged += 1
    elif row.get("proxy"):
        office.proxy_handled += 1
    if row["channel"] == SELF_SERVICE and _off_hours(district.month, row["created_at"]):
        office.self_service_off_hours += 1
    if has_due and row.get("due_on") is not None and row["status"] in FINAL and row["finished_at"] is not None:
        office.with_due_date = (office.with_due_date or 0) + 1
        due_on = row["due_on"] if not isinstance(row["due_on"], str) else datetime.fromisoformat(row["due_on"])
        due_date = due_on.date() if isinstance(due_on, datetime) else due_on
        if district.month.local(row["finished_at"]).date() <= due_date:
            office.on_time = (office.on_time or 0) + 1


async def _rejections(
    tables: Tables, district: DistrictFigures, marks: str, codes: list[str], bounds: tuple[datetime, datetime]
) -> None:
    for row in await tables.rows(
        f"SELECT office, result FROM requests WHERE status = 'rejected' AND office IN ({marks}) "
        "AND created_at >= ? AND created_at < ?",
        *codes,
        *bounds,
        json=("result",),
    ):
        reasons = (row["result"] or {}).get("reasons") or [{"code": "(purged)"}]
        district.offices[row["office"]].rejection_reasons.update(
            {str(r.get("code")) for r in reasons if isinstance(r, dict)}
        )


async def _ratings(
    tables: Tables, district: DistrictFigures, marks: str, codes: list[str], bounds: tuple[datetime, datetime]
) -> None:
    for row in await tables.rows(
        f"SELECT r.office, r.grade, r.tags, f.id AS follow_up, f.closed_at FROM ratings r "
        f"LEFT JOIN rating_follow_ups f ON f.rating_id = r.id "
        f"WHERE r.office IN ({marks}) AND r.rated_at >= ? AND r.rated_at < ?",
        *codes,
        *bounds,
        json=("tags",),
    ):
        office = district.offices[row["office"]]
        office.grades[row["grade"]] += 1
        office.tags.update(row["tags"] or ())
        if row["follow_up"] is not None:
            office.follow_ups_opened += 1
            office.follow_ups_closed += row["closed_at"] is not None
    for row in await tables.rows(
        f"SELECT office, count(*) AS n FROM rating_follow_ups WHERE office IN ({marks}) AND closed_at IS NULL "
        "GROUP BY office",
        *codes,
    ):
        district.offices[row["office"]].follow_ups_open_now = int(row["n"])
