"""Shared fixtures: stores on both backends, sandboxes, a running gateway.

PostgreSQL tests use the server named by $ONEWINDOW_TEST_PG (the Makefile
sets it), each test in a schema of its own. On a laptop without the server
they skip; with CI=true they fail instead, so CI never passes by skipping.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.store import Store, make_store

PG_URL = os.environ.get("ONEWINDOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_reachable() -> str | None:
    async def probe() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:  # any failure to connect means "not here"
        return f"{type(exc).__name__}: {exc}"
    return None


_PG_PROBLEM: list[str | None] = []


def require_postgres() -> None:
    """Skip (or, under CI=true, fail) when PostgreSQL is not reachable."""
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_postgres_reachable())
    problem = _PG_PROBLEM[0]
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true but PostgreSQL at {PG_URL} is unreachable: {problem}")
    pytest.skip(f"PostgreSQL not reachable ({problem})")


async def drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def pg_url() -> str:
    """A PostgreSQL URL with a fresh schema, dropped after the test."""
    require_postgres()
    schema = "t_" + uuid.uuid4().hex[:12]
    yield f"{PG_URL}?schema={schema}"
    asyncio.run(drop_schema(schema))


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/onewindow.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An open, migrated store on each backend."""
    s = make_store(store_url)
    await s.open()
    yield s
    await s.close()
