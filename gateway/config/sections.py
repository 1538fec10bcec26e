"""Every key the configuration knows, so that nothing unknown is ignored.

A misspelt key (``prot = 8701``), section (``[audti]``) or environment
variable (``ONEWINDOW_SERVR__PORT``) used to be ignored, leaving the default
in place without a word. Every table is now checked against the keys below
when the configuration loads, and the refusal names the key and the closest
known one. Values below ``secrets``, ``options`` (the plugin's own) and
``item_timeouts`` (item codes) are not keys of ours; the start-up checks
judge what they can there (:mod:`gateway.startup`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from gateway.config.agencies import AGENCY_KEYS, FREE_TABLES
from gateway.config.audit import AuditSettings
from gateway.config.authentication import AUTHENTICATION_KEYS
from gateway.config.bundles import BundleSettings
from gateway.config.calendar import CalendarSettings
from gateway.config.callers import CALLER_KEYS, OFFICE_KEYS
from gateway.config.http import HttpLimits
from gateway.config.metrics import MetricsSettings
from gateway.config.outbox import OUTBOX_KEYS
from gateway.config.printouts import PrintoutSettings
from gateway.config.retention import RetentionSettings
from gateway.config.tls import TLS_KEYS
from gateway.config.values import refuse_unknown
from gateway.config.witness import WitnessSettings
from gateway.errors import ConfigError

#: The tables of one key each (``[server]`` ...), by name, with the keys each knows.
TABLES: Mapping[str, frozenset[str]] = {
    "server": frozenset(
        {"host", "port", "public_url", "max_body_bytes", "max_attachment_bytes", "request_deadline_s", "event_loop"}
        | {f.name for f in fields(HttpLimits)}
        | TLS_KEYS
    ),
    "store": frozenset({"url"}),
    "logging": frozenset({"level", "format"}),
    "idempotency": frozenset({"ttl_hours"}),
    "pki": frozenset({"dir", "passphrase_file", "create_sample_district"}),
    "plugins": frozenset({"disabled", "block_threshold_ms"}),
    "sandboxes": frozenset({"start", "host", "port_offset"}),
    "outbox": OUTBOX_KEYS,
    "audit": frozenset(f.name for f in fields(AuditSettings)),
    "retention": frozenset(f.name for f in fields(RetentionSettings)),
    "metrics": frozenset(f.name for f in fields(MetricsSettings)),
    "witness": frozenset(f.name for f in fields(WitnessSettings)),
    "printouts": frozenset(f.name for f in fields(PrintoutSettings)),
    "calendar": frozenset(f.name for f in fields(CalendarSettings)),
    "authentication": AUTHENTICATION_KEYS,
    "bundles": frozenset(f.name for f in fields(BundleSettings)),
}
#: The arrays of tables (``[[offices]]``, ``[[callers]]``), with the keys of each row.
ROWS: Mapping[str, frozenset[str]] = {"offices": OFFICE_KEYS, "callers": CALLER_KEYS}
AGENCIES = "agencies"  # [agencies.<code>]: one table per agency code, each with AGENCY_KEYS
SECTIONS = frozenset(TABLES) | frozenset(ROWS) | {AGENCIES}


def check_sections(data: Mapping[str, Any]) -> None:
    """Refuse the first unknown section or key anywhere in the merged configuration ``data``."""
    refuse_unknown(data, SECTIONS, "", kind="section")
    for name, known in TABLES.items():
        table = data.get(name, {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"{name}: must be a table ([{name}])")
        refuse_unknown(table, known, name)
    for name, known in ROWS.items():
        rows = data.get(name, [])
        if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
            raise ConfigError(f"{name}: must be a list of [[{name}]] tables")
        for i, row in enumerate(rows):
            refuse_unknown(row, known, f"{name}[{i}]")
    agencies = data.get(AGENCIES, {})
    if not isinstance(agencies, Mapping):
        raise ConfigError("agencies: must be a table of [agencies.<code>] tables")
    for code, table in agencies.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"agencies.{code}: must be a table ([agencies.{code}])")
        refuse_unknown(table, AGENCY_KEYS, f"agencies.{code}")


def known_keys(path: tuple[str, ...]) -> frozenset[str] | None:
    """The keys known below ``path`` (``("server",)``, ``("agencies", "tax")``); None where any key goes."""
    if not path:
        return SECTIONS
    section, rest = path[0], path[1:]
    if section in TABLES:
        return TABLES[section] if not rest else frozenset()
    if section == AGENCIES:
        if len(rest) == 0:
            return None  # agency codes: checked against the installed agencies at start-up
        if len(rest) == 1:
            return AGENCY_KEYS
        return None if len(rest) == 2 and rest[1] in FREE_TABLES else frozenset()
    return frozenset()
