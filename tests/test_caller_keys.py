"""``onewindow caller add-key|list-keys|retire-key`` and ``onewindow call`` against a running gateway; the key store."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.callers.keys import hmac_key, unseal_secret
from gateway.cli.main import main
from gateway.config import load_settings
from gateway.errors import ConfigError
from gateway.store import utcnow
from signing.errors import KeyStoreError
from signing.keys.passphrase import Passphrase
from tests.conftest import SAMPLE_PASSPHRASE
from tests.helpers import PAYMENT_RECORD
from tests.procs import run_cli, write_config


async def caller_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``onewindow caller ...`` in this process (its own event loop, in a thread); (status, stdout, stderr)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["caller", *args])
    out, err = capsys.readouterr()
    return code, out, err


async def call_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``onewindow call ...`` in this process; stdout is its answer alone (the gateway's log lines left out)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return code, out[out.rindex('{\n  "status"') :], err


async def test_keys_are_added_used_listed_and_retired_from_the_command_line(start_gateway, district, tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/gw.db"
    gw = await start_gateway(url)
    config = str(write_config(tmp_path / "onewindow.toml", store_url=url, district=district))
    key_file = tmp_path / "fangzhen-window.json"
    code, out, err = await run_cli(
        "caller", "add-key", "fangzhen-window", "--alg", "hmac-sha256", "--out", str(key_file), "--config", config
    )
    assert code == 0, err
    hmac_id = json.loads(key_file.read_text())["key_id"]
    assert hmac_id in out and key_file.stat().st_mode & 0o077 == 0
    envelope = tmp_path / "envelope.json"
    envelope.write_text(json.dumps({k: v for k, v in PAYMENT_RECORD.items() if k != "item"}, ensure_ascii=False))
    base = str(gw.client.make_url("")).rstrip("/")
    call = ("call", "tax.payment-record", "--data", str(envelope), "--caller", "fangzhen-window", "--url", base)
    code, out, err = await run_cli(*call, "--key-file", str(key_file))
    assert code == 0, out + err
    answer = json.loads(out)
    assert answer["status"] == 201 and answer["body"]["status"] == "completed"

    private = Ed25519PrivateKey.generate()
    public = tmp_path / "window.pub.pem"
    public.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    code, out, err = await run_cli(
        "caller", "add-key", "fangzhen-window", "--alg", "ed25519", "--public-key", str(public), "--config", config
    )
    assert code == 0, err
    ed_id = out.split("key id: ")[1].split()[0]
    code, out, err = await run_cli(
        "caller", "add-key", "fangzhen-window", "--alg", "ed25519", "--public-key", str(public), "--config", config
    )
    assert code == 2 and "has 2 keys in use already: retire one first" in err and len(err.strip().splitlines()) == 1
    code, out, err = await caller_cli(capsys, "list-keys", "fangzhen-window", "--config", config)
    assert code == 0 and hmac_id in out and ed_id in out and out.count("in use") == 2 and "sha256:" in out

    code, out, err = await caller_cli(capsys, "retire-key", "fangzhen-window", hmac_id, "--config", config)
    assert code == 0, err
    code, out, err = await call_cli(capsys, *call, "--key-file", str(key_file))
    assert code == 1 and json.loads(out)["body"]["type"] == "/problems/signature-invalid"
    pem = tmp_path / "window.pem"
    pem.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    code, out, err = await call_cli(capsys, *call, "--key-file", str(pem), "--key-id", ed_id)
    assert code == 0 and json.loads(out)["status"] == 201, out + err

    rows = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    acts = {r[3]: json.loads(r[1]) for r in rows if r[3].startswith("admin.caller_key")}
    assert set(acts) == {"admin.caller_key_added", "admin.caller_key_retired"}
    secret = json.loads(key_file.read_text())["secret"]
    database = Path(f"{tmp_path}/gw.db").read_bytes() + Path(f"{tmp_path}/gw.db-wal").read_bytes()
    assert secret.encode() not in database and base64.b64decode(secret) not in database


async def test_a_caller_that_is_not_configured_gets_no_key(district, tmp_path, capsys) -> None:
    config = str(write_config(tmp_path / "onewindow.toml", store_url=f"sqlite:///{tmp_path}/gw.db", district=district))
    code, _, err = await caller_cli(capsys, "add-key", "nobody", "--alg", "hmac-sha256", "--config", config)
    assert code == 2 and "no caller 'nobody'" in err


async def test_the_store_keeps_two_keys_a_caller_and_remembers_nonces_until_they_expire(store) -> None:
    first, _ = hmac_key("w", Passphrase(SAMPLE_PASSPHRASE))
    second, _ = hmac_key("w", Passphrase(SAMPLE_PASSPHRASE))
    third, _ = hmac_key("w", Passphrase(SAMPLE_PASSPHRASE))
    assert await store.add_caller_key(first, max_active=2) and await store.add_caller_key(second, max_active=2)
    assert not await store.add_caller_key(third, max_active=2)
    assert await store.retire_caller_key("w", first.key_id, now=utcnow())
    assert not await store.retire_caller_key("w", first.key_id, now=utcnow())
    assert not await store.retire_caller_key("other", second.key_id, now=utcnow())
    assert await store.add_caller_key(third, max_active=2)
    assert [k.key_id for k in await store.caller_keys("w")] == [first.key_id, second.key_id, third.key_id]
    assert (await store.caller_key(first.key_id)).retired_at is not None

    now = utcnow()
    assert await store.remember_nonce("k", "nonce-0001", now=now, expires_at=now + timedelta(seconds=60))
    assert not await store.remember_nonce("k", "nonce-0001", now=now, expires_at=now + timedelta(seconds=60))
    assert await store.remember_nonce("k2", "nonce-0001", now=now, expires_at=now + timedelta(seconds=60))
    assert await store.purge_nonces(now + timedelta(seconds=61)) == 2
    assert await store.remember_nonce("k", "nonce-0001", now=now, expires_at=now + timedelta(seconds=60))


def test_a_sealed_secret_opens_only_with_the_passphrase_and_for_its_own_key() -> None:
    row, secret = hmac_key("w", Passphrase(SAMPLE_PASSPHRASE))
    assert unseal_secret(row, Passphrase(SAMPLE_PASSPHRASE)) == secret
    assert secret.hex() not in (row.sealed_secret or "")
    with pytest.raises(KeyStoreError):
        unseal_secret(row, Passphrase(b"another passphrase"))
    moved = type(row)(row.key_id, "another-caller", row.alg, None, row.sealed_secret, row.created_at)
    with pytest.raises(KeyStoreError):
        unseal_secret(moved, Passphrase(SAMPLE_PASSPHRASE))


def test_a_new_district_accepts_no_api_keys_and_the_sample_does(tmp_path) -> None:
    assert load_settings(environ={}).authentication.allow_api_key is True
    path = tmp_path / "district.toml"
    office = '[[offices]]\ncode = "370303105000"\nname = "x"\nlevel = "town"\n'
    signer = '[[callers]]\nid = "w"\noffice = "370303105000"\nchannel = "window"\nitems = ["*"]\n'
    path.write_text(office + signer, encoding="utf-8")
    settings = load_settings(path, environ={})
    assert settings.authentication.allow_api_key is False and settings.callers[0].methods == ("mtls", "signature")
    path.write_text(office + signer + 'api_key_sha256 = "' + "0" * 64 + '"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"callers\[0\]\.api_key_sha256: this district does not accept API keys"):
        load_settings(path, environ={})
    path.write_text(office + signer + 'methods = ["signature", "api_key"]\n', encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"callers\[0\]\.methods: lists api_key, but the caller has no api_key_sha256"
    ):
        load_settings(path, environ={})
    path.write_text(office + signer + 'methods = ["signature", "smoke"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"callers\[0\]\.methods: 'smoke' is not one of mtls, signature, api_key"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("max_skew_seconds = 0", "authentication.max_skew_seconds: a whole number of seconds from 1 to 3600"),
        ("nonce_lifetime_seconds = 100", "authentication.nonce_lifetime_seconds: 100 is shorter than twice"),
        ("allow_api_keys = true", "authentication.allow_api_keys: unknown key"),
    ],
)
def test_the_authentication_section_is_checked_naming_the_key(tmp_path, table, message) -> None:
    path = tmp_path / "district.toml"
    path.write_text(f"[authentication]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})


async def test_the_sample_window_gets_one_signing_key_that_signs_the_sample_call(gw, tmp_path) -> None:
    from gateway.api.server import signed_sample_call
    from gateway.callers.sample_key import ensure_sample_key
    from gateway.callers.signing_client import read_key_file
    from tests.signed import post_signed

    path = tmp_path / "var" / "caller-keys" / "fangzhen-window.json"
    key_id = await ensure_sample_key(gw.gateway.store, gw.gateway.settings, path)
    assert key_id and await ensure_sample_key(gw.gateway.store, gw.gateway.settings, path) == key_id
    assert path.stat().st_mode & 0o077 == 0
    assert (await post_signed(gw, PAYMENT_RECORD, read_key_file(path))).status == 201
    await gw.gateway.store.retire_caller_key("fangzhen-window", key_id, now=utcnow())
    renewed = await ensure_sample_key(gw.gateway.store, gw.gateway.settings, path)
    assert renewed not in (None, key_id) and read_key_file(path).key_id == renewed
    call = signed_sample_call("http://127.0.0.1:8080")
    assert "--caller fangzhen-window" in call and "examples/requests/tax.payment-record.json" in call
    assert Path(__file__).parents[1].joinpath("examples/requests/tax.payment-record.json").exists()
