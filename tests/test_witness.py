"""The witness: where signed checkpoints go, what it refuses, and a store it does not vouch for.

A fork (another store signing under the district's key and log id) is
refused at start-up and by ``audit reconcile``; a witness this log's key did
not sign closes the log; a witness that moves ahead while the gateway runs
closes it at the next checkpoint; a witness that cannot be reached is said
and does not stop intake; the HTTP witness takes ``PUT`` and never follows
a redirect; administrative acts are refused on a store behind its witness.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.audit.admin import record_admin_act
from gateway.audit.entries import prepare_entry
from gateway.audit.store import audit_store_for
from gateway.audit.witness import Witness
from gateway.audit.witness_places import DirectoryWitness, HttpWitness, record_name
from gateway.config import ConfigError, WitnessSettings, load_settings
from gateway.errors import AuditUnavailable, WitnessError
from gateway.store import make_store
from signing.audit.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from tests.audit_helpers import CHAIN, LOG_ID, RawDB, cli, gateway_config, other_signer, settings_of
from tests.helpers import PAYMENT_RECORD
from tests.procs import refusing_port
from tests.test_audit_tamper_gateway import log_lines  # noqa: F401 -- the fixture


def with_witness(directory: Path | str | None = None, url: str = "") -> dict[str, Any]:
    return {"witness": WitnessSettings(dir=str(directory or ""), url=url)}


async def served(start_gateway: Any, store_url: str, requests: int, **changes: Any) -> Any:
    """A gateway that served ``requests`` requests and signed a checkpoint over them (still running)."""
    gw = await start_gateway(store_url, **changes)
    for _ in range(requests):
        assert (await gw.post(PAYMENT_RECORD)).status == 201
    await gw.gateway.audit.checkpoint()
    return gw


async def test_a_fork_under_the_same_key_is_refused_at_start_and_by_reconcile(
    start_gateway,
    district,
    tmp_path,
    capsys,
    log_lines,  # noqa: F811
) -> None:
    witness = tmp_path / "witness"
    first = await served(start_gateway, f"sqlite:///{tmp_path}/a.db", 1, **with_witness(witness))
    await first.gateway.stop(grace_s=0.5)
    other = f"sqlite:///{tmp_path}/b.db"  # another store, the same district key: it signs a different log
    fork = await served(start_gateway, other, 3)
    await fork.gateway.stop(grace_s=0.5)

    gw = await start_gateway(other, **with_witness(witness))
    report = (await (await gw.client.get("/readyz")).json())["audit"]
    assert report["state"] == "behind_witness" and "a fork" in report["what"]
    assert [e for e in log_lines() if e["event"] == "audit.behind_witness"]
    await gw.gateway.stop(grace_s=0.5)
    config = gateway_config(tmp_path, other, district, witness=witness)
    code, out = await cli(capsys, "audit", "reconcile", "--config", config, "--by", "ops", "--reason", "x")
    assert code == 1 and "cannot reconcile" in out and "fork" in out
    code, out = await cli(capsys, "audit", "checkpoint", "--config", config)
    assert code == 1 and "refused to sign" in out and "behind the witness" in out


async def test_a_witness_this_log_did_not_sign_closes_the_log(start_gateway, tmp_path) -> None:
    witness = tmp_path / "witness"
    forged = other_signer()
    gw = await served(start_gateway, f"sqlite:///{tmp_path}/a.db", 1, **with_witness(witness))
    await gw.gateway.stop(grace_s=0.5)
    latest = json.loads((witness / "latest.json").read_text())
    checkpoint = SignedCheckpoint.from_dict(latest).checkpoint
    (witness / "latest.json").write_text(json.dumps(sign_checkpoint(checkpoint, forged).to_dict()))
    again = await start_gateway(f"sqlite:///{tmp_path}/a.db", **with_witness(witness))
    report = (await (await again.client.get("/readyz")).json())["audit"]
    assert report["state"] == "behind_witness" and "did not sign" in report["what"]
    assert (await again.post(PAYMENT_RECORD)).status == 503


async def test_a_witness_that_moves_ahead_while_running_closes_the_log_at_the_next_checkpoint(
    start_gateway, tmp_path
) -> None:
    witness = tmp_path / "witness"
    gw = await served(start_gateway, f"sqlite:///{tmp_path}/a.db", 1, **with_witness(witness))
    elsewhere = tmp_path / "elsewhere"  # a copy of the district's store serving somewhere else, further on ...
    await served(start_gateway, f"sqlite:///{tmp_path}/b.db", 4, **with_witness(elsewhere))
    shutil.copy(elsewhere / "latest.json", witness / "latest.json")  # ... and its checkpoint reaches the witness
    assert (await gw.post(PAYMENT_RECORD)).status == 201
    await gw.gateway.audit.checkpoint()
    assert gw.gateway.audit.damage is not None and gw.gateway.audit.damage.state == "behind_witness"
    assert (await gw.post(PAYMENT_RECORD)).status == 503


async def test_a_witness_out_of_reach_is_said_and_does_not_stop_intake(
    start_gateway,
    tmp_path,
    log_lines,  # noqa: F811
) -> None:
    with refusing_port() as port:  # held for the whole test: no other server can answer there in its place
        url = f"http://127.0.0.1:{port}/witness/"
        gw = await served(start_gateway, f"sqlite:///{tmp_path}/a.db", 1, **with_witness(url=url))
        assert (await gw.client.get("/readyz")).status == 200 and (await gw.post(PAYMENT_RECORD)).status == 201
    events = {e["event"] for e in log_lines()}
    assert "audit.witness_unreadable" in events and "audit.witness_failed" in events


@pytest.fixture
async def http_witness() -> Any:
    """A witness service on loopback: keeps what is PUT, answers GET; ``redirect`` sends every PUT elsewhere."""
    kept: dict[str, bytes] = {}
    state = {"redirect": False}

    async def put(request: web.Request) -> web.Response:
        if state["redirect"]:
            raise web.HTTPTemporaryRedirect("http://127.0.0.2:1/elsewhere")
        kept[request.match_info["name"]] = await request.read()
        return web.Response(status=201)

    async def get(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.Response(body=kept[name]) if name in kept else web.Response(status=404)

    app = web.Application()
    app.router.add_put("/w/{name:.+}", put)
    app.router.add_get("/w/{name:.+}", get)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/w/")), kept, state
    await server.close()


async def test_the_http_witness_takes_each_record_then_the_latest_and_never_follows_a_redirect(
    start_gateway, tmp_path, http_witness
) -> None:
    url, kept, state = http_witness
    gw = await served(start_gateway, f"sqlite:///{tmp_path}/a.db", 1, **with_witness(url=url))
    size = json.loads(kept["latest.json"])["checkpoint"].split("\n")[1]
    assert f"checkpoints/{int(size):020d}.json" in kept
    latest, records = await gw.gateway.audit.witness.records_back_to(0)
    assert latest.checkpoint.tree_size == int(size) and records
    state["redirect"] = True
    place = HttpWitness(url, 2.0)
    with pytest.raises(WitnessError, match="refused"):
        await place.publish([("checkpoints/x.json", b"{}")], kept["latest.json"], 10**6)
    assert "checkpoints/x.json" not in kept


async def test_latest_never_moves_back_in_a_directory_witness(tmp_path) -> None:
    place = DirectoryWitness(tmp_path / "w")
    signer = other_signer()

    def signed(size: int) -> bytes:
        checkpoint = Checkpoint("onewindow-audit/370303", size, b"\x00" * 32, 1_700_000_000_000)
        return json.dumps(sign_checkpoint(checkpoint, signer).to_dict()).encode()

    assert await place.publish([], signed(10), 10) is True
    assert await place.publish([("checkpoints/a.json", b"{}")], signed(5), 5) is False  # a slower instance's older one
    assert (tmp_path / "w" / "latest.json").read_bytes() == signed(10)
    assert (tmp_path / "w" / "checkpoints/a.json").exists()  # its record is still kept
    assert await place.publish([], signed(12), 12) is True


async def test_an_administrative_act_is_refused_on_a_store_behind_its_witness(
    start_gateway, district, tmp_path
) -> None:
    witness = tmp_path / "witness"
    gw = await served(start_gateway, f"sqlite:///{tmp_path}/a.db", 2, **with_witness(witness))
    await gw.gateway.stop(grace_s=0.5)
    config = gateway_config(tmp_path, f"sqlite:///{tmp_path}/fresh.db", district, witness=witness)
    with pytest.raises(AuditUnavailable, match="behind the witness"):
        await record_admin_act(settings_of(config), "outbox_retry", request_id="01J0", by="ops-1")


def test_a_witness_inside_the_pki_directory_or_a_strange_url_is_refused(tmp_path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[pki]\ndir = "{tmp_path}/pki"\n[witness]\ndir = "{tmp_path}/pki/../pki/witness"\n')
    with pytest.raises(ConfigError, match=r"inside pki\.dir"):
        load_settings(config, environ={})
    for url in ("ftp://bureau/w/", "https:///w/", "https://bureau/w/?x=1"):
        config.write_text(f'[witness]\nurl = "{url}"\n')
        with pytest.raises(ConfigError, match=r"witness\.url"):
            load_settings(config, environ={})
    assert load_settings(environ={}).witness.dir == "var/witness"  # the sample district has one
    nowhere = load_settings(environ={"ONEWINDOW_WITNESS__DIR": '""'})
    assert Witness.for_settings(nowhere, other_signer().public_key(), "onewindow-audit/370303") is None


async def test_reconcile_refuses_when_the_witness_cannot_give_back_what_it_signed(
    start_gateway, district, tmp_path, capsys
) -> None:
    witness, url = tmp_path / "witness", f"sqlite:///{tmp_path}/a.db"
    gw = await served(start_gateway, url, 1, **with_witness(witness))
    await gw.gateway.stop(grace_s=0.5)
    shutil.copy(tmp_path / "a.db", tmp_path / "copy.db")  # a copy of the store while it was stopped
    gw = await served(start_gateway, url, 2, **with_witness(witness))
    await gw.gateway.stop(grace_s=0.5)
    latest = SignedCheckpoint.from_dict(json.loads((witness / "latest.json").read_text())).checkpoint.tree_size
    (witness / "checkpoints" / f"{latest:020d}.json").unlink()  # the bureau's copy lost a record
    for name in ("a.db", "a.db-wal", "a.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    shutil.copy(tmp_path / "copy.db", tmp_path / "a.db")
    config = gateway_config(tmp_path, url, district, witness=witness)
    code, out = await cli(capsys, "audit", "reconcile", "--config", config, "--by", "ops", "--reason", "x")
    assert code == 1 and f"lacks the record of its checkpoint at size {latest}" in out


async def test_a_checkpoints_record_holds_the_entries_it_was_checked_and_signed_on(tmp_path) -> None:
    """An entry changed behind the store's back after the checkpoint was signed is not what its record holds."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    signer = other_signer()
    store = make_store(url)
    await store.open()
    try:
        audit = audit_store_for(store, CHAIN)
        await audit.append([prepare_entry("request.accepted", {"request_id": f"r{i}"}, instance="t") for i in range(8)])
        assert await audit.checkpoint(signer, LOG_ID) is not None
        await store.durable()
        db = RawDB(url)
        signed = db.entry(3)[0]
        db.run("UPDATE audit_entries SET entry = ? WHERE seq = 3", signed.replace(b"r3", b"r9"))
        witness = Witness([DirectoryWitness(tmp_path / "w")], signer.public_key(), LOG_ID)
        assert await witness.publish(audit) is None
        record = json.loads((tmp_path / "w" / record_name(8)).read_bytes())
        assert record["entries"][3]["entry"] == signed.decode()
        assert audit.signed_entries(0, 8) is None  # handed over once
    finally:
        await store.close()
