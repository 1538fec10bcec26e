"""The bureau machine needs no store: its acts live in the registry, signed, and gateways log each once.

The bureau runs the seal commands with no configuration in a directory of
its own: no store appears, every act is in ``registry.json`` signed by the
root and in the exported trust bundle, verifiable against the published
root fingerprint. A gateway that picks the registry up appends each act to
its audit log exactly once -- across restarts, and with two instances on
one PostgreSQL store -- and picks up a later act while it runs.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.keys import create_audit_key
from gateway.audit.secret import create_audit_secret
from gateway.config import WitnessSettings
from signing.keys.passphrase import Passphrase
from signing.registry.acts import check_acts
from signing.verify.trust import load_trust_bundle
from tests.audit_helpers import RawDB, run_cli
from tests.test_audit_tamper_gateway import log_lines  # noqa: F401 -- the fixture

SEAL_PASSPHRASE = "bureau-seal-passphrase"
OFFICE, NAME = "370303105000", "房镇镇便民服务中心"


@pytest.fixture
def bureau(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> dict[str, Any]:
    """The bureau's offline machine: an empty directory, passphrases in the environment, no configuration."""
    home = tmp_path / "bureau"
    home.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.delenv("ONEWINDOW_CONFIG", raising=False)
    monkeypatch.delenv("ONEWINDOW_PKI_DIR", raising=False)
    monkeypatch.setenv("ONEWINDOW_SEAL_PASSPHRASE", SEAL_PASSPHRASE)
    monkeypatch.setenv("ONEWINDOW_ROOT_PASSPHRASE", "bureau-root-passphrase")
    code, out, err = run_cli(capsys, "seal", "init-district", "--pki", "pki", "--by", "bureau-zhang")
    assert code == 0, err
    fingerprint = re.search(r"root sha256: ([0-9a-f]{64})", out).group(1)  # type: ignore[union-attr]
    issue = ("seal", "issue", "--pki", "pki", "--office", OFFICE, "--name", NAME)
    for kind, items in (("service_centre", "tax.*"), ("delegated_approval", "property.*")):
        code, out, err = run_cli(capsys, *issue, "--kind", kind, "--items", items)
        assert code == 0 and "signed by the district root" in out, err
    number = json.loads((home / "pki/registry.json").read_text())["seals"][0]["number"]
    code, _, err = run_cli(
        capsys, "seal", "revoke", number, "--pki", "pki", "--reason", "换发新章", "--code", "superseded"
    )
    assert code == 0, err
    code, _, err = run_cli(capsys, "seal", "export-trust", "--pki", "pki")
    assert code == 0, err
    return {"home": home, "pki": home / "pki", "fingerprint": fingerprint, "number": number}


def test_bureau_commands_without_configuration_create_no_store_and_sign_their_acts(bureau, capsys) -> None:
    home: Path = bureau["home"]
    assert not (home / "var").exists()
    assert [p for p in home.rglob("*") if ".db" in p.name] == []
    bundle = load_trust_bundle(home / "pki/trust-bundle.json", root_fingerprint=bureau["fingerprint"])
    checks = check_acts(bundle.acts, bundle.root, "370303")
    assert [c.kind for c in checks] == ["seal.district_created", "seal.issued", "seal.issued", "seal.revoked"]
    assert all(c.ok and c.signed for c in checks)
    assert checks[0].act["by"] == "bureau-zhang" and checks[3].act["fields"]["reason_code"] == "superseded"
    code, out, _ = run_cli(
        capsys, "seal", "acts", "--trust", "pki/trust-bundle.json", "--root-fingerprint", bureau["fingerprint"]
    )
    assert code == 0 and "VALID: 4 act(s)" in out and "not pinned" not in out


def test_an_altered_removed_or_forged_act_is_named(bureau, capsys) -> None:
    path: Path = bureau["pki"] / "registry.json"
    original = path.read_text()
    state = json.loads(original)
    state["acts"][3]["fields"]["reason"] = "lost"  # the reason rewritten after the root signed it
    path.write_text(json.dumps(state, ensure_ascii=False))
    code, out, _ = run_cli(capsys, "seal", "acts", "--pki", "pki")
    assert code == 1 and "act 4: signature does not verify: the act was altered" in out
    state = json.loads(original)
    del state["acts"][1]  # an issue hidden
    path.write_text(json.dumps(state, ensure_ascii=False))
    code, out, _ = run_cli(capsys, "seal", "acts", "--pki", "pki")
    assert code == 1 and "numbered 3: an act was removed" in out
    state = json.loads(original)
    state["acts"][2]["signature"] = state["acts"][1]["signature"]  # another act's signature
    path.write_text(json.dumps(state, ensure_ascii=False))
    code, out, _ = run_cli(capsys, "seal", "acts", "--pki", "pki")
    assert code == 1 and "act 3: signature does not verify" in out


def test_a_revocation_where_the_root_key_is_not_is_recorded_unsigned(bureau, capsys, tmp_path) -> None:
    host = tmp_path / "gateway-host-pki"
    shutil.copytree(bureau["pki"], host, ignore=shutil.ignore_patterns("root-key.pem"))
    number = json.loads((host / "registry.json").read_text())["seals"][1]["number"]
    code, out, err = run_cli(capsys, "seal", "revoke", number, "--pki", str(host), "--reason", "urgent")
    assert code == 0 and "UNSIGNED" in out and "not re-exported" in err
    code, out, _ = run_cli(capsys, "seal", "acts", "--pki", str(host))
    assert code == 0 and "1 unsigned" in out


