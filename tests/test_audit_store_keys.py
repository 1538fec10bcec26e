"""An instance whose PKI directory is not the store's refuses to start, in one line, and writes nothing.

The store is written by a gateway of the session's district and stopped
cleanly (its last checkpoint signed, with the id of the secret that chained
it); a second instance -- the real ``onewindow serve`` process -- points at
the same store with another district's audit key and secret, or with only
another secret. Real damage under the instance's own keys still closes the
log instead (tests/test_audit_tamper_gateway.py); the last tests here show
that what looks like another key but is damage is not taken for it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.audit.admin import record_admin_act
from gateway.audit.secret import create_audit_secret, read_audit_secret
from gateway.errors import AuditSetupError
from gateway.store.postgres.store import split_schema
from signing.audit.checkpoint import SignedCheckpoint, key_id, load_public_key, sign_checkpoint
from tests.audit_helpers import other_signer
from tests.conftest import gateway_settings, make_district
from tests.procs import ONEWINDOW, write_config

AGENCIES = ("tax", "social_security", "medical", "housing_fund", "property")
NOBODY = "http://127.0.0.1:9"  # discard: nothing answers, and nothing here calls it


async def contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store, to show that a refused start wrote nothing."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            return {name: sorted(db.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}
    dsn, schema = split_schema(url)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema or "public"})
    try:
        names = [
            r[0]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", schema
            )
        ]
        return {
            name: sorted((tuple(r) for r in await conn.fetch(f'SELECT * FROM "{name}"')), key=repr) for name in names
        }
    finally:
        await conn.close()


def audit_ids(pki: Path) -> tuple[str, str]:
    """(audit key id, audit secret id) of a PKI directory."""
    public = load_public_key((pki / "audit" / "audit-key.pub.pem").read_bytes())
    return key_id(public), read_audit_secret(pki / "audit" / "audit-secret.key").secret_id


@pytest.fixture
async def written(start_gateway, store_url: str) -> str:
    """The store a gateway of the session's district wrote and stopped cleanly."""
    gw = await start_gateway(store_url)
    await gw.gateway.stop(grace_s=0.5)
    return store_url


