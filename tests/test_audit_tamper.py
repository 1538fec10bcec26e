"""The tamper suite: someone with write access to the database edits the audit log directly.

Each test builds a real log (100 entries, a signed checkpoint every 16 and one
at the end) on SQLite and on PostgreSQL, tampers with it in SQL, and runs
``onewindow audit verify``: it must exit 1 and name the place. Then the
attacks on what no checkpoint has signed yet -- an entry planted with the right
seq and leaf hash and the head rewritten over it -- which the chain MAC stops
before anything signs them, and the operator's recovery.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.audit.admin import record_admin_act
from gateway.audit.keys import public_key_path
from gateway.audit.log import AuditLog
from gateway.audit.payloads import PayloadCipher
from gateway.audit.store import audit_store_for
from gateway.config.audit import AuditSettings
from gateway.errors import AuditIntegrityError, AuditUnavailable
from signing.audit.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from tests.audit_helpers import (
    CHAIN,
    LOG_ID,
    RawDB,
    build_log,
    leaf,
    other_signer,
    plant_entry,
    rewrite_head,
    run_cli,
    settings_of,
    write_config,
)


@pytest.fixture
def log(store_url: str, tmp_path: Path) -> tuple[str, RawDB]:
    """A 100-entry log with checkpoints at 16, 32, ... 96 and 100, and its configuration file."""
    config, signer = write_config(tmp_path, store_url)
    asyncio.run(build_log(store_url, signer))
    return config, RawDB(store_url)


def verify(capsys: pytest.CaptureFixture[str], config: str, *extra: str) -> tuple[int, dict]:
    code, out, err = run_cli(capsys, "audit", "verify", "--config", config, "--json", *extra)
    assert code in (0, 1), err
    return code, json.loads(out)


def test_an_untouched_log_verifies(log, capsys) -> None:
    code, report = verify(capsys, log[0])
    assert code == 0 and report["valid"]
    assert report["size"] == 100 and report["checkpoints"] == 7 and report["uncovered"] == 0


def test_changing_one_field_of_an_entry_is_named(log, capsys) -> None:
    config, db = log
    entry, _ = db.entry(37)
    db.run("UPDATE audit_entries SET entry = ? WHERE seq = 37", entry.replace(b'"caller":"c37"', b'"caller":"c99"'))
    code, report = verify(capsys, config)
    assert code == 1
    assert report["first_bad"]["first"] == 37 == report["first_bad"]["last"]
    assert "altered" in report["first_bad"]["what"]


def test_changing_an_entry_and_its_recorded_leaf_hash_is_still_located(log, capsys) -> None:
    config, db = log
    entry, _ = db.entry(37)
    forged = entry.replace(b'"caller":"c37"', b'"caller":"c99"')
    db.run("UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = 37", forged, leaf(forged))
    rewrite_head(db)
    code, report = verify(capsys, config)
    assert code == 1
    first = report["first_bad"]
    assert first["first"] <= 37 <= first["last"] and first["last"] - first["first"] < 16
    assert any(f["checkpoint"] == 48 for f in report["findings"])


def test_deleting_an_entry_is_named(log, capsys) -> None:
    config, db = log
    db.run("DELETE FROM audit_entries WHERE seq = 40")
    code, report = verify(capsys, config)
    assert code == 1
    assert report["first_bad"]["first"] == 40 and "missing" in report["first_bad"]["what"]


def test_swapping_two_entries_is_named(log, capsys) -> None:
    config, db = log
    (e20, l20), (e21, l21) = db.entry(20), db.entry(21)
    db.run("UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = 20", e21, l21)
    db.run("UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = 21", e20, l20)
    code, report = verify(capsys, config)
    assert code == 1
    assert report["first_bad"]["first"] == 20 and "content of entry 21" in report["first_bad"]["what"]


def test_inserting_an_entry_is_located(log, capsys) -> None:
    config, db = log
    entry, _ = db.entry(30)
    forged = entry.replace(b'"caller":"c30"', b'"caller":"intruder"')
    db.run("UPDATE audit_entries SET seq = -seq - 1 WHERE seq >= 30")
    db.run("UPDATE audit_entries SET seq = -seq WHERE seq < 0")  # every entry from 30 on moves up by one
    db.run(
        "INSERT INTO audit_entries (seq, appended_at, kind, request_id, entry, leaf_hash, payload) "
        "SELECT 30, appended_at, kind, request_id, ?, ?, NULL FROM audit_entries WHERE seq = 31",
        forged,
        leaf(forged),
    )
    rewrite_head(db)
    code, report = verify(capsys, config)
    assert code == 1
    first = report["first_bad"]
    assert (first["first"], first["last"]) == (30, 31) and "one was inserted" in first["what"]


def test_truncating_the_tail_is_named(log, capsys) -> None:
    config, db = log
    db.run("DELETE FROM audit_entries WHERE seq >= 70")
    rewrite_head(db)
    code, report = verify(capsys, config)
    assert code == 1
    assert report["first_bad"]["first"] == 70 and "truncated" in report["first_bad"]["what"]


def test_truncating_the_tail_and_its_checkpoints_is_caught_by_a_kept_checkpoint(log, capsys, tmp_path) -> None:
    config, db = log
    kept = tmp_path / "kept-proof.json"
    assert run_cli(capsys, "audit", "prove", "5", "--config", config, "--out", str(kept))[0] == 0
    db.run("DELETE FROM audit_entries WHERE seq >= 70")
    db.run("DELETE FROM audit_checkpoints WHERE tree_size > 70")
    rewrite_head(db)
    code, report = verify(capsys, config, "--from", str(kept))
    assert code == 1
    assert report["first_bad"]["first"] == 70 and "truncated" in report["first_bad"]["what"]


def test_replacing_a_checkpoint_is_named(log, capsys) -> None:
    config, db = log
    (signed,) = db.run("SELECT signed FROM audit_checkpoints WHERE tree_size = 48")[0]
    doc = json.loads(signed)
    lines = doc["checkpoint"].split("\n")
    lines[2] = "A" * 43 + "="  # another root
    doc["checkpoint"] = "\n".join(lines)
    db.run("UPDATE audit_checkpoints SET signed = ? WHERE tree_size = 48", json.dumps(doc))
    code, report = verify(capsys, config)
    assert code == 1
    assert report["first_bad"]["checkpoint"] == 48 and "bad-signature" in report["first_bad"]["what"]


def test_a_checkpoint_re_signed_with_another_key_is_named(log, capsys) -> None:
    config, db = log
    (signed,) = db.run("SELECT signed FROM audit_checkpoints WHERE tree_size = 64")[0]
    cp = SignedCheckpoint.from_dict(json.loads(signed)).checkpoint
    forged = Checkpoint(LOG_ID, 64, b"\x07" * 32, cp.timestamp_ms, previous_size=48)
    db.run(
        "UPDATE audit_checkpoints SET signed = ? WHERE tree_size = 64",
        json.dumps(sign_checkpoint(forged, other_signer()).to_dict()),
    )
    code, report = verify(capsys, config)
    assert code == 1
    assert report["first_bad"]["checkpoint"] == 64 and "key-mismatch" in report["first_bad"]["what"]


def test_editing_an_index_column_is_named(log, capsys) -> None:
    config, db = log
    db.run("UPDATE audit_entries SET kind = 'request.completed' WHERE seq = 12")
    code, report = verify(capsys, config)
    assert code == 1
    assert report["first_bad"]["first"] == 12 and "index columns" in report["first_bad"]["what"]


def test_altering_an_encrypted_payload_is_named(store_url, tmp_path, capsys) -> None:
    config, signer = write_config(tmp_path, store_url)
    asyncio.run(build_log(store_url, signer, entries=20, cipher=PayloadCipher(b"k" * 32)))
    db = RawDB(store_url)
    (payload,) = db.run("SELECT payload FROM audit_entries WHERE seq = 9")[0]
    altered = bytes(payload)[:-1] + bytes([payload[-1] ^ 1])  # a changed byte (setting one could leave it as it was)
    db.run("UPDATE audit_entries SET payload = ? WHERE seq = 9", altered)
    code, report = verify(capsys, config)
    assert code == 1
    assert report["first_bad"]["first"] == 9 and "payload" in report["first_bad"]["what"]


def test_verify_from_a_stored_checkpoint_recomputes_only_what_follows(log, capsys) -> None:
    config, db = log
    db.run("UPDATE audit_entries SET entry = ? WHERE seq = 3", b"{}")  # before the starting point
    code, report = verify(capsys, config, "--from", "48")
    assert code == 0 and report["start"] == 48
    code, report = verify(capsys, config)
    assert code == 1 and report["first_bad"]["first"] == 3


# -- entries the gateway did not write: the chain ------------------------------------------------------


def audit_key(config: str) -> str:
    return str(public_key_path(settings_of(config)))


@pytest.mark.parametrize("chain", ["guess", None], ids=["guessed-mac", "mac-cleared"])
def test_an_entry_planted_with_a_correct_leaf_hash_and_a_rewritten_head_is_never_signed(log, capsys, chain) -> None:
    config, db = log
    seq = plant_entry(db, chain=chain, item="tax.payment-record", document_digest="sha256:" + "0" * 64)
    code, _, err = run_cli(capsys, "audit", "checkpoint", "--config", config)
    assert (code == 1 and "entry 100" in err and "chain MAC" in err) or "no chain MAC" in err
    assert db.run("SELECT MAX(tree_size) FROM audit_checkpoints")[0][0] == 100 == seq  # nothing signed over it
    code, report = verify(capsys, config, "--key", audit_key(config))
    assert code == 1 and report["first_bad"]["first"] == 100 and "chain MAC" in report["first_bad"]["what"]
    with pytest.raises(AuditUnavailable, match="entry 100"):  # nothing more is recorded on top of it
        asyncio.run(record_admin_act(settings_of(config), "outbox_retry", request_id="01J0", by="ops-1"))


def test_without_the_district_secret_verify_says_the_unsigned_entries_are_unchecked(log, capsys) -> None:
    config, db = log
    plant_entry(db)
    (Path(config).parent / "pki" / "audit" / "audit-secret.key").unlink()  # an auditor's copy of the store
    code, report = verify(capsys, config)
    assert code == 0 and report["uncovered"] == 1
    assert any("chain MACs of the 1 entry after the latest checkpoint were not checked" in n for n in report["notes"])


def test_recovery_sets_a_planted_entry_aside_records_the_act_and_signs_again(log, capsys) -> None:
    config, db = log
    plant_entry(db, item="tax.payment-record")
    code, out, err = run_cli(capsys, "audit", "recover", "--config", config, "--by", "ops-li", "--reason", "INC-7")
    assert code == 0, err
    assert "entry 100: not written by this district's gateways" in out and "set aside 1 entry (100..100)" in out
    (kept,) = db.run("SELECT seq, kind, request_id FROM audit_entries_set_aside")
    assert kept == (100, "result.sealed", "01JZZZZZZZZZZZZZZZZZZZZZZZ")
    recorded = json.loads(db.entry(100)[0])
    assert recorded["kind"] == "admin.audit_recovered" and recorded["fields"]["by"] == "ops-li"
    assert recorded["fields"]["set_aside_entries"] == {"first": 100, "last": 100, "count": 1}
    assert db.run("SELECT MAX(tree_size) FROM audit_checkpoints")[0][0] == 101
    assert verify(capsys, config, "--key", audit_key(config))[0] == 0
    code, out, _ = run_cli(capsys, "audit", "recover", "--config", config, "--by", "ops-li", "--reason", "again")
    assert code == 0 and "nothing to recover" in out


def test_recovery_sets_a_forged_checkpoint_aside_and_extends_the_last_one_that_holds(log, capsys) -> None:
    config, db = log
    (signed,) = db.run("SELECT signed FROM audit_checkpoints WHERE tree_size = 100")[0]
    cp = SignedCheckpoint.from_dict(json.loads(signed)).checkpoint
    forged = Checkpoint(LOG_ID, 100, cp.root_hash, cp.timestamp_ms, previous_size=96)
    db.run(
        "UPDATE audit_checkpoints SET signed = ? WHERE tree_size = 100",
        json.dumps(sign_checkpoint(forged, other_signer()).to_dict()),
    )
    code, _, err = run_cli(capsys, "audit", "checkpoint", "--config", config)
    assert code == 1 and "checkpoint at size 100" in err
    code, out, err = run_cli(capsys, "audit", "recover", "--config", config, "--by", "ops-li", "--reason", "INC-8")
    assert code == 0 and "set aside checkpoint(s) at size 100" in out, err
    assert db.run("SELECT tree_size FROM audit_checkpoints_set_aside") == [(100,)]
    assert db.run("SELECT COUNT(*) FROM audit_entries_set_aside")[0][0] == 0  # entries 96..99 kept: the chain holds
    code, report = verify(capsys, config, "--key", audit_key(config))
    assert code == 0 and report["size"] == 101


def test_recovery_refuses_what_a_valid_checkpoint_signed_and_says_restore(log, capsys) -> None:
    config, db = log
    db.run("DELETE FROM audit_entries WHERE seq >= 70")
    rewrite_head(db)
    code, _, err = run_cli(capsys, "audit", "recover", "--config", config, "--by", "ops-li", "--reason", "INC-9")
    assert code == 1 and "restore it from a backup" in err
    assert db.run("SELECT COUNT(*) FROM audit_entries_set_aside")[0][0] == 0


async def test_a_running_log_closes_when_the_check_before_a_checkpoint_finds_a_planted_entry(store, store_url) -> None:
    signer = other_signer()
    audit = AuditLog(
        audit_store_for(store, CHAIN), settings=AuditSettings(), log_id=LOG_ID, instance="t", signer=signer
    )
    await audit.start()
    for i in range(5):
        await audit.append("agency.attempt", {"request_id": f"R{i}"})
    await audit.checkpoint()
    await audit.append("agency.attempt", {"request_id": "R5"})
    await audit.store.durable()  # what the gateway wrote is on disk before the intruder writes behind it
    seq = await asyncio.to_thread(plant_entry, RawDB(store_url))
    with pytest.raises(AuditIntegrityError, match=f"entry {seq}"):
        await audit.checkpoint()
    assert not audit.sound and audit.damage.first == seq
    with pytest.raises(AuditUnavailable):
        await audit.append("agency.attempt", {"request_id": "R6"})
    assert (await audit.store.latest_checkpoint()).tree_size == 5
    await audit.close()  # no last checkpoint over a damaged log
    assert (await audit.store.latest_checkpoint()).tree_size == 5


# -- a store from before the chain ---------------------------------------------------------------------


def strip_chain(db: RawDB) -> None:
    """Turn a store back into one from before migration 0004 (entries and head without chain values)."""
    for sql in (
        "DROP TABLE audit_entries_set_aside",
        "DROP TABLE audit_checkpoints_set_aside",
        "ALTER TABLE audit_entries DROP COLUMN chain",
        "ALTER TABLE audit_head DROP COLUMN chain",
        "DELETE FROM schema_migrations WHERE version = 4",
    ):
        db.run(sql)


def test_a_store_from_before_the_chain_keeps_its_history_and_chains_on_from_its_last_checkpoint(log, capsys) -> None:
    config, db = log
    before = db.run("SELECT seq, entry, leaf_hash FROM audit_entries ORDER BY seq")
    strip_chain(db)
    seq = asyncio.run(record_admin_act(settings_of(config), "outbox_retry", request_id="01J0", by="ops-1"))
    assert seq == 100  # migrated, checked, anchored at the checkpoint at 100, appended
    assert db.run("SELECT seq, entry, leaf_hash FROM audit_entries WHERE seq < 100 ORDER BY seq") == before
    assert db.run("SELECT COUNT(*) FROM audit_entries WHERE chain IS NULL")[0][0] == 100  # history not rewritten
    assert run_cli(capsys, "audit", "checkpoint", "--config", config)[0] == 0
    assert verify(capsys, config, "--key", audit_key(config))[0] == 0


def test_entries_a_store_from_before_the_chain_left_unsigned_wait_for_recovery(log, capsys) -> None:
    config, db = log
    asyncio.run(record_admin_act(settings_of(config), "outbox_retry", request_id="01J0", by="ops-1"))
    strip_chain(db)  # entry 100 was written before the chain, and no checkpoint covers it
    code, _, err = run_cli(capsys, "audit", "checkpoint", "--config", config)
    assert code == 1 and "entry 100: carries no chain MAC" in err
    code, out, _ = run_cli(capsys, "audit", "recover", "--config", config, "--by", "ops-1", "--reason", "upgrade")
    assert code == 0 and "set aside 1 entry (100..100)" in out
    assert verify(capsys, config, "--key", audit_key(config))[0] == 0


def test_a_deleted_latest_checkpoint_is_named_and_recovery_signs_again_without_setting_entries_aside(
    log, capsys
) -> None:
    config, db = log
    asyncio.run(record_admin_act(settings_of(config), "outbox_retry", request_id="01J0", by="ops-1"))
    db.run("DELETE FROM audit_checkpoints WHERE tree_size = 100")  # the chain restarted there: entry 100 says so
    code, _, err = run_cli(capsys, "audit", "checkpoint", "--config", config)
    assert code == 1 and "checkpoint was signed at size 100, but it is gone" in err
    code, out, err = run_cli(capsys, "audit", "recover", "--config", config, "--by", "ops-1", "--reason", "INC-10")
    assert code == 0 and "set aside" not in out and "signed again the checkpoint(s) at size 100" in out, err
    assert [r[0] for r in db.run("SELECT tree_size FROM audit_checkpoints WHERE tree_size >= 96")] == [96, 100, 102]
    assert verify(capsys, config, "--key", audit_key(config))[0] == 0
