"""Rows of the SQLite backend: timestamps as ISO-8601 text, JSON as text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, overload

import aiosqlite

from gateway.store.base import OUTBOX_FIELDS, RECORD_FIELDS, OutboxEntry, RequestRecord, RequestStatus

JSON_COLUMNS = ("envelope", "result", "error")
TIME_COLUMNS = ("created_at", "updated_at", "finished_at", "purged_at")


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("the store only takes timezone-aware datetimes")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


@overload
def dt(value: str) -> datetime: ...
@overload
def dt(value: None) -> None: ...
def dt(value: str | None) -> datetime | None:
    """A stored time back as an aware datetime (None stays None)."""
    return None if value is None else datetime.fromisoformat(value)


def record_of(row: aiosqlite.Row) -> RequestRecord:
    data = {k: v for k, v in dict(row).items() if k in RECORD_FIELDS}  # columns of a later release: ignored
    for column in JSON_COLUMNS:
        if data[column] is not None:
            data[column] = json.loads(data[column])
    for column in TIME_COLUMNS:
        data[column] = dt(data[column])
    data["status"] = RequestStatus(data["status"])
    return RequestRecord(**data)


def entry_of(row: aiosqlite.Row, **override: Any) -> OutboxEntry:
    data = {k: v for k, v in dict(row).items() if k in OUTBOX_FIELDS}
    for column in ("due_at", "expires_at", "created_at", "lease_until"):
        data[column] = dt(data[column])
    data.update(override)
    return OutboxEntry(**data)
