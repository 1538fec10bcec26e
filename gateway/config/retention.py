"""The ``[retention]`` section: how long applicants' data stays in the store.

A finished request keeps its envelope (names, ID numbers, attachments) and
its result (the sealed document) only as long as the district needs them
for follow-up; ``onewindow purge`` then removes both, keeping the request's
status, timestamps and its audit-log entries, which hold digests only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.config.values import refuse_unknown


@dataclass(frozen=True)
class RetentionSettings:
    """How long the personal data of finished requests is kept."""

    finished_after_days: int = 365  # purge envelopes and results of requests finished longer ago than this


def parse_retention_settings(table: Any) -> RetentionSettings:
    """``[retention]`` as :class:`RetentionSettings`; ``ValueError`` naming the key when wrong."""
    if not isinstance(table, Mapping):
        raise ValueError("retention: must be a table")
    refuse_unknown(table, ("finished_after_days",), "retention")
    days = table.get("finished_after_days", RetentionSettings.finished_after_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36500:
        raise ValueError(f"retention.finished_after_days: a whole number of days from 1 to 36500, not {days!r}")
    return RetentionSettings(finished_after_days=days)
