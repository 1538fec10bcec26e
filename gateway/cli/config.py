"""``onewindow check-config``, and the configuration every other command starts from."""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from gateway.agencies.installed import Registry, load_registry
from gateway.agencies.plugin_manager import ENTRY_POINT_GROUP, plugin_manager
from gateway.agencies.sandboxes import sandbox_specs, with_sandbox_config
from gateway.config import Settings, load_settings
from gateway.config.view import effective_configuration, redacted


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


def installed_agencies(settings: Settings, *, check_settings: bool = False) -> Registry:
    """The agencies and catalogue; ``check_settings`` also requires every secret and option they need."""
    pm = plugin_manager(disabled=settings.plugins_disabled)
    if check_settings and settings.sandboxes_start:
        settings = with_sandbox_config(settings, sandbox_specs(pm))  # the sandboxes supply demo credentials
    return load_registry(pm, settings, check_settings=check_settings)


def cmd_check_config(args: argparse.Namespace) -> int:
    """``onewindow check-config``: validate, then print the effective configuration with secrets redacted."""
    settings = settings_of(args)
    registry = installed_agencies(settings, check_settings=True)
    shown = settings
    if settings.sandboxes_start:  # each agency is routed to its sandbox, with the sandbox's demo credentials
        specs = sandbox_specs(plugin_manager(disabled=settings.plugins_disabled))
        host, offset = settings.sandboxes_host, settings.sandboxes_port_offset
        urls = {s.agency: f"http://{host}:{s.default_port + offset}" for s in specs}
        shown = with_sandbox_config(settings, specs, urls)
    print(
        f"# configuration OK: {settings.source}; {len(settings.offices)} office(s), "
        f"{len(settings.callers)} caller(s), {len(registry.catalogue)} item(s) from "
        f"{len(registry.agencies)} agenc{'y' if len(registry.agencies) == 1 else 'ies'}"
    )
    print("# the effective configuration: defaults filled in, every installed agency's settings, secrets as ***")
    print(json.dumps(redacted(effective_configuration(shown, registry.agencies)), ensure_ascii=False, indent=2))
    for warning in start_warnings(settings):
        print(f"onewindow: warning: {warning}", file=sys.stderr)
    return 0


def start_warnings(settings: Settings) -> list[str]:
    """What would stop ``onewindow serve`` with this configuration although the check itself passed."""
    warnings = []
    pki = Path(settings.pki_dir)
    if not settings.pki_create_sample:
        if not (pki / "registry.json").exists():
            warnings.append(
                f"pki.dir {pki} holds no district seal registry (relative to {Path.cwd()}) and "
                "pki.create_sample_district is false, so the gateway would refuse to start: create one with "
                "'onewindow seal init-district', or run from the gateway's directory"
            )
        if settings.pki_passphrase_file and not Path(settings.pki_passphrase_file).exists():
            warnings.append(
                f"pki.passphrase_file {settings.pki_passphrase_file} does not exist, so the gateway would refuse "
                "to start"
            )
    installed = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for name in settings.plugins_disabled:
        if name not in installed:
            warnings.append(
                f"plugins.disabled names {name!r}, which is no installed plugin (installed: "
                f"{', '.join(sorted(installed))})"
            )
    return warnings


def register(sub: Any) -> None:
    """Add ``check-config`` to the ``onewindow`` command."""
    check = add_config_option(
        sub.add_parser("check-config", help="validate the configuration and print the effective one, secrets redacted")
    )
    check.set_defaults(func=cmd_check_config)
