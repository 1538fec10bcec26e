"""Configuration: one TOML file, environment overrides, typed settings.

The effective configuration is built in layers: the embedded base defaults,
then either the operator's TOML file or (when none is given) the embedded
sample district, then ``ONEWINDOW_<SECTION>__<KEY>`` environment variables.
Every value is checked when loaded, and every key, section and variable must
be one Onewindow knows (:mod:`gateway.config.sections`), so a typo stops the
start with a message that names it instead of leaving a default in place.
Checks that need the installed plugins (agency identities and addresses,
callers' item patterns) run at start-up: :mod:`gateway.startup`.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from gateway.config.agencies import AgencySettings, parse_agency
from gateway.config.audit import AuditSettings, parse_audit_settings
from gateway.config.authentication import AuthenticationSettings, parse_authentication_settings
from gateway.config.bundles import BundleSettings, parse_bundle_settings
from gateway.config.calendar import CalendarSettings, parse_calendar_settings
from gateway.config.callers import CallerConfig, Office, parse_callers, parse_offices
from gateway.config.environment import apply_environment
from gateway.config.http import HttpLimits, parse_http_limits
from gateway.config.metrics import MetricsSettings, parse_metrics_settings
from gateway.config.outbox import OutboxSettings, parse_outbox
from gateway.config.printouts import PrintoutSettings, parse_printout_settings
from gateway.config.retention import RetentionSettings, parse_retention_settings
from gateway.config.sections import check_sections
from gateway.config.tls import TlsSettings, parse_tls_settings
from gateway.config.values import get_value, positive, shown
from gateway.config.witness import WitnessSettings, parse_witness_settings
from gateway.contract import AgencyIdentity
from gateway.errors import ConfigError

LOG_LEVELS = ("debug", "info", "warning", "error")
EVENT_LOOPS = ("uvloop", "asyncio")  # server.event_loop: gateway.api.event_loop


#: The ``source`` of the sample configuration (no file: ``make run``).
SAMPLE_SOURCE = "embedded sample configuration"


@dataclass(frozen=True)
class Settings:
    """The whole, checked configuration of one gateway process."""

    host: str
    port: int
    public_url: str
    max_body_bytes: int
    max_attachment_bytes: int
    request_deadline_s: float
    store_url: str
    log_level: str
    log_format: str
    idempotency_ttl_hours: float
    sandboxes_start: bool
    sandboxes_host: str
    sandboxes_port_offset: int
    plugins_disabled: tuple[str, ...]
    plugins_block_threshold_s: float
    pki_dir: str
    pki_passphrase_file: str
    pki_create_sample: bool
    outbox: OutboxSettings
    offices: Mapping[str, Office]
    callers: tuple[CallerConfig, ...]
    agencies: Mapping[str, AgencySettings]
    raw: Mapping[str, Any]
    source: str
    audit: AuditSettings = field(default_factory=AuditSettings)
    http: HttpLimits = field(default_factory=HttpLimits)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    printouts: PrintoutSettings = field(default_factory=PrintoutSettings)
    bundles: BundleSettings = field(default_factory=BundleSettings)
    from_environment: Mapping[str, str] = field(default_factory=dict)  # dotted setting path -> variable
    witness: WitnessSettings = field(default_factory=WitnessSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    authentication: AuthenticationSettings = field(default_factory=AuthenticationSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)  # [server] tls_*, client_*: gateway.config.tls
    event_loop: str = "uvloop"  # one of EVENT_LOOPS

    def agency(self, code: str) -> AgencySettings:
        """Settings for agency ``code`` (defaults when it is not configured)."""
        return self.agencies.get(code) or AgencySettings(code=code)

    def agency_identity(self, code: str) -> AgencyIdentity:
        """Who agency ``code`` is in this district; ConfigError naming each identity key not configured."""
        return self.agency(code).identity()

    def office(self, code: str) -> Office | None:
        """The office with this 12-digit code, or None."""
        return self.offices.get(code)


def _embedded(name: str) -> dict[str, Any]:
    text = resources.files("gateway.config").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _plugins_disabled(table: Mapping[str, Any]) -> tuple[str, ...]:
    names = get_value(table, "disabled", list, "plugins", [])
    if not all(isinstance(name, str) and name for name in names):
        raise ConfigError('plugins.disabled: must be a list of plugin names, e.g. ["property"]')
    return tuple(names)


def _audit(table: Any) -> AuditSettings:
    try:
        return parse_audit_settings(table)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _section(parse: Any, table: Any, **context: Any) -> Any:
    try:
        return parse(table, **context)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _retention(table: Any) -> RetentionSettings:
    try:
        return parse_retention_settings(table)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _scheme(server: Mapping[str, Any]) -> str:
    """``https`` when the listener is configured with a certificate."""
    return "https" if server.get("tls_certificate") else "http"


def build_settings(
    data: Mapping[str, Any], *, source: str, from_environment: Mapping[str, str] | None = None
) -> Settings:
    """Check the merged configuration ``data`` and turn it into :class:`Settings`."""
    check_sections(data)
    server = data.get("server", {})
    store = data.get("store", {})
    logs = data.get("logging", {})
    sandboxes = data.get("sandboxes", {})
    offices = parse_offices(data.get("offices", []))
    agencies_raw = data.get("agencies", {})
    if not isinstance(agencies_raw, Mapping):
        raise ConfigError("agencies: must be a table of [agencies.<code>] tables")
    port = get_value(server, "port", int, "server")
    if not 0 <= port <= 65535:
        raise ConfigError("server.port: must be between 0 and 65535")
    store_url = get_value(store, "url", str, "store")
    if not store_url.startswith(("sqlite:", "postgresql:", "postgres:")):
        raise ConfigError("store.url: must start with sqlite: or postgresql:")
    log_format = get_value(logs, "format", str, "logging", "json")
    if log_format not in ("json", "console"):
        raise ConfigError("logging.format: must be json or console")
    log_level = get_value(logs, "level", str, "logging", "info")
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"logging.level: must be one of {', '.join(LOG_LEVELS)}")
    host = get_value(server, "host", str, "server")
    loop = get_value(server, "event_loop", str, "server", "uvloop")
    if loop not in EVENT_LOOPS:
        raise ConfigError(f"server.event_loop: must be {' or '.join(EVENT_LOOPS)}, not {shown(loop)}")
    authentication: AuthenticationSettings = _section(parse_authentication_settings, data.get("authentication", {}))
    return Settings(
        host=host,
        port=port,
        public_url=get_value(server, "public_url", str, "server", f"{_scheme(server)}://{host}:{port}").rstrip("/"),
        max_body_bytes=int(positive(get_value(server, "max_body_bytes", int, "server"), "server.max_body_bytes")),
        max_attachment_bytes=int(
            positive(get_value(server, "max_attachment_bytes", int, "server"), "server.max_attachment_bytes")
        ),
        request_deadline_s=positive(
            get_value(server, "request_deadline_s", float, "server"), "server.request_deadline_s"
        ),
        store_url=store_url,
        log_level=log_level,
        log_format=log_format,
        idempotency_ttl_hours=positive(
            get_value(data.get("idempotency", {}), "ttl_hours", float, "idempotency", 24.0), "idempotency.ttl_hours"
        ),
        sandboxes_start=get_value(sandboxes, "start", bool, "sandboxes", False),
        sandboxes_host=get_value(sandboxes, "host", str, "sandboxes", "127.0.0.1"),
        sandboxes_port_offset=get_value(sandboxes, "port_offset", int, "sandboxes", 0),
        plugins_disabled=_plugins_disabled(data.get("plugins", {})),
        plugins_block_threshold_s=positive(
            get_value(data.get("plugins", {}), "block_threshold_ms", float, "plugins", 100.0),
            "plugins.block_threshold_ms",
        )
        / 1000,
        pki_dir=get_value(data.get("pki", {}), "dir", str, "pki", "var/pki"),
        pki_passphrase_file=get_value(data.get("pki", {}), "passphrase_file", str, "pki", ""),
        pki_create_sample=get_value(data.get("pki", {}), "create_sample_district", bool, "pki", False),
        outbox=parse_outbox(data.get("outbox", {})),
        offices=offices,
        callers=parse_callers(data.get("callers", []), offices, allow_api_key=authentication.allow_api_key),
        agencies={code: parse_agency(code, table) for code, table in agencies_raw.items()},
        raw=data,
        source=source,
        audit=_audit(data.get("audit", {})),
        http=parse_http_limits(server),
        retention=_retention(data.get("retention", {})),
        metrics=_section(parse_metrics_settings, data.get("metrics", {})),
        printouts=_section(parse_printout_settings, data.get("printouts", {})),
        bundles=_section(parse_bundle_settings, data.get("bundles", {})),
        from_environment=dict(from_environment or {}),
        witness=_section(parse_witness_settings, data.get("witness", {}), pki_dir=data.get("pki", {}).get("dir", "")),
        calendar=_section(parse_calendar_settings, data.get("calendar", {})),
        authentication=authentication,
        tls=parse_tls_settings(server),
        event_loop=loop,
    )


def load_settings(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Load the effective configuration.

    ``path`` (or ``$ONEWINDOW_CONFIG``) names the operator's TOML file; with
    neither, the embedded sample district is used, as ``make run`` does.
    """
    environ = os.environ if environ is None else environ
    path = path or environ.get("ONEWINDOW_CONFIG") or None
    data = _embedded("base.toml")
    if path is None:
        data = _merge(data, _embedded("sample.toml"))
        source = SAMPLE_SOURCE
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
        try:
            data = _merge(data, tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        source = str(path)
    applied = apply_environment(data, environ)
    return build_settings(data, source=source, from_environment=applied)
