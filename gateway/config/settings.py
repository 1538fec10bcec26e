"""Configuration: one TOML file, environment overrides, typed settings.

The effective configuration is built in layers: the embedded base defaults,
then either the operator's TOML file or (when none is given) the embedded
sample district, then ``ONEWINDOW_<SECTION>__<KEY>`` environment variables.
Every value is checked when loaded, so a typo stops the start with a message
that names the field instead of failing on the first request.
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

from gateway.config.audit import AuditSettings, parse_audit_settings
from gateway.config.callers import CallerConfig, Office, parse_callers, parse_offices
from gateway.config.http import HttpLimits, parse_http_limits
from gateway.config.retention import RetentionSettings, parse_retention_settings
from gateway.config.values import get_value, positive
from gateway.config.witness import WitnessSettings, parse_witness_settings
from gateway.errors import ConfigError

ENV_PREFIX = "ONEWINDOW_"


@dataclass(frozen=True)
class AgencySettings:
    """How the core reaches one agency through the extranet."""

    code: str
    base_url: str = ""
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 15.0
    max_attempts: int = 3
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    pool_size: int = 20
    proxy: str = ""
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    secrets: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    item_timeouts: Mapping[str, float] = field(default_factory=dict)


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
    witness: WitnessSettings = field(default_factory=WitnessSettings)

    def agency(self, code: str) -> AgencySettings:
        """Settings for agency ``code`` (defaults when it is not configured)."""
        return self.agencies.get(code) or AgencySettings(code=code)

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


def _env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name}: {part!r} is not a table")
        node[path[-1]] = _env_value(text)
    return data


def _agency(code: str, table: Mapping[str, Any]) -> AgencySettings:
    where = f"agencies.{code}"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: must be a table")
    known = set(AgencySettings.__dataclass_fields__) - {"code"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in AgencySettings.__dataclass_fields__.items():
        if name in ("code", "secrets", "options", "item_timeouts") or name not in table:
            continue
        kind = {"int": int, "float": float, "str": str}[str(spec.type)]
        values[name] = get_value(table, name, kind, where)
        if kind in (int, float) and name not in ("max_attempts",):
            positive(values[name], f"{where}.{name}")
    if values.get("max_attempts", 1) < 1:
        raise ConfigError(f"{where}.max_attempts: must be at least 1")
    if values.get("client_key") and not values.get("client_cert"):
        raise ConfigError(f"{where}.client_key: set client_cert too (a key alone is no client certificate)")
    for name in ("secrets", "options", "item_timeouts"):
        sub = table.get(name, {})
        if not isinstance(sub, Mapping):
            raise ConfigError(f"{where}.{name}: must be a table")
        values[name] = dict(sub)
    for item, seconds in values["item_timeouts"].items():
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ConfigError(f"{where}.item_timeouts.{item}: must be a positive number of seconds")
    return AgencySettings(code=code, **values)


def _plugins_disabled(table: Mapping[str, Any]) -> tuple[str, ...]:
    names = get_value(table, "disabled", list, "plugins", [])
    if not all(isinstance(name, str) and name for name in names):
        raise ConfigError('plugins.disabled: must be a list of plugin names, e.g. ["property"]')
    return tuple(names)


def _outbox(table: Mapping[str, Any]) -> OutboxSettings:
    if not isinstance(table, Mapping):
        raise ConfigError("outbox: must be a table")
    unknown = set(table) - set(OutboxSettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"outbox: unknown setting(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in OutboxSettings.__dataclass_fields__.items():
        if name in table:
            kind = {"int": int, "float": float, "bool": bool}[str(spec.type)]
            values[name] = get_value(table, name, kind, "outbox")
            if kind is not bool:
                positive(values[name], f"outbox.{name}")
    return OutboxSettings(**values)


def _audit(table: Any) -> AuditSettings:
    try:
        return parse_audit_settings(table)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _retention(table: Any) -> RetentionSettings:
    try:
        return parse_retention_settings(table)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _section(parse: Any, table: Any, **context: Any) -> Any:
    try:
        return parse(table, **context)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def build_settings(data: Mapping[str, Any], *, source: str) -> Settings:
    """Check the merged configuration ``data`` and turn it into :class:`Settings`."""
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
    host = get_value(server, "host", str, "server")
    return Settings(
        host=host,
        port=port,
        public_url=get_value(server, "public_url", str, "server", f"http://{host}:{port}").rstrip("/"),
        max_body_bytes=int(positive(get_value(server, "max_body_bytes", int, "server"), "server.max_body_bytes")),
        max_attachment_bytes=int(
            positive(get_value(server, "max_attachment_bytes", int, "server"), "server.max_attachment_bytes")
        ),
        request_deadline_s=positive(
            get_value(server, "request_deadline_s", float, "server"), "server.request_deadline_s"
        ),
        store_url=store_url,
        log_level=get_value(logs, "level", str, "logging", "info"),
        log_format=log_format,
        idempotency_ttl_hours=positive(
            get_value(data.get("idempotency", {}), "ttl_hours", float, "idempotency", 24.0), "idempotency.ttl_hours"
        ),
        sandboxes_start=get_value(sandboxes, "start", bool, "sandboxes", False),
        sandboxes_host=get_value(sandboxes, "host", str, "sandboxes", "127.0.0.1"),
        sandboxes_port_offset=get_value(sandboxes, "port_offset", int, "sandboxes", 0),
        plugins_disabled=_plugins_disabled(data.get("plugins", {})),
        pki_dir=get_value(data.get("pki", {}), "dir", str, "pki", "var/pki"),
        pki_passphrase_file=get_value(data.get("pki", {}), "passphrase_file", str, "pki", ""),
        pki_create_sample=get_value(data.get("pki", {}), "create_sample_district", bool, "pki", False),
        outbox=_outbox(data.get("outbox", {})),
        offices=offices,
        callers=parse_callers(data.get("callers", []), offices),
        agencies={code: _agency(code, table) for code, table in agencies_raw.items()},
        raw=data,
        source=source,
        audit=_audit(data.get("audit", {})),
        http=parse_http_limits(server),
        retention=_retention(data.get("retention", {})),
        witness=_section(parse_witness_settings, data.get("witness", {}), pki_dir=data.get("pki", {}).get("dir", "")),
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
        source = "embedded sample configuration"
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
    return build_settings(_apply_env(data, environ), source=source)
