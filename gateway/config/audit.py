"""The ``[audit]`` section of the configuration, checked when it is loaded.

Kept apart from :mod:`gateway.config.settings` (which imports it) so the
audit log's knobs live in one place; it imports nothing from the gateway
but the configuration's own value checks, so there is no import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from gateway.config.values import refuse_unknown


@dataclass(frozen=True)
class AuditSettings:
    """How the tamper-evident audit log is written, checkpointed and keyed."""

    enabled: bool = True
    log_id: str = ""  # default: onewindow-audit/<district code of the seal registry>
    key_file: str = ""  # default: <pki.dir>/audit/audit-key.pem, encrypted with the seal-key passphrase
    checkpoint_every: int = 1000  # sign a checkpoint at least every N entries ...
    checkpoint_interval_s: float = 10.0  # ... and at least this often while entries arrive
    batch_window_ms: float = 2.0  # group commit: how long the appender waits for more entries
    batch_max: int = 512  # at most this many entries per transaction
    payload_key_file: str = ""  # AES-256-GCM key: keep raw payloads encrypted beside their entries
    secret_file: str = ""  # default: <pki.dir>/audit/audit-secret.key (entry chain and keyed digests)


def parse_audit_settings(table: Any) -> AuditSettings:
    """``[audit]`` as :class:`AuditSettings`; ``ValueError`` naming the field when wrong."""
    if not isinstance(table, Mapping):
        raise ValueError("audit: must be a table")
    known = {f.name: f for f in fields(AuditSettings)}
    refuse_unknown(table, known, "audit")
    values: dict[str, Any] = {}
    for name, value in table.items():
        kind = {"bool": bool, "str": str, "int": int, "float": float}[str(known[name].type)]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ValueError(f"audit.{name}: expected {kind.__name__}, got {value!r}")
        if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            raise ValueError(f"audit.{name}: must be greater than zero")
        values[name] = value
    log_id = values.get("log_id", "")
    if log_id and (len(log_id) > 255 or not all("\x21" <= c <= "\x7e" for c in log_id)):
        raise ValueError("audit.log_id: 1-255 printable ASCII characters without spaces")
    return AuditSettings(**values)
