"""A consistent copy of the store, and putting one back, with each database's own tools.

* SQLite: the online backup API (``sqlite3.Connection.backup``) copies the
  database page by page from one read transaction: a consistent snapshot
  while the gateway writes. Putting it back moves the current file (and its
  ``-wal``/``-shm``) aside, never deletes it.
* PostgreSQL: ``pg_dump --format=custom`` of the store's schema, run on a
  snapshot exported from a transaction that also reads what the manifest
  records, so both see the same moment. Putting it back renames the current
  schema aside and runs ``pg_restore --single-transaction``: all or nothing,
  and the schema it replaced is still there.

What the manifest records of a store is a :class:`~gateway.store.store_state.StoreState`.
"""

from __future__ import annotations

from pathlib import Path

from gateway.store.store_state import StoreState


async def snapshot(url: str, directory: Path) -> tuple[Path, StoreState, str | None]:
    """Copy the store into ``directory``: the file made, what it holds, and (PostgreSQL) the schema dumped."""
    if url.startswith("sqlite:"):
        from gateway.store.sqlite.snapshot import copy_database

        path, state = await copy_database(url, directory)
        return path, state, None
    from gateway.store.postgres.snapshot import dump_schema

    return await dump_schema(url, directory)


async def current_state(url: str) -> StoreState | None:
    """What the configured store holds now; None when there is none yet (no file, no schema)."""
    if url.startswith("sqlite:"):
        from gateway.store.sqlite.snapshot import database_state

        return await database_state(url)
    from gateway.store.postgres.snapshot import schema_state

    return await schema_state(url)


async def put_back(url: str, copy: Path, *, schema: str | None, stamp: str) -> str | None:
    """Replace the store with ``copy``; where the replaced one was moved (None when there was none)."""
    if url.startswith("sqlite:"):
        from gateway.store.sqlite.snapshot import replace_database

        return await replace_database(url, copy, stamp)
    from gateway.store.postgres.snapshot import restore_schema

    return await restore_schema(url, copy, schema=schema, stamp=stamp)