async def refused_serve(tmp_path: Path, store_url: str, district: tuple[Path, Path], *options: str) -> str:
    """``onewindow serve`` of ``district`` on the store: it exits non-zero, saying one line on stderr."""
    (district[0] / "root" / "root-key.pem").unlink(missing_ok=True)  # a test district's: serve would warn of it
    config = write_config(
        tmp_path / "joining.toml",
        store_url=store_url,
        district=district,
        server={"host": "127.0.0.1", "port": 0},  # never the real port, even if the check were missing
        agencies={code: {"base_url": NOBODY} for code in AGENCIES},
    )
    proc = await asyncio.create_subprocess_exec(
        ONEWINDOW,
        "serve",
        "--config",
        str(config),
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:  # the refusal comes within seconds; a gateway that serves instead is stopped here
        out_bytes, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    out, err = out_bytes.decode(), err_bytes.decode()
    assert proc.returncode and "serving" not in out and "workers on" not in out, out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


async def test_an_instance_with_another_pki_directory_refuses_to_start_naming_both_keys(
    written: str, district: tuple[Path, Path], tmp_path: Path
) -> None:
    other = make_district(tmp_path / "other")
    before = await contents(written)
    line = await refused_serve(tmp_path, written, other)
    (store_key, store_secret), (own_key, own_secret) = audit_ids(district[0]), audit_ids(other[0])
    assert line.startswith("onewindow: this store's audit log was written with other audit keys than this instance's")
    assert f"signed by audit key {store_key}, this instance's is {own_key}" in line
    assert f"chained by audit secret {store_secret}, this instance's is {own_secret}" in line
    assert f"copy {other[0] / 'audit'} from the instance that created the store" in line
    assert 'docs/operations.md, "Several instances on PostgreSQL"' in line
    assert await contents(written) == before


async def test_an_instance_with_only_another_audit_secret_refuses_to_start(
    written: str, district: tuple[Path, Path], tmp_path: Path
) -> None:
    pki = tmp_path / "copy" / "pki"
    shutil.copytree(district[0], pki)
    (pki / "audit" / "audit-secret.key").unlink()
    own_secret = create_audit_secret(pki / "audit" / "audit-secret.key").secret_id
    before = await contents(written)
    line = await refused_serve(tmp_path, written, (pki, district[1]))
    assert (
        f"(its entries are chained by audit secret {audit_ids(district[0])[1]}, this instance's is {own_secret})"
        in line
    )
    assert "signed by audit key" not in line
    assert await contents(written) == before


@pytest.mark.postgres
async def test_serve_with_workers_refuses_before_any_worker_starts(
    start_gateway, pg_url: str, district: tuple[Path, Path], tmp_path: Path
) -> None:
    await (await start_gateway(pg_url)).gateway.stop(grace_s=0.5)
    other = make_district(tmp_path / "other")
    before = await contents(pg_url)
    line = await refused_serve(tmp_path, pg_url, other, "--workers", "2")
    assert f"signed by audit key {audit_ids(district[0])[0]}, this instance's is {audit_ids(other[0])[0]}" in line
    assert await contents(pg_url) == before


async def test_an_administrative_act_from_another_pki_directory_is_refused_the_same_way(
    written: str, tmp_path: Path
) -> None:
    other = make_district(tmp_path / "other")
    before = await contents(written)
    with pytest.raises(AuditSetupError, match=r"^this store's audit log was written with other audit keys"):
        await record_admin_act(gateway_settings(written, other), "outbox_retry", request_id="01J0", by="ops-1")
    assert await contents(written) == before


async def test_every_checkpoint_records_the_id_of_the_secret_that_chained_it(written: str, district) -> None:
    rows = (await contents(written))["audit_checkpoints"]
    assert rows and {row[-1] for row in rows} == {audit_ids(district[0])[1]}


# -- damage that names another key is still damage ------------------------------------------


def latest_checkpoint(db: Path) -> tuple[int, dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        size, signed = conn.execute(
            "SELECT tree_size, signed FROM audit_checkpoints ORDER BY tree_size DESC"
        ).fetchone()
    return size, json.loads(signed)


def rewrite_checkpoint(db: Path, size: int, signed: dict[str, Any]) -> None:
    """Put ``signed`` in the checkpoint row, as from a store before migration 0012 (no secret id to go by)."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE audit_checkpoints SET signed = ?, secret_id = NULL WHERE tree_size = ?", (json.dumps(signed), size)
        )


async def test_a_checkpoint_whose_key_id_was_edited_is_damage_not_another_key(start_gateway, tmp_path: Path) -> None:
    url, db = f"sqlite:///{tmp_path}/edited.db", tmp_path / "edited.db"
    await (await start_gateway(url)).gateway.stop(grace_s=0.5)
    size, signed = latest_checkpoint(db)
    rewrite_checkpoint(db, size, {**signed, "key_id": "ab" * 32})  # the signature still holds under the key
    gw = await start_gateway(url)
    assert not gw.gateway.audit.sound
    assert gw.gateway.audit.damage.checkpoint == size


async def test_a_checkpoint_forged_with_another_key_over_a_store_this_key_signed_is_damage(
    start_gateway, tmp_path: Path
) -> None:
    url, db = f"sqlite:///{tmp_path}/forged.db", tmp_path / "forged.db"
    for _ in range(2):  # two starts, two checkpoints: the first one this district's
        await (await start_gateway(url)).gateway.stop(grace_s=0.5)
    size, signed = latest_checkpoint(db)
    forged = sign_checkpoint(SignedCheckpoint.from_dict(signed).checkpoint, other_signer())
    rewrite_checkpoint(db, size, forged.to_dict())
    gw = await start_gateway(url)
    assert not gw.gateway.audit.sound
    assert gw.gateway.audit.damage.checkpoint == size