def gateway_host(bureau: dict[str, Any], tmp_path: Path) -> tuple[Path, Path]:
    """The registry copied to a gateway host without the root key, with the district audit key and secret."""
    pki = tmp_path / "gateway" / "pki"
    shutil.copytree(bureau["pki"], pki, ignore=shutil.ignore_patterns("root-key.pem", "registry.lock"))
    create_audit_key(pki / "audit" / "audit-key.pem", Passphrase(SEAL_PASSPHRASE.encode()))
    create_audit_secret(pki / "audit" / "audit-secret.key")
    passphrase = tmp_path / "gateway" / "passphrase"
    passphrase.write_text(SEAL_PASSPHRASE)
    return pki, passphrase


def logged_acts(store_url: str) -> list[dict[str, Any]]:
    rows = RawDB(store_url).run("SELECT entry FROM audit_entries WHERE kind LIKE 'admin.seal.%' ORDER BY seq")
    return [json.loads(bytes(row[0])) for row in rows]


async def test_a_gateway_appends_each_act_once_across_restarts_and_picks_up_a_new_one(
    bureau, tmp_path, store_url, start_gateway, capsys
) -> None:
    pki, passphrase = gateway_host(bureau, tmp_path)
    changes = {"pki_dir": str(pki), "pki_passphrase_file": str(passphrase), "witness": WitnessSettings()}
    gw = await start_gateway(store_url, **changes)
    logged = await asyncio.to_thread(logged_acts, store_url)  # on disk once the gateway has started
    assert [e["kind"] for e in logged] == [
        "admin.seal.district_created",
        "admin.seal.issued",
        "admin.seal.issued",
        "admin.seal.revoked",
    ]
    revoked = logged[3]["fields"]
    assert revoked["signed"] is True and revoked["act"] == 4 and revoked["seal_number"] == bureau["number"]
    assert revoked["act_digest"].startswith("sha256:") and logged[0]["fields"]["root_digest"].startswith("sha256:")
    await gw.client.close()
    await gw.gateway.stop(grace_s=0.5)
    again = await start_gateway(store_url, **changes)
    assert len(await asyncio.to_thread(logged_acts, store_url)) == 4  # a restart appends nothing again

    code, _, err = run_cli(
        capsys, "seal", "suspend", bureau["number"].replace("BM", "SP"), "--pki", "pki", "--reason", "核查"
    )
    assert code == 0, err
    shutil.copy(bureau["pki"] / "registry.json", pki / "registry.json")  # the bureau's copy reaches the host
    for _ in range(100):
        if len(await asyncio.to_thread(logged_acts, store_url)) == 5:
            break
        await asyncio.sleep(0.05)
    suspended = (await asyncio.to_thread(logged_acts, store_url))[4]
    assert suspended["kind"] == "admin.seal.suspended" and suspended["instance"] == again.gateway.instance


async def test_two_instances_on_one_postgresql_store_log_each_act_once(bureau, tmp_path, pg_url, start_gateway) -> None:
    pki, passphrase = gateway_host(bureau, tmp_path)
    changes = {"pki_dir": str(pki), "pki_passphrase_file": str(passphrase), "witness": WitnessSettings()}
    first, second = await asyncio.gather(start_gateway(pg_url, **changes), start_gateway(pg_url, **changes))
    assert first.gateway.instance != second.gateway.instance
    logged = await asyncio.to_thread(logged_acts, pg_url)
    assert len(logged) == 4 and len({e["fields"]["act_digest"] for e in logged}) == 4
    await asyncio.gather(first.gateway.acts_feed.catch_up(), second.gateway.acts_feed.catch_up())
    assert len(await asyncio.to_thread(logged_acts, pg_url)) == 4


def test_a_seal_command_with_config_on_a_gateway_host_logs_its_act_at_once(bureau, tmp_path, capsys) -> None:
    pki, passphrase = gateway_host(bureau, tmp_path)
    url = f"sqlite:///{tmp_path}/gateway/onewindow.db"
    config = tmp_path / "gateway" / "onewindow.toml"
    config.write_text(
        f'[store]\nurl = "{url}"\n[pki]\ndir = "{pki}"\npassphrase_file = "{passphrase}"\n', encoding="utf-8"
    )
    number = bureau["number"].replace("BM", "SP")
    code, out, err = run_cli(
        capsys, "seal", "revoke", number, "--pki", str(pki), "--reason", "紧急", "--config", str(config)
    )
    assert code == 0 and "4 registry act(s) appended" not in out and "5 registry act(s) appended" in out, out + err
    assert [e["kind"] for e in logged_acts(url)][-1] == "admin.seal.revoked"
    code, out, _ = run_cli(
        capsys, "seal", "suspend", bureau["number"], "--pki", str(pki), "--reason", "x", "--config", str(config)
    )
    assert code == 2 and len(logged_acts(url)) == 5  # refused (revoked already): nothing recorded


async def test_a_gateway_does_not_log_an_act_its_root_did_not_sign(
    bureau,
    tmp_path,
    start_gateway,
    log_lines,  # noqa: F811
) -> None:
    pki, passphrase = gateway_host(bureau, tmp_path)
    state = json.loads((pki / "registry.json").read_text())
    state["acts"][3]["fields"]["reason_code"] = "key_compromise"  # rewritten on the way to the gateway host
    (pki / "registry.json").write_text(json.dumps(state, ensure_ascii=False))
    url = f"sqlite:///{tmp_path}/gw.db"
    await start_gateway(url, pki_dir=str(pki), pki_passphrase_file=str(passphrase), witness=WitnessSettings())
    assert [e["fields"]["act"] for e in await asyncio.to_thread(logged_acts, url)] == [1, 2, 3]
    (refused,) = [e for e in log_lines() if e["event"] == "pki.registry_act_refused"]
    assert refused["act"] == 4 and "altered" in refused["problem"]
