"""A gateway restarted on a damaged audit log refuses to seal until an operator acts.

Each test runs a real gateway on SQLite and on PostgreSQL, seals one result,
stops it (it signs a last checkpoint), damages the store in SQL the way
someone with write access to the database would, and starts a gateway on it
again: that gateway must start, say where the damage is in one log line,
answer ``/readyz`` with 503, refuse intake that needs a seal with 503
``audit-unavailable``, refuse audit proofs with 503 (never 500), and sign
nothing -- until ``onewindow audit recover`` (or a restore) and a restart.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from gateway.audit.admin import record_admin_act
from gateway.observability.logs import configure_logging
from signing.audit.checkpoint import SignedCheckpoint, sign_checkpoint
from tests.audit_helpers import RawDB, cli, gateway_config, leaf, other_signer, plant_entry, rewrite_head, settings_of
from tests.helpers import PAYMENT_RECORD


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The gateway's structured log, as parsed JSON lines."""
    out = io.StringIO()
    configure_logging("info", stream=out)
    yield lambda: [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    structlog.reset_defaults()


async def sealed_and_stopped(start_gateway: Any, store_url: str) -> str:
    """A gateway seals one result and stops (signing a last checkpoint); the request id."""
    gw = await start_gateway(store_url)
    body = await (await gw.post(PAYMENT_RECORD)).json()
    assert body["status"] == "completed"
    await gw.gateway.stop()
    return str(body["id"])


def edit_after_the_checkpoint(db: RawDB, config: str) -> int:
    """An operator's act lands after the last checkpoint; then its entry is edited, leaf hash and head too."""
    seq = asyncio.run(record_admin_act(settings_of(config), "outbox_retry", request_id="01J0", by="ops-1"))
    entry, _ = db.entry(seq)
    forged = entry.replace(b'"by":"ops-1"', b'"by":"ops-2"')
    db.run("UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = ?", forged, leaf(forged), seq)
    rewrite_head(db)
    return seq


def edit_a_signed_entry(db: RawDB, config: str) -> str:
    ((seq, entry),) = db.run("SELECT seq, entry FROM audit_entries WHERE kind = 'request.accepted'")
    forged = bytes(entry).replace(b'"channel":"window"', b'"channel":"kiosk"')
    assert forged != bytes(entry)
    db.run("UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = ?", forged, leaf(forged), seq)
    rewrite_head(db)
    return "the log's head"


def truncate(db: RawDB, config: str) -> str:
    (size,) = db.run("SELECT size FROM audit_head")[0]
    db.run("DELETE FROM audit_entries WHERE seq >= ?", size - 2)
    rewrite_head(db)
    return f"entries {size - 2}..{size - 1}"


def delete_the_last_entries(db: RawDB, config: str) -> str:
    (size,) = db.run("SELECT size FROM audit_head")[0]
    db.run("DELETE FROM audit_entries WHERE seq >= ?", size - 2)
    return f"entries {size - 2}..{size - 1}"


def forge_the_checkpoint(db: RawDB, config: str) -> str:
    size, signed = db.run("SELECT tree_size, signed FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1")[0]
    cp = SignedCheckpoint.from_dict(json.loads(signed)).checkpoint
    db.run(
        "UPDATE audit_checkpoints SET signed = ? WHERE tree_size = ?",
        json.dumps(sign_checkpoint(cp, other_signer()).to_dict()),
        size,
    )
    return f"the checkpoint at size {size}"


DAMAGE: dict[str, Callable[[RawDB, str], Any]] = {
    "planted-entry": lambda db, config: plant_entry(db, item="tax.payment-record"),
    "edited-entry-after-the-checkpoint": edit_after_the_checkpoint,
    "edited-signed-entry-and-head": edit_a_signed_entry,
    "truncated-tail": truncate,
    "deleted-tail-head-untouched": delete_the_last_entries,
    "forged-checkpoint-signature": forge_the_checkpoint,
}


def where(place: Any) -> str:
    return f"entry {place}" if isinstance(place, int) else str(place)


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
async def test_a_gateway_started_on_a_damaged_log_says_where_and_refuses_to_seal(
    damage, start_gateway, store_url, district, tmp_path, log_lines
) -> None:
    request_id = await sealed_and_stopped(start_gateway, store_url)
    config = gateway_config(tmp_path, store_url, district)
    db = RawDB(store_url)
    checkpoints = await asyncio.to_thread(db.run, "SELECT tree_size FROM audit_checkpoints ORDER BY tree_size")
    place = await asyncio.to_thread(DAMAGE[damage], db, config)

    gw = await start_gateway(store_url)
    ready = await gw.client.get("/readyz")
    report = await ready.json()
    assert ready.status == 503 and not report["ready"]
    assert report["audit"]["state"] == "damaged" and report["audit"]["where"] == where(place)
    (line,) = [e for e in log_lines() if e["event"] == "audit.damaged"]
    assert line["level"] == "error" and line["where"] == where(place) and "operator" in line["consequence"]

    refused = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": "kiosk-0001"})
    problem = await refused.json()
    assert refused.status == 503 and problem["type"] == "/problems/audit-unavailable"
    assert where(place) in problem["detail"] and refused.headers["X-Request-Id"] == problem["request_id"]
    # refused before anything was touched: no idempotency key claimed, no failure logged
    assert (await asyncio.to_thread(db.run, "SELECT COUNT(*) FROM idempotency_keys"))[0][0] == 0
    assert not [e for e in log_lines() if e["event"] == "http.unhandled_error"]
    proof = await gw.get(f"/v1/requests/{request_id}/audit-proof")
    assert proof.status == 503 and (await proof.json())["type"] == "/problems/audit-unavailable"
    assert (await gw.client.post("/v1/verify", json={"hello": "world"})).status == 503  # recorded, so refused too
    assert (await gw.get(f"/v1/requests/{request_id}")).status == 200  # what is stored can still be read

    await gw.gateway.stop()  # no last checkpoint over damage
    after = await asyncio.to_thread(db.run, "SELECT tree_size FROM audit_checkpoints ORDER BY tree_size")
    assert after == checkpoints
    assert (await asyncio.to_thread(db.run, "SELECT COUNT(*) FROM requests"))[0][0] == 1  # nothing was accepted


async def test_after_recovery_a_restarted_gateway_seals_again_and_the_log_verifies(
    start_gateway, store_url, district, tmp_path, capsys
) -> None:
    request_id = await sealed_and_stopped(start_gateway, store_url)
    config = gateway_config(tmp_path, store_url, district)
    db = RawDB(store_url)
    planted = await asyncio.to_thread(plant_entry, db, item="tax.payment-record")
    key = str(Path(district[0]) / "audit" / "audit-key.pub.pem")
    code, out = await cli(capsys, "audit", "verify", "--config", config, "--key", key)
    assert code == 1 and f"entry {planted}" in out

    gw = await start_gateway(store_url)
    assert (await gw.post(PAYMENT_RECORD)).status == 503
    await gw.gateway.stop()
    code, out = await cli(capsys, "audit", "recover", "--config", config, "--by", "ops-li", "--reason", "INC-7")
    assert code == 0 and f"set aside 1 entry ({planted}..{planted})" in out, out

    gw = await start_gateway(store_url)
    assert (await gw.client.get("/readyz")).status == 200
    assert (await gw.post(PAYMENT_RECORD)).status == 201
    assert (await gw.get(f"/v1/requests/{request_id}/audit-proof")).status == 200
    await gw.gateway.stop()
    code, out = await cli(capsys, "audit", "verify", "--config", config, "--key", key)
    assert code == 0 and "VALID" in out, out


async def test_damage_found_while_running_closes_the_log_and_stops_the_outbox(log_lines, gw) -> None:
    assert (await gw.post(PAYMENT_RECORD)).status == 201
    db = RawDB(gw.gateway.settings.store_url)
    planted = await asyncio.to_thread(plant_entry, db)
    with pytest.raises(Exception, match=f"entry {planted}"):
        await gw.gateway.audit.checkpoint()
    assert gw.gateway.worker is None  # deliveries record every step: none while the log is closed
    assert (await gw.post(PAYMENT_RECORD)).status == 503
    assert (await gw.client.get("/readyz")).status == 503
    assert [e["where"] for e in log_lines() if e["event"] == "audit.damaged"] == [f"entry {planted}"]


async def test_an_outbox_delivery_caught_by_the_log_closing_is_left_in_the_outbox_untouched(start_gateway) -> None:
    from gateway.delivery.outbox import OutboxWorker
    from tests.helpers import CLEARANCE, TOWN

    gw = await start_gateway(agency_changes={"tax": {"max_attempts": 1}})
    gw.sandboxes["tax"].knobs.update({"maintenance": True})
    deferred = await (await gw.post({**CLEARANCE, "office": TOWN})).json()
    assert deferred["status"] == "deferred"
    await asyncio.to_thread(plant_entry, RawDB(gw.gateway.settings.store_url))
    with pytest.raises(Exception, match="chain MAC"):
        await gw.gateway.audit.checkpoint()
    gw.sandboxes["tax"].knobs.update({"maintenance": False})
    store = gw.gateway.store
    (row,) = await store.list_outbox(request_id=deferred["id"])
    worker = OutboxWorker(store=store, delivery=gw.gateway.delivery, callbacks=gw.gateway.callbacks, instance="t")
    await worker._handle(row)  # its first event meets the closed log
    assert await store.list_outbox(request_id=deferred["id"]) == [row]  # not retried, not dead-lettered
    assert (await store.get_request(deferred["id"])).status.value == "deferred"
