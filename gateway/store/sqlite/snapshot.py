"""The SQLite store copied while it runs (the online backup API), and a copy put back in its place."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from gateway.errors import BackupError
from gateway.store.sqlite.store import SQLiteStore
from gateway.store.store_state import DISPLACED, STATE_QUERIES, StoreState, state_of


def _path(url: str) -> Path:
    path = SQLiteStore.from_url(url).path
    if path == ":memory:":
        raise BackupError("an in-memory SQLite store cannot be backed up or restored")
    return Path(path)


def read_state(database: Path) -> StoreState:
    """What the SQLite file at ``database`` holds (tables it lacks count as empty)."""
    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA query_only = ON")
        values: dict[str, Any] = {}
        for name, sql in STATE_QUERIES.items():
            try:
                row = connection.execute(sql).fetchone()
            except sqlite3.OperationalError:  # no such table: a store from before it
                row = None
            values[name] = row[0] if row else None
        return state_of(values)
    finally:
        connection.close()


async def copy_database(url: str, directory: Path) -> tuple[Path, StoreState]:
    """A consistent copy of the live database into ``directory`` (mode 0600), and what it holds."""
    source_path = _path(url)
    if not source_path.exists():
        raise BackupError(
            f"no store at {source_path.absolute()}: run this from the gateway's directory or pass --config"
        )
    target = directory / source_path.name

    def run() -> StoreState:
        source = sqlite3.connect(source_path, timeout=10)
        target.touch(mode=0o600)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # page by page, inside one read transaction: a consistent snapshot
        finally:
            copy.close()
            source.close()
        return read_state(target)

    return target, await asyncio.to_thread(run)


async def database_state(url: str) -> StoreState | None:
    """What the configured database holds now; None when there is no file."""
    path = _path(url)
    return await asyncio.to_thread(read_state, path) if path.exists() else None


async def replace_database(url: str, copy: Path, stamp: str) -> str | None:
    """Put ``copy`` in place of the database; the current file (with its -wal and -shm) is moved aside, not deleted."""
    path = _path(url)

    def run() -> str | None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = path.with_name(f".{path.name}.restoring")
        shutil.copyfile(copy, staged)
        os.chmod(staged, 0o600)
        check = sqlite3.connect(staged)
        try:
            verdict = check.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            check.close()
        if verdict != "ok":
            staged.unlink()
            raise BackupError(f"the archived database does not pass SQLite's quick_check ({verdict}): nothing changed")
        displaced = None
        if path.exists():
            displaced = path.with_name(f"{path.name}.{DISPLACED}-{stamp}")
            os.replace(path, displaced)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{path}{suffix}", f"{displaced}{suffix}")
        os.replace(staged, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return None if displaced is None else str(displaced)

    return await asyncio.to_thread(run)
