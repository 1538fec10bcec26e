"""Backup, restore, and a restored store held to its witness until an operator reconciles it.

The whole story on both backends (SQLite: the online backup API; PostgreSQL:
``pg_dump``/``pg_restore``): a gateway serves, is backed up, serves more,
stops; the backup is restored; the gateway refuses to serve (its store is
behind the witness) until ``onewindow audit reconcile`` gives back the log
and lists the requests lost since the backup; then a client's retry of a
lost request resumes under its own request id and the agency does not act
twice.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg

from gateway.audit.witness import Witness, compare
from gateway.config import WitnessSettings
from signing.audit.checkpoint import SignedCheckpoint
from tests.audit_helpers import RawDB, cli, gateway_config
from tests.conftest import PG_URL, make_district
from tests.helpers import PAYMENT_RECORD
from tests.test_audit_tamper_gateway import log_lines  # noqa: F401 -- the fixture
from tests.test_outbox import CLEARANCE, wait_for_status

AFTER = {**CLEARANCE, "materials": {**CLEARANCE["materials"], "reason": "迁出本区"}}


def witnessed_size(witness: Path) -> int:
    return SignedCheckpoint.from_dict(json.loads((witness / "latest.json").read_text())).checkpoint.tree_size


async def drop_displaced_schemas(store_url: str) -> None:
    """A PostgreSQL restore renames the replaced schema aside; the test's own schema fixture drops only its own."""
    if not store_url.startswith("postgres"):
        return
    schema = store_url.rsplit("schema=", 1)[1]
    conn = await asyncpg.connect(PG_URL)
    try:
        for (name,) in await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", f"{schema}_before_%"):
            await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        await conn.close()


