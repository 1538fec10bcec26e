"""``onewindow migrate``: bring the store's schema to this release's, as the role that owns it.

Gateways migrate their store themselves when their database role may; a
district that runs them with a role of data rights only (docs/operations.md,
"A least-privilege PostgreSQL role") runs this once per upgrade with the
owner's configuration, before starting the new release.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from gateway.cli.config import add_config_option, settings_of
from gateway.store import make_store, release_schema_version


async def _migrate(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    store = make_store(settings.store_url)
    await store.open(migrate=not args.check)
    try:
        here = await store.schema_version()
    finally:
        await store.close()
    release = release_schema_version(store.backend)
    if args.check:
        state = "up to date" if here == release else "newer than this release" if here > release else "behind"
        print(f"store schema version {here}; this release's {release}: {state}")
        return 0 if here >= release else 1
    print(f"store schema version {here} (this release's {release}): {store.backend} store migrated")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """``onewindow migrate``."""
    return asyncio.run(_migrate(args))


def register(sub: Any) -> None:
    """Add ``migrate`` to the ``onewindow`` command."""
    parser = add_config_option(
        sub.add_parser(
            "migrate",
            help="apply the store's pending schema migrations (as the schema owner's role)",
            description="Bring the store's schema to this release's. --check only says whether it is behind.",
        )
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when migrations are pending")
    parser.set_defaults(func=cmd_migrate)
