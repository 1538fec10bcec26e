"""``onewindow serve``: the gateway in one process, or ``--workers N`` under a supervisor."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from gateway.api import event_loop
from gateway.api.server import serve
from gateway.cli.config import add_config_option, settings_of
from gateway.cli.supervisor import run_supervisor
from gateway.errors import CommandError
from gateway.observability.logs import configure_logging


def cmd_serve(args: argparse.Namespace) -> int:
    """``onewindow serve``: one process, or ``--workers N`` under a supervisor."""
    settings = settings_of(args)
    changes: dict[str, Any] = {}
    if args.host:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    settings = dataclasses.replace(settings, **changes)
    configure_logging(settings.log_level, json=settings.log_format == "json", batched=True)
    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    if args.workers > 1:
        if settings.store_url.startswith("sqlite:"):
            raise CommandError(
                f"--workers {args.workers} needs a PostgreSQL store: SQLite serves one process (store.url is "
                f"{settings.store_url})"
            )
        return run_supervisor(settings, config=args.config, workers=args.workers)
    event_loop.run(serve(settings), event_loop=settings.event_loop)
    return 0


def register(sub: Any) -> None:
    """Add ``serve`` to the ``onewindow`` command."""
    parser = add_config_option(sub.add_parser("serve", help="run the gateway", description="Run the HTTP gateway."))
    parser.add_argument("--host", help="address to listen on (default from configuration)")
    parser.add_argument("--port", type=int, help="port to listen on (default from configuration)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N processes sharing the port (SO_REUSEPORT) under a supervisor; needs a PostgreSQL store",
    )
    parser.set_defaults(func=cmd_serve)
