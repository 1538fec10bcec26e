"""Shared fixtures: stores on both backends, sandboxes, a running gateway.

PostgreSQL tests use the server named by $TEST_PG_URL (the Makefile
sets it), each test in a schema of its own. On a laptop without the server
they skip; with CI=true they fail instead, so CI never passes by skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.agencies.plugin_manager import plugin_manager
from gateway.agencies.sandboxes import sandbox_specs, with_sandboxes
from gateway.api.app import create_app
from gateway.audit.keys import create_audit_key
from gateway.audit.secret import create_audit_secret
from gateway.config import Settings, WitnessSettings, load_settings
from gateway.core import Gateway
from gateway.sandbox import RunningSandbox, start_sandbox
from gateway.store import Store, make_store
from signing import create_sample_district
from signing.keys import pkcs8
from signing.keys.passphrase import Passphrase
from tests.helpers import configuring_test_agencies

PG_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
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
    """Drop a test's schema; a connection still inside a transaction in it is not waited for forever.

    Such a schema is left behind (and said so) rather than the run hanging until CI's time runs out.
    """
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute("SET lock_timeout = '15s'")
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except asyncpg.exceptions.LockNotAvailableError:
        warnings.warn(f"schema {schema} left behind: a connection still holds a lock in it", stacklevel=1)
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def _pg_schemas() -> Iterator[list[str]]:
    """The schemas a test's ``pg_url`` made, dropped once every other fixture of the test is torn down.

    Autouse fixtures are set up before the ones a test asks for, so torn down after them: a gateway
    or store the test started has stopped, whatever order the test named its fixtures in. Dropped in
    ``pg_url``'s own teardown, a test asking for ``start_gateway`` first had its schema dropped under
    a running gateway whose event loop was paused with a statement in flight (its backend holding a
    lock in the schema, waiting for the rest of the statement): the drop and the gateway waited on
    each other (tests/test_postgres_teardown.py).
    """
    schemas: list[str] = []
    yield schemas
    for schema in schemas:
        asyncio.run(drop_schema(schema))


@pytest.fixture
def pg_url(_pg_schemas: list[str]) -> str:
    """A PostgreSQL URL with a fresh schema, dropped after the test (after its gateways stopped)."""
    require_postgres()
    schema = "t_" + uuid.uuid4().hex[:12]
    _pg_schemas.append(schema)
    return f"{PG_URL}?schema={schema}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/onewindow.db"
    return request.getfixturevalue("pg_url")


@contextlib.asynccontextmanager
async def _opened(url: str) -> AsyncIterator[Store]:
    s = make_store(url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An open, migrated store on each backend."""
    async with _opened(store_url) as s:
        yield s


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Store]:
    """An open, migrated PostgreSQL store on a schema of its own."""
    async with _opened(pg_url) as s:
        yield s


# -- a running gateway ------------------------------------------------------------


# Throw-away districts: their keys under a cheap scrypt (a fifth of a second per key otherwise, at every
# one of a thousand gateway starts). Key files still read back by their own parameters, and
# tests/signing/test_key_files.py checks the real setting in a fresh interpreter.
pkcs8.WRITE_KDF = pkcs8.Kdf("scrypt", 2**10, 8, 1)

SAMPLE_PASSPHRASE = b"test-district-passphrase"


@pytest.fixture(scope="session")
def district(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A sample district registry (seals for every sample office) and its passphrase file."""
    return make_district(tmp_path_factory.mktemp("district"))


def make_district(root: Path, scope: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A sample district (root, seals, audit key and secret) under ``root``; returns (pki dir, passphrase file).

    ``scope`` limits every seal to those items (empty: all items).
    """
    settings = load_settings(environ={})
    create_sample_district(
        root / "pki",
        offices=[(o.code, o.name) for o in settings.offices.values()],
        passphrase=Passphrase(SAMPLE_PASSPHRASE),
        service_scope=scope,
        approval_scope=scope,
    )
    create_audit_key(root / "pki" / "audit" / "audit-key.pem", Passphrase(SAMPLE_PASSPHRASE))
    create_audit_secret(root / "pki" / "audit" / "audit-secret.key")
    secret = root / "passphrase"
    secret.write_bytes(SAMPLE_PASSPHRASE)
    return root / "pki", secret


@dataclass
class RunningGateway:
    """A gateway serving on loopback with its agency sandboxes."""

    gateway: Gateway
    client: TestClient
    sandboxes: dict[str, RunningSandbox] = field(default_factory=dict)

    async def post(self, body: Any, *, key: str = "sample-fangzhen-window-key", **headers: str):
        return await self.client.post("/v1/requests", json=body, headers={"Authorization": f"Bearer {key}", **headers})

    async def get(self, path: str, *, key: str = "sample-fangzhen-window-key"):
        return await self.client.get(path, headers={"Authorization": f"Bearer {key}"})


def gateway_settings(store_url: str, district: tuple[Path, Path], **changes: Any) -> Settings:
    settings = load_settings(environ={})
    fast = {"tick_s": 0.05, "retry_initial_s": 0.05, "retry_max_s": 0.5}
    outbox = dataclasses.replace(settings.outbox, **{**fast, **changes.pop("outbox", {})})
    values: dict[str, Any] = {
        "sandboxes_start": False,
        "store_url": store_url,
        "pki_dir": str(district[0]),
        "pki_passphrase_file": str(district[1]),
        "pki_create_sample": False,
        "outbox": outbox,
        "witness": WitnessSettings(),  # not the sample's ./var/witness: a test that wants one gives its own
    }
    return dataclasses.replace(settings, **{**values, **changes})


@pytest.fixture
async def start_gateway(district, tmp_path):
    """Factory: start a gateway (and every sandbox) with settings changes; stopped after the test."""
    started: list[tuple[RunningGateway, list[RunningSandbox]]] = []

    async def start(
        store_url: str | None = None,
        *,
        agency_changes: dict[str, dict[str, Any]] | None = None,
        sandbox_factories: dict[str, Any] | None = None,
        plugins: tuple[Any, ...] = (),
        **changes: Any,
    ) -> RunningGateway:
        pm = plugin_manager(extra=plugins)
        running = []
        for spec in sandbox_specs(pm):
            if sandbox_factories and spec.agency in sandbox_factories:
                spec = sandbox_factories[spec.agency](spec)
            running.append(await start_sandbox(spec))
        settings = gateway_settings(store_url or f"sqlite:///{tmp_path}/gw.db", district, **changes)
        settings = configuring_test_agencies(with_sandboxes(settings, running), pm)
        for code, values in (agency_changes or {}).items():
            agencies = dict(settings.agencies)
            agencies[code] = dataclasses.replace(agencies[code], **values)
            settings = dataclasses.replace(settings, agencies=agencies)
        gateway = Gateway(settings, pm=pm)
        await gateway.start()
        client = TestClient(TestServer(create_app(gateway), host="127.0.0.1"))
        await client.start_server()
        rg = RunningGateway(gateway, client, {s.spec.agency: s for s in running})
        started.append((rg, running))
        return rg

    yield start
    for rg, running in started:
        await rg.client.close()
        await rg.gateway.stop(grace_s=0.5)
        for sandbox in running:
            await sandbox.stop()


@pytest.fixture
async def gw(start_gateway) -> RunningGateway:
    """A gateway on SQLite with default settings."""
    return await start_gateway()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault suite's figures (requests, kills, duplicates, lost, recovery) at the end of the run."""
    from tests.burst import REPORTS

    if REPORTS:
        terminalreporter.section("fault suite figures")
        for line in REPORTS:
            terminalreporter.write_line(line)
