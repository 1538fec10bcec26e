"""The operator's runbook, tried: the systemd units, a least-privilege PostgreSQL role, upgrading and rolling back."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import asyncpg
import pytest

from gateway.errors import StoreError
from gateway.store import make_store, release_schema_version
from tests.conftest import PG_URL
from tests.procs import ONEWINDOW, run_cli, write_config
from tests.test_store import record

DEPLOY = Path(__file__).resolve().parents[1] / "docs" / "deploy"
UNITS = ("onewindow.service", "onewindow-purge.service", "onewindow-purge.timer")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_units_verify_cleanly(tmp_path: Path) -> None:
    for name in UNITS:  # the documented path of the command, here the one this checkout installed
        text = (DEPLOY / name).read_text(encoding="utf-8").replace("/opt/onewindow/bin/onewindow", ONEWINDOW)
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / name) for name in UNITS)], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_check_catches_a_mistake(tmp_path: Path) -> None:
    text = (DEPLOY / "onewindow.service").read_text(encoding="utf-8").replace("/opt/onewindow/bin/onewindow", ONEWINDOW)
    (tmp_path / "onewindow.service").write_text(text.replace("KillSignal=SIGTERM", "KillSignal=SIGNOPE"))
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "onewindow.service")], capture_output=True)
    assert done.stderr, "systemd-analyze said nothing about a wrong signal name: the check above proves nothing"


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_the_nginx_example_is_accepted_by_nginx(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    site = (DEPLOY / "nginx-onewindow.conf").read_text(encoding="utf-8").replace("/etc/onewindow/tls", str(tmp_path))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=t", "-days", "1",
         "-keyout", str(tmp_path / "gateway.key"), "-out", str(tmp_path / "gateway.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    conf.write_text(f"pid {tmp_path}/nginx.pid; events {{}} http {{ {site} }}", encoding="utf-8")
    done = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


async def _psql_roles(owner: str, app: str, schema: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        sql = (DEPLOY / "postgres-roles.sql").read_text(encoding="utf-8")
        for name, value in (("owner", owner), ("app", app), ("schema", schema)):
            sql = sql.replace(f':"{name}"', f'"{value}"')
        await conn.execute(sql)
    finally:
        await conn.close()


async def _drop_roles(owner: str, app: str, schema: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for role in (app, owner):
            await conn.execute(f'DROP OWNED BY "{role}"')
            await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


def _as(role: str, schema: str) -> str:
    base = PG_URL.replace("postgres@", f"{role}@", 1)
    return f"{base}?schema={schema}"


@pytest.mark.postgres
async def test_gateways_run_with_data_rights_only_and_the_owner_migrates(pg_url: str, district, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    owner, app, schema = f"ow_owner_{tag}", f"ow_app_{tag}", f"ow_{tag}"
    await _psql_roles(owner, app, schema)
    try:
        owner_config = write_config(tmp_path / "owner.toml", store_url=_as(owner, schema), district=district)
        app_config = write_config(tmp_path / "app.toml", store_url=_as(app, schema), district=district)
        code, out, err = await run_cli("migrate", "--config", str(app_config))
        assert code == 2 and "onewindow migrate" in err and "owner" in err, (out, err)  # a new store: app may not
        code, out, err = await run_cli("migrate", "--config", str(owner_config))
        assert code == 0 and f"schema version {release_schema_version('postgres')}" in out, err
        code, out, _ = await run_cli("migrate", "--check", "--config", str(app_config))
        assert code == 0 and "up to date" in out

        store = make_store(_as(app, schema))
        await store.open()  # up to date: nothing to create, so the app role opens it
        try:
            rec = record()
            assert await store.insert_request(rec)
            assert (await store.get_request(rec.id)).id == rec.id
            async with store.pool.acquire() as conn:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute("CREATE TABLE stolen (x int)")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute("DROP TABLE requests")
        finally:
            await store.close()

        owner_conn = await asyncpg.connect(_as(owner, schema).split("?")[0], server_settings={"search_path": schema})
        try:  # as if the next release brought a migration the store does not have yet
            await owner_conn.execute(
                "DELETE FROM schema_migrations WHERE version = $1", release_schema_version("postgres")
            )
        finally:
            await owner_conn.close()
        code, out, _ = await run_cli("migrate", "--check", "--config", str(app_config))
        assert code == 1 and "behind" in out
        pending = make_store(_as(app, schema))
        with pytest.raises(StoreError, match=r"run 'onewindow migrate --config FILE' with the schema owner's role"):
            await pending.open()
        await pending.close()
    finally:
        await _drop_roles(owner, app, schema)


async def test_a_release_runs_on_a_store_a_later_release_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/onewindow.db"
    store = make_store(url)
    await store.open()
    rec = record()
    await store.insert_request(rec)
    async with store.transaction() as db:  # what a later release's migration might add
        await db.execute("ALTER TABLE requests ADD COLUMN rating TEXT")
        await db.execute("ALTER TABLE outbox ADD COLUMN priority INTEGER")
        await db.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'ratings', '2027-01-01T00:00Z')",
            (release_schema_version("sqlite") + 1,),
        )
    await store.schedule(rec.id, "submit", due_at=rec.created_at, expires_at=rec.created_at)
    await store.close()
    again = make_store(url)
    await again.open()  # nothing pending for this release: it serves
    try:
        assert (await again.get_request(rec.id)).id == rec.id
        assert [e.request_id for e in await again.list_outbox(request_id=rec.id)] == [rec.id]
        assert await again.schema_version() == release_schema_version("sqlite") + 1
    finally:
        await again.close()
