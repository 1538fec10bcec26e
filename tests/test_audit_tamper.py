"""The tamper suite: someone with write access to the database edits the audit log directly.

Each test builds a real log (100 entries, a signed checkpoint every 16 and one
at the end) on SQLite and on PostgreSQL, tampers with it in SQL, and runs
``onewindow audit verify``: it must exit 1 and name the place.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

from gateway.audit.payloads import PayloadCipher
from signing.audit.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from signing.audit.merkle import MerkleTreeBuilder
from tests.audit_helpers import LOG_ID, RawDB, build_log, other_signer, run_cli, write_config


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


def leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def rewrite_head(db: RawDB) -> None:
    """What a careful attacker does after editing entries: recompute the head from the leaves left."""
    builder = MerkleTreeBuilder()
    builder.extend(bytes(r[0]) for r in db.run("SELECT leaf_hash FROM audit_entries ORDER BY seq"))
    frontier = builder.frontier()
    db.run("UPDATE audit_head SET size = ?, frontier = ? WHERE id = 1", frontier.size, b"".join(frontier.hashes))


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
    db.run("UPDATE audit_entries SET payload = ? WHERE seq = 9", bytes(payload)[:-1] + b"\x00")
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
