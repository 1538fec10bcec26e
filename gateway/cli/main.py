"""The ``onewindow`` command: the parser, and how every command ends.

One command with subcommands for every user: ``serve`` and ``check-config``
for operators, ``catalog`` for integrators, ``sandbox`` and ``new-plugin``
for plugin authors, ``seal``, ``verify`` and ``audit`` for security staff.
Each subcommand's module adds itself with ``register(subparsers)``. Every
failure an operator can fix is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.errors import OperatorError
from signing.errors import SigningError
from signing.printout.layout import Layout


def build_parser() -> argparse.ArgumentParser:
    """The ``onewindow`` argument parser with every subcommand."""
    from gateway.cli import (
        audit,
        audited_seal,
        backup,
        calendar,
        call,
        callers,
        catalogue,
        certificates,
        config,
        migrate,
        new_plugin,
        outbox,
        overdue,
        ratings,
        report,
        retention,
        sandbox,
        serve,
    )
    from signing.cli import main as signing_cli

    parser = argparse.ArgumentParser(
        prog="onewindow",
        description="Onewindow: one intake endpoint for every item of the township service centres.",
    )
    parser.add_argument("--version", action="version", version=f"onewindow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(sub)
    catalogue.register(sub)
    config.register(sub)
    migrate.register(sub)
    callers.register(sub)
    call.register(sub)
    certificates.register(sub)
    sandbox.register(sub)
    new_plugin.register(sub)
    outbox.register(sub)
    ratings.register(sub)
    report.register(sub)
    retention.register(sub)
    overdue.register(sub)
    calendar.register(sub)
    signing_cli.register(sub, layouts=catalogue_layout)
    audited_seal.audit_seal_commands(sub)  # each successful seal change becomes an admin.seal.* audit entry
    audit.register(sub)
    backup.register(sub)
    return parser


def catalogue_layout(item: str) -> Layout | None:
    """The printout layout the installed catalogue declares for ``item`` (``onewindow render``)."""
    from gateway.cli.config import installed_agencies
    from gateway.config import load_settings
    from gateway.printouts.printer import layout_for

    return layout_for(installed_agencies(load_settings()).catalogue, item)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``onewindow`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (OperatorError, SigningError) as exc:  # mistakes an operator can fix: one line, exit 2, no traceback
        print(f"onewindow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `onewindow ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
