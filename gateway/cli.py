"""The ``onewindow`` command.

One command with subcommands for every user: ``serve`` and ``check-config``
for operators, ``catalog`` for integrators, ``sandbox`` and ``new-plugin``
for plugin authors, ``seal``, ``verify`` and ``audit`` for security staff.
Every failure is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from gateway import __version__
from gateway.catalogue import CHANNELS, ITEM_KINDS, OFFICE_LEVELS, CatalogueError
from gateway.config import ConfigError, Settings, load_settings
from gateway.config_view import effective_configuration, redacted
from gateway.errors import CommandError

Command = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def _registry(settings: Settings, *, check_settings: bool = False) -> Any:
    """The agencies and catalogue; ``check_settings`` also requires every secret and option they need."""
    from gateway.core import sandbox_specs, with_sandbox_config
    from gateway.plugins import plugin_manager
    from gateway.registry import load_registry

    pm = plugin_manager(disabled=settings.plugins_disabled)
    if check_settings and settings.sandboxes_start:
        settings = with_sandbox_config(settings, sandbox_specs(pm))  # the sandboxes supply demo credentials
    return load_registry(pm, settings, check_settings=check_settings)


# -- serve --------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import dataclasses

    from gateway.logs import configure_logging
    from gateway.serve import serve

    settings = _settings(args)
    changes: dict[str, Any] = {}
    if args.host:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    settings = dataclasses.replace(settings, **changes)
    configure_logging(settings.log_level, json=settings.log_format == "json")
    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    if args.workers > 1:
        if settings.store_url.startswith("sqlite:"):
            raise CommandError(
                f"--workers {args.workers} needs a PostgreSQL store: SQLite serves one process (store.url is "
                f"{settings.store_url})"
            )
        from gateway.supervisor import run_supervisor

        return run_supervisor(settings, config=args.config, workers=args.workers)
    asyncio.run(serve(settings))
    return 0


# -- catalog ------------------------------------------------------------------


def cmd_catalog_list(args: argparse.Namespace) -> int:
    registry = _registry(_settings(args))
    if args.agency is not None and args.agency not in registry.agencies:
        raise CommandError(
            f"no agency {args.agency!r} is installed (or it is disabled in [plugins]); installed: "
            f"{', '.join(sorted(registry.agencies)) or 'none'}"
        )
    items = registry.catalogue.filter(
        agency=args.agency, office_level=args.office_level, channel=args.channel, kind=args.kind
    )
    if args.json:
        print(json.dumps([i.summary() for i in items], ensure_ascii=False, indent=2))
        return 0
    width = max((len(i.code) for i in items), default=10)
    for item in items:
        flags = ("长" if item.long_running else " ") + ("批" if item.seal == "delegated_approval" else " ")
        print(f"{item.code:<{width}}  {flags}  {item.time_limit_days:>2}d  {item.name_zh}")
    print(f"{len(items)} item(s). 长 = long-running, 批 = numbered approval seal; d = promised working days.")
    return 0


def cmd_catalog_show(args: argparse.Namespace) -> int:
    settings = _settings(args)
    item = _registry(settings).catalogue.get(args.item)
    if item is None:
        raise CommandError(f"no catalogue item is called {args.item!r} (see 'onewindow catalog list')")
    guide = item.guide()
    if args.json:
        print(json.dumps(guide, ensure_ascii=False, indent=2))
        return 0
    print(f"{item.code}  {item.name_zh} / {item.name_en}")
    print(
        f"  agency {item.agency}; {item.kind}; seal {item.seal}; promised {item.time_limit_days} working day(s)"
        + ("; long-running" if item.long_running else "")
    )
    print(f"  office levels: {', '.join(item.office_levels)}; channels: {', '.join(item.channels)}")
    for title, lines in (("conditions", item.conditions_zh), ("legal basis", item.legal_basis), ("steps", item.steps)):
        print(f"  {title}:")
        for n, line in enumerate(lines, 1):
            print(f"    {n}. {line}")
    print("  materials:")
    for m in item.materials:
        pledge = " (a pledge may replace it)" if m.name in item.pledge_replaces else ""
        notes = "; ".join(m.constraint_notes(settings.max_attachment_bytes))
        print(
            f"    - {m.name} [{m.type}{', required' if m.required else ''}] {m.description_zh}"
            + (f" — {notes}" if notes else "")
            + pledge
        )
    return 0


# -- configuration ------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    from gateway.core import sandbox_specs, with_sandbox_config
    from gateway.plugins import plugin_manager

    settings = _settings(args)
    registry = _registry(settings, check_settings=True)
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
    for warning in _start_warnings(settings):
        print(f"onewindow: warning: {warning}", file=sys.stderr)
    return 0


def _start_warnings(settings: Settings) -> list[str]:
    """What would stop ``onewindow serve`` with this configuration although the check itself passed."""
    from importlib.metadata import entry_points
    from pathlib import Path

    from gateway.plugins import ENTRY_POINT_GROUP

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


def cmd_caller_new_key(args: argparse.Namespace) -> int:
    from gateway.callers import new_api_key

    key, digest = new_api_key()
    print(f"API key (give it to the intake system once; it is not stored): {key}")
    print(f'api_key_sha256 = "{digest}"   # put this in the caller\'s [[callers]] table')
    return 0


# -- sandboxes ----------------------------------------------------------------


def cmd_sandbox_run(args: argparse.Namespace) -> int:
    from gateway.sandbox_cli import run_sandboxes

    return asyncio.run(run_sandboxes(args))


def _add_sandbox_parser(sub: Any) -> None:
    from gateway.sandbox_cli import add_arguments

    sandbox = sub.add_parser("sandbox", help="agency sandboxes for development and tests")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="COMMAND")
    run = sandbox_sub.add_parser(
        "run", help="start agency sandboxes on loopback", description="Start agency sandboxes until Ctrl-C."
    )
    add_arguments(run)
    run.set_defaults(func=cmd_sandbox_run)


# -- new-plugin ---------------------------------------------------------------


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gateway.plugins import hook_results_by_plugin, plugin_manager
    from gateway.scaffold import ScaffoldError, scaffold

    found = hook_results_by_plugin(plugin_manager(), "onewindow_agencies", config=load_settings(environ={}))
    existing = [agency.code for _, agencies in found for agency in agencies]
    directory = Path(args.dir or f"onewindow-{args.name}")
    try:
        written = scaffold(args.name, directory, existing=existing)
    except ScaffoldError as exc:
        raise CommandError(str(exc)) from None
    for path in written:
        print(f"created {path}")
    print(f"Next: cd {directory} && pip install -e '.[test]' && python -m pytest   (then read its README.md)")
    return 0


# -- the parser ---------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``onewindow`` argument parser with every subcommand."""
    from gateway.audit.admin import audit_seal_commands
    from gateway.audit_cli import register as register_audit
    from gateway.outbox_cli import register as register_outbox
    from signing.cli import register as register_signing

    parser = argparse.ArgumentParser(
        prog="onewindow",
        description="Onewindow: one intake endpoint for every item of the township service centres.",
    )
    parser.add_argument("--version", action="version", version=f"onewindow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config",
            metavar="FILE",
            help="TOML configuration (default: $ONEWINDOW_CONFIG, else the embedded sample district)",
        )
        return p

    serve = with_config(sub.add_parser("serve", help="run the gateway", description="Run the HTTP gateway."))
    serve.add_argument("--host", help="address to listen on (default from configuration)")
    serve.add_argument("--port", type=int, help="port to listen on (default from configuration)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N processes sharing the port (SO_REUSEPORT) under a supervisor; needs a PostgreSQL store",
    )
    serve.set_defaults(func=cmd_serve)

    catalog = sub.add_parser("catalog", help="list items and show service guides")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="COMMAND")
    listing = with_config(catalog_sub.add_parser("list", help="list catalogue items"))
    listing.add_argument("--agency")
    listing.add_argument("--office-level", choices=OFFICE_LEVELS)
    listing.add_argument("--channel", choices=CHANNELS)
    listing.add_argument("--kind", choices=ITEM_KINDS)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_catalog_list)
    show = with_config(catalog_sub.add_parser("show", help="show one item's service guide"))
    show.add_argument("item", help="item code, e.g. tax.payment-record")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_catalog_show)

    check = with_config(
        sub.add_parser("check-config", help="validate the configuration and print the effective one, secrets redacted")
    )
    check.set_defaults(func=cmd_check_config)

    caller = sub.add_parser("caller", help="manage intake callers")
    caller_sub = caller.add_subparsers(dest="caller_command", required=True, metavar="COMMAND")
    caller_sub.add_parser("new-key", help="make a new API key and the digest to configure").set_defaults(
        func=cmd_caller_new_key
    )

    _add_sandbox_parser(sub)
    new_plugin = sub.add_parser(
        "new-plugin",
        help="create an installable agency plugin package that passes its tests as generated",
        description="Create an agency plugin package: adapter, catalogue, sandbox, contract tests, README.",
    )
    new_plugin.add_argument("name", help="the agency code, lower_snake_case (e.g. civil_affairs)")
    new_plugin.add_argument("--dir", help="where to create it (default ./onewindow-NAME; must be new or empty)")
    new_plugin.set_defaults(func=cmd_new_plugin)
    register_outbox(sub)
    register_signing(sub)
    audit_seal_commands(sub)  # each successful seal change becomes an admin.seal.* audit entry
    register_audit(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``onewindow`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except _operator_errors() as exc:
        print(f"onewindow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `onewindow ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


def _operator_errors() -> tuple[type[Exception], ...]:
    """Mistakes an operator can fix (configuration, plugins, PKI, store): one line, exit 2, no traceback."""
    from gateway.registry import PluginError
    from gateway.sealing import StartupError
    from gateway.store import StoreError
    from signing.errors import SigningError

    return (CommandError, ConfigError, CatalogueError, PluginError, StartupError, StoreError, SigningError)


if __name__ == "__main__":
    sys.exit(main())
