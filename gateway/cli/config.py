"""``onewindow check-config``, and the configuration every other command starts from.

``check-config`` runs the checks ``serve`` runs at start-up (:mod:`gateway.startup`):
where the gateway would refuse to start, the check exits 2 with the same one line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import pluggy
import structlog.testing

from gateway.agencies.installed import Registry, load_registry
from gateway.agencies.plugin_manager import plugin_manager
from gateway.agencies.sandboxes import sandbox_specs, with_sandbox_config
from gateway.config import ConfigError, Settings, load_settings
from gateway.config.view import effective_configuration, redacted
from gateway.contract import AgencyIdentity
from gateway.personal_data.masking import mask_text
from gateway.startup import check_start, check_store


def add_config_option(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give a command the ``--config FILE`` option."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration (default: $ONEWINDOW_CONFIG, else the embedded sample district)",
    )
    return parser


def settings_of(args: argparse.Namespace) -> Settings:
    """The configuration a command was pointed at (``--config``, else the default)."""
    return load_settings(getattr(args, "config", None))


class _CatalogueView:
    """The configuration as the catalogue commands read it: an agency the district has not named yet still
    lists its items. Nothing built from it seals anything; ``serve`` and ``check-config`` refuse the start."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __getattr__(self, name: str) -> Any:
        return getattr(self._settings, name)

    def agency_identity(self, code: str) -> AgencyIdentity:
        try:
            return self._settings.agency_identity(code)
        except ConfigError:
            unnamed = f"{code} (not named in [agencies.{code}])"
            return AgencyIdentity(code, unnamed, unnamed, unnamed, unnamed, "")


def installed_agencies(settings: Settings) -> Registry:
    """The agencies and catalogue, for commands that only read the catalogue (no credentials, no names needed)."""
    pm = plugin_manager(disabled=settings.plugins_disabled)
    return load_registry(pm, _CatalogueView(settings), check_settings=False)


def routed(settings: Settings, pm: pluggy.PluginManager) -> Settings:
    """``settings`` as ``serve`` would run them: with ``[sandboxes] start``, each agency routed to its sandbox
    (on its own port plus the offset), with the sandbox's demo credentials under the configured ones."""
    if not settings.sandboxes_start:
        return settings
    specs = sandbox_specs(pm)
    host, offset = settings.sandboxes_host, settings.sandboxes_port_offset
    return with_sandbox_config(settings, specs, {s.agency: f"http://{host}:{s.default_port + offset}" for s in specs})


def cmd_check_config(args: argparse.Namespace) -> int:
    """``onewindow check-config``: every check ``serve`` runs at start-up, then the effective configuration.

    Exits 2 with one line where ``serve`` would refuse to start; creates nothing.
    """
    settings = settings_of(args)
    pm = plugin_manager(disabled=settings.plugins_disabled)
    shown = routed(settings, pm)
    # What serve would log while starting (a root key on this host, say) is told on stderr, one line each;
    # structlog's capture_logs collects it without touching the process's logging set-up.
    with structlog.testing.capture_logs() as logged:
        try:
            checked = check_start(shown, pm, creating=False)
        finally:
            _warn(logged)
    try:
        asyncio.run(check_store(shown))
    finally:
        checked.close()
    registry = checked.registry
    print(
        f"# configuration OK: {settings.source}; {len(settings.offices)} office(s), "
        f"{len(settings.callers)} caller(s), {len(registry.catalogue)} item(s) from "
        f"{len(registry.agencies)} agenc{'y' if len(registry.agencies) == 1 else 'ies'}; "
        "seal keys, audit key and store checked as serve checks them"
    )
    for created in checked.first_start:
        print(f"# on the first start: {created}")
    print("# the effective configuration: defaults filled in, every installed agency's settings, secrets as ***")
    print(json.dumps(redacted(effective_configuration(shown, registry.agencies)), ensure_ascii=False, indent=2))
    return 0


def _warn(logged: Iterable[Mapping[str, Any]]) -> None:
    """The warnings the start-up checks logged, one line each on stderr (masked like every log line)."""
    for entry in logged:
        if entry.get("log_level") in ("warning", "error", "critical"):
            details = "; ".join(f"{k}: {v}" for k, v in entry.items() if k not in ("event", "log_level", "component"))
            print(mask_text(f"onewindow: warning: {entry['event']}: {details}"), file=sys.stderr)


def register(sub: Any) -> None:
    """Add ``check-config`` to the ``onewindow`` command."""
    check = add_config_option(
        sub.add_parser(
            "check-config",
            help="run every start-up check serve runs, then print the effective configuration, secrets redacted",
        )
    )
    check.set_defaults(func=cmd_check_config)
