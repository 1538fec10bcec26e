"""``onewindow audit ...`` commands: proofs and bundles checkable offline, keys, admin acts, exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.audit.admin import record_admin_act
from gateway.audit.keys import load_audit_public_key
from gateway.errors import AuditKeyError
from signing import create_sample_district
from signing.audit.checkpoint import key_id, public_key_pem
from signing.keys.passphrase import Passphrase
from tests.audit_helpers import PASSPHRASE, build_log, other_signer, run_cli, settings_of, with_audit, write_config


@pytest.fixture
def log(tmp_path: Path) -> str:
    config, signer = write_config(tmp_path, f"sqlite:///{tmp_path}/log.db")
    asyncio.run(build_log(f"sqlite:///{tmp_path}/log.db", signer))
    return config


def test_an_inclusion_proof_and_a_consistency_proof_check_offline(log, tmp_path, capsys) -> None:
    pub = tmp_path / "district-audit.pem"
    code, out, _ = run_cli(capsys, "audit", "export-key", str(pub), "--config", log)
    assert code == 0 and key_id(load_audit_public_key(settings_of(log))) in out
    code, _, _ = run_cli(capsys, "audit", "prove", "42", "--config", log, "--out", str(tmp_path / "inc.json"))
    assert code == 0
    code, out, _ = run_cli(capsys, "audit", "check-proof", str(tmp_path / "inc.json"), "--key", str(pub))
    assert code == 0 and "entry 42" in out and "size 100" in out
    code, out, _ = run_cli(capsys, "audit", "consistency", "32", "96", "--config", log)
    assert code == 0
    (tmp_path / "con.json").write_text(out, encoding="utf-8")
    code, out, _ = run_cli(capsys, "audit", "check-proof", str(tmp_path / "con.json"), "--key", str(pub))
    assert code == 0 and "extends size 32" in out
    doc = json.loads((tmp_path / "inc.json").read_text(encoding="utf-8"))
    doc["leaf_index"] = 43
    (tmp_path / "bad.json").write_text(json.dumps(doc), encoding="utf-8")
    assert run_cli(capsys, "audit", "check-proof", str(tmp_path / "bad.json"), "--key", str(pub))[0] == 1


def test_an_exported_bundle_verifies_offline_and_shows_any_edit(log, tmp_path, capsys) -> None:
    bundle = tmp_path / "bundle.json"
    code, out, _ = run_cli(capsys, "audit", "export", str(bundle), "--from", "20", "--to", "70", "--config", log)
    assert code == 0 and "entries 16..79" in out  # rounded out to checkpoints
    pub = tmp_path / "pub.pem"
    pub.write_text(public_key_pem(load_audit_public_key(settings_of(log))), encoding="ascii")
    code, out, _ = run_cli(capsys, "audit", "verify", "--bundle", str(bundle), "--key", str(pub))
    assert code == 0 and "VALID" in out
    doc = json.loads(bundle.read_text(encoding="utf-8"))
    doc["entries"][5]["entry"] = doc["entries"][5]["entry"].replace('"caller":"c21"', '"caller":"c00"')
    bundle.write_text(json.dumps(doc), encoding="utf-8")
    code, out, _ = run_cli(capsys, "audit", "verify", "--bundle", str(bundle), "--key", str(pub), "--json")
    report = json.loads(out)
    assert code == 1 and report["first_bad"]["first"] <= 21 <= report["first_bad"]["last"]
    other = tmp_path / "other.pem"
    other.write_text(public_key_pem(other_signer().public_key()), encoding="ascii")
    code, out, _ = run_cli(capsys, "audit", "verify", "--bundle", str(bundle), "--key", str(other))
    assert code == 1 and "not the trusted audit key" in out


def test_bad_input_is_one_line_and_exit_2_and_nothing_to_prove_is_exit_1(log, tmp_path, capsys) -> None:
    for argv in (
        ("audit", "consistency", "33", "96", "--config", log),
        ("audit", "verify", "--from", "33", "--config", log),
        ("audit", "verify", "--bundle", str(tmp_path / "missing.json")),
        ("audit", "show", "R1", "--config", str(tmp_path / "missing.toml")),
        ("audit", "init-key", "--config", log),
    ):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and len(err.strip().splitlines()) == 1, (argv, err)
    code, _, err = run_cli(capsys, "audit", "prove", "100", "--config", log)
    assert code == 2 and err.strip() == "onewindow audit: entry 100 does not exist: the log holds entries 0..99"
    assert asyncio.run(record_admin_act(settings_of(log), "outbox_retry", request_id="01J0", by="ops-1")) == 100
    code, _, err = run_cli(capsys, "audit", "prove", "100", "--config", log)
    assert code == 1 and "not covered" in err  # it exists, but no checkpoint signs it yet
    assert run_cli(capsys, "audit", "show", "nobody", "--config", log)[0] == 1


def test_verify_with_no_signed_checkpoint_says_nothing_is_signed_yet(tmp_path, capsys) -> None:
    config, _ = write_config(tmp_path, f"sqlite:///{tmp_path}/log.db")

    async def head(audit):
        return await audit.head()

    asyncio.run(with_audit(f"sqlite:///{tmp_path}/log.db", head))  # the store a gateway created, still empty
    code, out, _ = run_cli(capsys, "audit", "verify", "--config", config)
    assert code == 0 and "the log is empty" in out and "VALID" not in out
    for n in range(3):
        asyncio.run(record_admin_act(settings_of(config), "outbox_retry", request_id=f"01J{n}", by="ops-1"))
    code, out, _ = run_cli(capsys, "audit", "verify", "--config", config)
    assert code == 0 and "VALID" not in out and "every signed checkpoint" not in out
    assert "NOTHING SIGNED YET: the entries are consistent" in out and "no signed checkpoint" in out
    code, out, _ = run_cli(capsys, "audit", "verify", "--config", config, "--json")
    report = json.loads(out)
    assert code == 0 and report["checkpoints"] == 0 and report["notes"][0].startswith("nothing is signed yet")
    run_cli(capsys, "audit", "checkpoint", "--config", config)
    code, out, _ = run_cli(capsys, "audit", "verify", "--config", config)
    assert code == 0 and "VALID: every entry hashes into every signed checkpoint" in out


def test_verify_shows_progress_on_request(log, capsys) -> None:
    code, out, err = run_cli(capsys, "audit", "verify", "--config", log, "--progress")
    assert code == 0 and "100/100 entries" in err and "VALID" in out


def test_a_checkpoint_can_be_signed_on_demand(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    config, signer = write_config(tmp_path, url)
    asyncio.run(build_log(url, signer, entries=10, every=1000))
    assert asyncio.run(record_admin_act(settings_of(config), "outbox_retry", request_id="01J0", by="ops-1")) == 10
    code, out, _ = run_cli(capsys, "audit", "checkpoint", "--config", config)
    assert code == 0 and "size 11" in out
    assert "already covers" in run_cli(capsys, "audit", "checkpoint", "--config", config)[1]


def test_seal_changes_and_operator_acts_are_admin_entries(tmp_path, capsys, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    config, _ = write_config(tmp_path, url)
    pki = tmp_path / "district"
    registry = create_sample_district(pki, passphrase=Passphrase(PASSPHRASE))
    number = registry.seals()[0].number
    monkeypatch.setenv("ONEWINDOW_SEAL_PASSPHRASE", PASSPHRASE.decode())
    issue = ("seal", "issue", "--office", "370303105000", "--name", "房镇镇便民服务中心", "--kind", "service_centre")
    code, out, err = run_cli(capsys, *issue, "--items", "tax.*", "--pki", str(pki), "--config", config)
    assert code == 0, err
    code, _, err = run_cli(
        capsys, "seal", "suspend", number, "--reason", "审计中", "--pki", str(pki), "--config", config
    )
    assert code == 0, err
    code, _, err = run_cli(capsys, "seal", "reinstate", number, "--pki", str(pki), "--config", config)
    assert code == 0, err
    seq = asyncio.run(
        record_admin_act(settings_of(config), "outbox_dead_letter", request_id="01JX", by="ops-2", reason="手工")
    )

    async def entries(audit):
        return [json.loads(r[1]) async for chunk in audit.entries() for r in chunk]

    issued, *logged = asyncio.run(with_audit(url, entries))
    assert issued["kind"] == "admin.seal.issued" and issued["fields"]["seal_number"] in out
    assert issued["fields"]["scope"] == ["tax.*"] and issued["fields"]["office"] == "370303105000"
    assert [e["kind"] for e in logged] == ["admin.seal.suspended", "admin.seal.reinstated", "admin.outbox_dead_letter"]
    assert logged[0]["fields"]["seal_number"] == number and logged[0]["fields"]["reason"] == "审计中"
    assert logged[0]["instance"].startswith("cli:") and seq == 3
    assert logged[2]["request_id"] == "01JX" and logged[2]["fields"]["by"] == "ops-2"
    code, _, err = run_cli(
        capsys, "seal", "suspend", "370303-XX-9999", "--reason", "x", "--pki", str(pki), "--config", config
    )
    assert code == 2 and len(asyncio.run(with_audit(url, entries))) == 4  # a refused act is not logged


def test_reading_commands_refuse_a_sqlite_store_that_does_not_exist(tmp_path, capsys, monkeypatch) -> None:
    url = "sqlite:///var/onewindow.db"  # relative, as in the base configuration
    config, signer = write_config(tmp_path, url)
    monkeypatch.chdir(tmp_path)
    asyncio.run(build_log(url, signer, entries=8, every=8))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # an operator in another directory
    for argv in (
        ("verify",),
        ("show", "01J0"),
        ("prove", "1"),
        ("export", str(tmp_path / "b.json")),
        ("consistency", "8", "8"),
    ):
        code, out, err = run_cli(capsys, "audit", *argv, "--config", config)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (argv, err)
        assert f"no store at {elsewhere / 'var' / 'onewindow.db'}" in err and "--config" in err
    assert not (elsewhere / "var").exists()  # no empty store was made
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "audit", "verify", "--config", config)[0] == 0


def test_audit_rekey_re_encrypts_the_key_under_scrypt_with_a_new_passphrase(log, tmp_path, capsys) -> None:
    from gateway.audit.keys import key_path, load_signer
    from signing.keys.pkcs8 import kdf_of

    settings = settings_of(log)
    before = load_signer(settings).public_key()
    new = tmp_path / "new-passphrase"
    new.write_bytes(b"a new audit-key passphrase\n")
    code, out, err = run_cli(capsys, "audit", "rekey", "--config", log, "--new-passphrase-file", str(new))
    assert code == 0, err
    assert "-> scrypt" in out and kdf_of(key_path(settings).read_bytes()).current
    code, _, err = run_cli(capsys, "audit", "rekey", "--config", log)  # the old passphrase no longer opens it
    assert code == 2 and "wrong passphrase" in err
    import dataclasses

    moved = dataclasses.replace(settings, pki_passphrase_file=str(new))
    assert public_key_pem(load_signer(moved).public_key()) == public_key_pem(before)


def test_init_key_makes_the_district_secret_too_and_init_secret_never_replaces_one(tmp_path, capsys) -> None:
    config, _ = write_config(tmp_path, f"sqlite:///{tmp_path}/log.db")
    secret = tmp_path / "pki" / "audit" / "audit-secret.key"
    before = secret.read_bytes()
    code, _, err = run_cli(capsys, "audit", "init-secret", "--config", config)
    assert code == 2 and "already exists" in err and secret.read_bytes() == before
    secret.unlink()
    code, out, _ = run_cli(capsys, "audit", "init-secret", "--config", config)
    assert code == 0 and "copy it to every gateway" in out
    assert secret.stat().st_mode & 0o777 == 0o600 and len(bytes.fromhex(secret.read_text())) == 32
    (tmp_path / "pki" / "audit" / "audit-key.pem").unlink()
    secret.unlink()
    code, out, _ = run_cli(capsys, "audit", "init-key", "--config", config)
    assert code == 0 and secret.exists() and "audit secret created" in out


def test_an_administrative_act_needs_the_district_secret_and_says_where_it_should_be(tmp_path, capsys) -> None:
    config, _ = write_config(tmp_path, f"sqlite:///{tmp_path}/log.db")
    (tmp_path / "pki" / "audit" / "audit-secret.key").write_text("not a secret\n", encoding="ascii")
    with pytest.raises(AuditKeyError, match="is not an audit secret"):
        asyncio.run(record_admin_act(settings_of(config), "outbox_retry", request_id="01J0", by="ops-1"))
    (tmp_path / "pki" / "audit" / "audit-secret.key").unlink()
    with pytest.raises(AuditKeyError, match="onewindow audit init-secret"):
        asyncio.run(record_admin_act(settings_of(config), "outbox_retry", request_id="01J0", by="ops-1"))