async def test_a_restored_backup_is_refused_until_reconciled_and_a_lost_request_resumes_under_its_own_id(
    store_url,
    start_gateway,
    tmp_path,
    capsys,
    log_lines,  # noqa: F811
) -> None:
    district = make_district(tmp_path / "district")
    witness = tmp_path / "bureau-witness"
    config = gateway_config(tmp_path, store_url, district, witness=witness)
    changes: dict[str, Any] = {
        "pki_dir": str(district[0]),
        "pki_passphrase_file": str(district[1]),
        "witness": WitnessSettings(dir=str(witness)),
    }
    archive = tmp_path / "backups" / "gw-2026-11-28.tar.gz"
    archive.parent.mkdir()
    try:
        first = await start_gateway(store_url, agency_changes={"tax": {"max_attempts": 1}}, **changes)
        tax = first.sandboxes["tax"]
        before = await first.post(PAYMENT_RECORD, **{"Idempotency-Key": "kiosk-before"})
        assert before.status == 201
        code, out = await cli(capsys, "backup", str(archive), "--config", config)  # online, while it serves
        assert code == 0, out
        assert archive.stat().st_mode & 0o777 == 0o600 and "without the district root key" in out

        done = await (await first.post(CLEARANCE, **{"Idempotency-Key": "window-after-1"})).json()
        assert done["status"] == "completed"
        tax.knobs.update({"maintenance": True})
        waiting = await (await first.post(AFTER, **{"Idempotency-Key": "window-after-2"})).json()
        assert waiting["status"] == "deferred"
        await first.client.close()
        await first.gateway.stop(grace_s=0.5)  # a last checkpoint, published to the witness
        tax.knobs.update({"maintenance": False})
        witnessed = witnessed_size(witness)
        acted = dict(tax.ledger.effective)

        code, out = await cli(capsys, "restore", str(archive), "--config", config)
        assert code == 2 and "ahead of the archive" in out and "--force" in out  # refused: nothing changed
        code, out = await cli(capsys, "restore", str(archive), "--config", config, "--force")
        assert code == 0 and "kept as" in out and "onewindow audit reconcile" in out, out

        routed = {"tax": {"base_url": tax.url}}  # the same agency, which remembers what it did
        second = await start_gateway(store_url, agency_changes=routed, **changes)
        ready = await second.client.get("/readyz")
        report = (await ready.json())["audit"]
        assert ready.status == 503 and report["state"] == "behind_witness" and "reconcile" in report["action"]
        refused = await second.post(CLEARANCE, **{"Idempotency-Key": "window-after-1"})
        problem = await refused.json()
        assert refused.status == 503 and problem["type"] == "/problems/audit-unavailable"
        assert "behind the witness" in problem["detail"] and "reconciles" in problem["detail"]
        (line,) = [e for e in log_lines() if e["event"] == "audit.behind_witness"]
        assert line["level"] == "error" and str(witnessed) in line["what"]
        await second.client.close()
        await second.gateway.stop(grace_s=0.5)
        assert witnessed_size(witness) == witnessed  # a closed log signed nothing, published nothing

        code, out = await cli(capsys, "audit", "reconcile", "--config", config, "--dry-run")
        assert code == 0 and "nothing was changed" in out, out
        assert done["id"] in out and waiting["id"] in out and "lost requests (2)" in out
        assert "completed" in out and "deferred" in out and "tax.clearance-certificate" in out
        assert "13805330123" not in out and CLEARANCE["applicant"]["name"] not in out  # no applicant data
        code, out = await cli(capsys, "audit", "reconcile", "--config", config, "--dry-run", "--json")
        listed = json.loads(out)
        assert code == 0 and [r["request_id"] for r in listed["lost"]] == [done["id"], waiting["id"]]
        assert [r["status"] for r in listed["lost"]] == ["completed", "deferred"] and listed["seq"] == -1
        assert listed["lost"][1]["agency_called"] and listed["lost"][1]["last_outcome"] != "ok"
        code, out = await cli(capsys, "audit", "reconcile", "--config", config, "--by", "ops-li", "--reason", "INC-7")
        assert code == 0 and f"recorded as entry {witnessed}" in out and "published to the witness" in out, out
        code, out = await cli(capsys, "audit", "reconcile", "--config", config, "--dry-run")
        assert code == 0 and "nothing to reconcile" in out

        third = await start_gateway(store_url, agency_changes=routed, **changes)
        assert (await third.client.get("/readyz")).status == 200
        other = await third.post(AFTER, **{"Idempotency-Key": "window-after-1"})  # the lost one's key, another body
        assert other.status == 422 and (await other.json())["original_request_id"] == done["id"]
        again = await third.post(CLEARANCE, **{"Idempotency-Key": "window-after-1"})
        resumed = await again.json()
        assert again.status == 201 and resumed["id"] == done["id"] and resumed["status"] == "completed"
        assert tax.ledger.effective[done["id"]] == acted[done["id"]] == 1  # answered from what it did, not again
        other = await third.post(AFTER, **{"Idempotency-Key": "window-after-1"})
        assert other.status == 422 and (await other.json())["original_request_id"] == done["id"]
        later = await (await third.post(AFTER, **{"Idempotency-Key": "window-after-2"})).json()
        assert later["id"] == waiting["id"]
        await wait_for_status(third, waiting["id"], "completed")
        assert tax.ledger.effective[waiting["id"]] == 1

        await third.gateway.audit.checkpoint()
        latest, _ = await third.gateway.audit.witness.latest()
        assert latest is not None and latest.checkpoint.tree_size > witnessed + 1
        assert await compare(third.gateway.audit.store, latest) is None  # it extends the witness's log
        code, out = await cli(capsys, "audit", "verify", "--config", config)
        assert code == 0 and "VALID" in out, out
        kinds = [row[0] for row in await asyncio.to_thread(RawDB(store_url).run, "SELECT kind FROM audit_entries")]
        assert kinds.count("admin.audit_reconciled") == 1
    finally:
        await drop_displaced_schemas(store_url)


async def test_the_witness_is_empty_until_the_first_checkpoint_and_then_holds_its_record(
    start_gateway, tmp_path
) -> None:
    witness = tmp_path / "w"
    gw = await start_gateway(witness=WitnessSettings(dir=str(witness)))
    assert not (witness / "latest.json").exists()
    assert (await gw.post(PAYMENT_RECORD)).status == 201
    signed = await gw.gateway.audit.checkpoint()
    assert signed is not None
    size = witnessed_size(witness)
    assert size == signed.checkpoint.tree_size
    record = json.loads((witness / "checkpoints" / f"{size:020d}.json").read_text())
    assert record["format"] == "onewindow-audit-bundle/v1" and record["to"] == size
    assert all("payload" not in row for row in record["entries"])  # never an encrypted payload outside the store
    assert (witness / "latest.json").stat().st_mode & 0o077 == 0o040
    audit = gw.gateway.audit
    assert isinstance(audit.witness, Witness)
    got, records = await audit.witness.records_back_to(0)
    assert got.checkpoint.tree_size == size and records[-1]["to"] == size
