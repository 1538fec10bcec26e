"""The PostgreSQL store dumped with ``pg_dump`` (one exported snapshot) and put back with ``pg_restore``.

The store is one schema (``?schema=NAME`` in the URL, else ``public``). The
dump is of that schema only, taken on a snapshot exported from a
repeatable-read transaction in which the manifest's figures are read too.
A restore renames the current schema aside (``<schema>_before_<time>``) and
restores into a fresh one in a single transaction: if ``pg_restore`` fails,
nothing was created and the schema is renamed back. The password of the URL
goes to the tools as ``PGPASSWORD``, never on their command line.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gateway.errors import BackupError
from gateway.store.postgres.store import split_schema
from gateway.store.store_state import DISPLACED, STATE_QUERIES, StoreState, state_of

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")
_TABLES = {"audit_size": "audit_head", "checkpoint": "audit_checkpoints", "requests": "requests"}
_TABLES["last_update"], _TABLES["schema_version"] = "requests", "schema_migrations"


def _target(url: str) -> tuple[str, str, dict[str, str]]:
    """The DSN without its password, the schema, and the environment the tools run with."""
    dsn, schema = split_schema(url)
    schema = schema or "public"
    if not _IDENTIFIER.fullmatch(schema):
        raise BackupError(f"schema {schema!r}: a letter or _, then letters, digits or _ (at most 41)")
    parts = urlsplit(dsn)
    env = dict(os.environ)
    if parts.password is not None:
        env["PGPASSWORD"] = parts.password
        netloc = parts.netloc.replace(f":{parts.password}@", "@", 1)
        dsn = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return dsn, schema, env


async def _tool(argv: list[str], env: dict[str, str]) -> None:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env
        )
    except FileNotFoundError:
        raise BackupError(
            f"{argv[0]} is not installed: install the PostgreSQL client of the server's version"
        ) from None
    _, err = await process.communicate()
    if process.returncode != 0:
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        raise BackupError(f"{argv[0]} failed ({process.returncode}): {lines[-1] if lines else 'no message'}")


async def _state(conn: asyncpg.Connection, schema: str) -> StoreState | None:
    present = {
        name
        for (name,) in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    }
    if "requests" not in present:
        return None
    values: dict[str, Any] = {}
    for name, sql in STATE_QUERIES.items():
        table = _TABLES[name]
        values[name] = (
            await conn.fetchval(sql.replace(f"FROM {table}", f'FROM "{schema}".{table}')) if table in present else None
        )
    return state_of(values)


async def dump_schema(url: str, directory: Path) -> tuple[Path, StoreState, str]:
    """``pg_dump --format=custom`` of the store's schema into ``directory``, what it holds, and the schema."""
    dsn, schema, env = _target(url)
    target = directory / f"{schema}.pgdump"
    conn = await _connect(url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            state = await _state(conn, schema)
            if state is None:
                raise BackupError(f"schema {schema} holds no store: check [store] url")
            argv = ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--schema={schema}", "--no-owner"]
            await _tool([*argv, f"--file={target}", f"--dbname={dsn}"], env)
    finally:
        await conn.close()
    os.chmod(target, 0o600)
    return target, state, schema


async def schema_state(url: str) -> StoreState | None:
    """What the configured schema holds now; None when it holds no store."""
    _, schema, _ = _target(url)
    conn = await _connect(url)
    try:
        return await _state(conn, schema)
    finally:
        await conn.close()


async def restore_schema(url: str, dump: Path, *, schema: str | None, stamp: str) -> str | None:
    """Restore ``dump`` as the store's schema; the schema it replaces is renamed aside (its new name returned)."""
    dsn, configured, env = _target(url)
    if schema != configured:
        raise BackupError(
            f"the archive holds schema {schema!r}, the configuration names {configured!r}: restore into the schema "
            "it was taken from (the dump creates that schema)"
        )
    conn = await _connect(url)
    try:
        exists = await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", configured)
        displaced = f"{configured}_{DISPLACED}_{stamp}" if exists else None
        if displaced:
            await conn.execute(f'ALTER SCHEMA "{configured}" RENAME TO "{displaced}"')
        try:
            await _tool(
                ["pg_restore", "--no-owner", "--single-transaction", "--exit-on-error", f"--dbname={dsn}", str(dump)],
                env,
            )
        except BackupError:
            if displaced:  # pg_restore rolled back: nothing was created; the store goes back as it was
                await conn.execute(f'ALTER SCHEMA "{displaced}" RENAME TO "{configured}"')
            raise
        return displaced
    finally:
        await conn.close()


async def _connect(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(split_schema(url)[0])
    except (OSError, asyncpg.PostgresError) as exc:
        raise BackupError(f"cannot connect to PostgreSQL: {exc}") from None
