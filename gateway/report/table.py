"""The district report as one tidy CSV table: one figure per row, every dimension a column.

Columns: ``month, office, office_name, level, indicator, measure, item,
channel, category, value, unit, note``. Indicator rows carry the annex's
measures (``unit`` ``count`` or ``rate``, a rate as a fraction 0..1); the
breakdowns follow under ``indicator`` ``breakdown``: ``requests`` by item
and channel, ``status``, ``refusal_reason``, ``rejection_reason``,
``grade``, ``tag``, ``bundles`` (by status), ``outbox_now``. A figure this release cannot give has
an empty ``value`` and says why in ``note``. A text cell that a
spreadsheet would run as a formula (a refusal path is caller input) is
written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from gateway.report.figures import DistrictFigures
from gateway.report.indicators import INDICATORS, applies, value_of

COLUMNS = (
    "month",
    "office",
    "office_name",
    "level",
    "indicator",
    "measure",
    "item",
    "channel",
    "category",
    "value",
    "unit",
    "note",
)


def _row(
    base: Mapping[str, str],
    indicator: str,
    measure: str,
    value: Any,
    unit: str = "count",
    note: str = "",
    **dims: str,
) -> dict[str, Any]:
    return {
        **dict.fromkeys(COLUMNS, ""),
        **base,
        "indicator": indicator,
        "measure": measure,
        "value": "" if value is None else value,
        "unit": unit,
        "note": note,
        **dims,
    }


def rows(district: DistrictFigures, catalogue: Mapping[str, int] | None = None) -> Iterator[dict[str, Any]]:
    """Every row of the table, as dicts keyed by :data:`COLUMNS`."""
    catalogue = catalogue or {}
    for office in district.offices.values():
        base = {"month": district.month.label, "office": office.code, "office_name": office.name, "level": office.level}

        row = partial(_row, base)

        for indicator in INDICATORS:
            if applies(indicator, office):
                for measure in indicator.measures:
                    value, why = value_of(measure, office, district, catalogue)
                    shown = round(value, 6) if isinstance(value, float) else value
                    yield row(indicator.key, measure.key, shown, measure.unit, why or "")
        for (item, channel), n in sorted(office.by_item_channel.items()):
            yield row("breakdown", "requests", n, item=item, channel=channel)
        for status, n in sorted(office.by_status.items()):
            yield row("breakdown", "status", n, category=status)
        for problem, n in sorted(office.refusal_problems.items()):
            yield row("breakdown", "refusal_reason", n, category=problem)
        for reason, n in sorted(office.rejection_reasons.items()):
            yield row("breakdown", "rejection_reason", n, category=reason)
        for grade, n in sorted(office.grades.items()):
            yield row("breakdown", "grade", n, category=grade)
        for tag, n in sorted(office.tags.items()):
            yield row("breakdown", "tag", n, category=tag)
        for state, n in sorted(office.bundles.items()):
            yield row("breakdown", "bundles", n, category=state)
        if "proxy" not in district.unavailable:
            yield row("breakdown", "purged_requests", office.purged, note="envelope purged: proxy handling unknown")
        for action, n in sorted(office.outbox_now.items()):
            yield row("breakdown", "outbox_now", n, category=action)
        yield row("breakdown", "dead_letters", office.dead_letters)
        yield row("breakdown", "refusals", office.refusals)
        yield row("breakdown", "follow_ups_opened", office.follow_ups_opened)
        yield row("breakdown", "follow_ups_closed", office.follow_ups_closed)
        yield row("breakdown", "follow_ups_open_now", office.follow_ups_open_now)
        for name, why in sorted(district.unavailable.items()):
            yield row("breakdown", name, None, note=f"not available yet: {why}")


def inert(value: Any) -> Any:
    """A cell as a spreadsheet may open it: text starting like a formula is not run as one."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def render_csv(district: DistrictFigures, catalogue: Mapping[str, int] | None = None) -> str:
    """The table as CSV text (UTF-8 when written; a header row first)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: inert(v) for k, v in row.items()} for row in rows(district, catalogue))
    return out.getvalue()
