"""Rows of the SQLite backend: timestamps as ISO-8601 text, JSON as text."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any, overload

from gateway.store.base import OUTBOX_FIELDS, RECORD_FIELDS, OutboxEntry, RequestRecord, RequestStatus
from gateway.store.json_documents import json_bytes, json_from

JSON_COLUMNS = ("envelope", "result", "error")


def json_text(value: Any) -> str:
    """A value as stored JSON text (:mod:`gateway.store.json_documents`)."""
    return json_bytes(value).decode()


def json_value(text: str | bytes) -> Any:
    """Stored JSON text back as a value, as ``json.loads`` reads it (integers past 64 bits exact)."""
    return json_from(text.encode() if isinstance(text, str) else text)


TIME_COLUMNS = ("created_at", "updated_at", "finished_at", "purged_at")


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:  # the store's own clock gives UTC already: no conversion to pay for
        if value.tzinfo is None:
            raise ValueError("the store only takes timezone-aware datetimes")
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


@overload
def dt(value: str) -> datetime: ...
@overload
def dt(value: None) -> None: ...
def dt(value: str | None) -> datetime | None:
    """A stored time back as an aware datetime (None stays None)."""
    return None if value is None else datetime.fromisoformat(value)


def record_of(row: sqlite3.Row) -> RequestRecord:
    data = {k: v for k, v in dict(row).items() if k in RECORD_FIELDS}  # columns of a later release: ignored
    for column in JSON_COLUMNS:
        if data[column] is not None:
            data[column] = json_value(data[column])
    for column in TIME_COLUMNS:
        data[column] = dt(data[column])
    data["status"] = RequestStatus(data["status"])
    return RequestRecord(**data)


def entry_of(row: sqlite3.Row, **override: Any) -> OutboxEntry:
    data = {k: v for k, v in dict(row).items() if k in OUTBOX_FIELDS}
    for column in ("due_at", "expires_at", "created_at", "lease_until"):
        data[column] = dt(data[column])
    data.update(override)
    return OutboxEntry(**data)
