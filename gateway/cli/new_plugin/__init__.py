"""``onewindow new-plugin NAME``: a new agency plugin package (see :mod:`~gateway.cli.new_plugin.scaffold`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.agencies.plugin_manager import hook_results_by_plugin, plugin_manager
from gateway.agencies.sandboxes import sandbox_specs
from gateway.cli.new_plugin.scaffold import placeholders, scaffold
from gateway.config import load_settings
from gateway.errors import CommandError, ScaffoldError


def cmd_new_plugin(args: argparse.Namespace) -> int:
    """Create the package, refusing a name an installed plugin already uses, with a sandbox port none uses."""
    pm = plugin_manager()
    found = hook_results_by_plugin(pm, "onewindow_agencies", config=load_settings(environ={}))
    existing = [agency.code for _, agencies in found for agency in agencies]
    taken = {spec.default_port for spec in sandbox_specs(pm)}
    directory = Path(args.dir or f"onewindow-{args.name}")
    try:
        written = scaffold(args.name, directory, existing=existing, taken_ports=taken)
    except ScaffoldError as exc:
        raise CommandError(str(exc)) from None
    for path in written:
        print(f"created {path}")
    port = placeholders(args.name, taken)["port"]
    print(f"Its sandbox serves on 127.0.0.1:{port} (no installed plugin's sandbox uses it; change it in sandbox.py)")
    print(f"Next: cd {directory} && pip install -e '.[test]' && python -m pytest   (then read its README.md)")
    return 0


def register(sub: Any) -> None:
    """Add ``new-plugin`` to the ``onewindow`` command."""
    new_plugin = sub.add_parser(
        "new-plugin",
        help="create an installable agency plugin package that passes its tests as generated",
        description="Create an agency plugin package: adapter, catalogue, sandbox, contract tests, README.",
    )
    new_plugin.add_argument("name", help="the agency code, lower_snake_case (e.g. civil_affairs)")
    new_plugin.add_argument("--dir", help="where to create it (default ./onewindow-NAME; must be new or empty)")
    new_plugin.set_defaults(func=cmd_new_plugin)
