"""The ``[outbox]`` section: how background workers redeliver, poll and call back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from gateway.config.values import refuse_unknown, typed_values
from gateway.errors import ConfigError


@dataclass(frozen=True)
class OutboxSettings:
    """How background workers redeliver, poll and call back."""

    workers: bool = True
    tick_s: float = 0.5
    batch: int = 20
    concurrency: int = 8
    retry_initial_s: float = 2.0
    retry_max_s: float = 300.0
    callback_max_age_hours: float = 24.0
    shutdown_grace_s: float = 10.0


OUTBOX_KEYS = frozenset(f.name for f in fields(OutboxSettings))


def parse_outbox(table: Any) -> OutboxSettings:
    """``[outbox]`` as :class:`OutboxSettings`; ConfigError naming the key when wrong."""
    if not isinstance(table, Mapping):
        raise ConfigError("outbox: must be a table")
    refuse_unknown(table, OUTBOX_KEYS, "outbox")
    return OutboxSettings(**typed_values(table, OutboxSettings, "outbox"))
