"""The ``[calendar]`` section: the days the district's service centres are closed beyond the official calendar.

The official calendar -- public holidays and the weekend days made working
days in exchange -- comes from the ``chinese-calendar`` package. A district
adds its own closures here: inline ``closures`` (ISO dates) and/or a
``closures_file`` (TOML; it may also carry the State Council's schedule of a
year the package does not know yet). The file is read when the gateway
starts (:mod:`gateway.service.calendar`), so a wrong date stops the start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from gateway.config.values import refuse_unknown


@dataclass(frozen=True)
class CalendarSettings:
    """Local closures counted as non-working days by every time limit (办理时限)."""

    closures_file: str = ""  # a TOML file of closures (and official years the package lacks); empty: none
    closures: tuple[date, ...] = ()  # days every office of the district is closed


def parse_date(value: Any, where: str) -> date:
    """An ISO date (``2026-10-09``) or a TOML date, else ``ValueError`` naming ``where``."""
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}: expected a date as YYYY-MM-DD, got {str(value)[:40]!r}")


def parse_calendar_settings(table: Any) -> CalendarSettings:
    """``[calendar]`` as :class:`CalendarSettings`; ``ValueError`` naming the key when wrong."""
    if not isinstance(table, Mapping):
        raise ValueError("calendar: must be a table")
    refuse_unknown(table, tuple(f.name for f in fields(CalendarSettings)), "calendar")
    path = table.get("closures_file", "")
    if not isinstance(path, str):
        raise ValueError("calendar.closures_file: expected a string (a file path)")
    closures = table.get("closures", [])
    if not isinstance(closures, list):
        raise ValueError("calendar.closures: expected a list of dates (YYYY-MM-DD)")
    days = tuple(parse_date(value, f"calendar.closures[{i}]") for i, value in enumerate(closures))
    return CalendarSettings(closures_file=path.strip(), closures=tuple(sorted(set(days))))
