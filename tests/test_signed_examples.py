"""The signing clients in examples/ (Python, curl + openssl, Java) each get a request accepted by a running gateway."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.callers.signing_client import key_file_text
from tests.helpers import PAYMENT_RECORD
from tests.signed import ed25519_key_for, hmac_key_for

EXAMPLES = Path(__file__).parents[1] / "examples"
IN_CI = os.environ.get("CI", "").lower() == "true"


async def run(*argv: str, cwd: Path | None = None, timeout: float = 120) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, out.decode("utf-8", "replace")


def envelope_file(tmp_path: Path, operator: str) -> Path:
    path = tmp_path / f"envelope-{operator}.json"
    path.write_text(json.dumps({**PAYMENT_RECORD, "operator": operator}, ensure_ascii=False), encoding="utf-8")
    return path


def private_pem(key: Ed25519PrivateKey, path: Path) -> Path:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    return path


def base_url(gw) -> str:
    return str(gw.client.make_url("")).rstrip("/")


async def test_the_python_example_signs_with_hmac_and_ed25519(gw, tmp_path: Path) -> None:
    for alg, make in (("hmac-sha256", hmac_key_for), ("ed25519", ed25519_key_for)):
        key = await make(gw.gateway.store)
        key_file = tmp_path / f"{alg}.json"
        key_file.write_text(key_file_text(key.key_id, key.caller, key.alg, key.material), encoding="utf-8")
        example = str(EXAMPLES / "signed_client.py")
        code, out = await run(sys.executable, example, base_url(gw), str(key_file), str(envelope_file(tmp_path, alg)))
        assert code == 0, out
        answer = json.loads(out)
        assert answer["status"] == 201 and answer["body"]["status"] == "completed", out


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="curl or openssl missing")
async def test_the_curl_and_openssl_example_signs_with_hmac_and_ed25519(gw, tmp_path: Path) -> None:
    hmac_key = await hmac_key_for(gw.gateway.store)
    assert isinstance(hmac_key.material, bytes)
    secret = base64.b64encode(hmac_key.material).decode()
    ed_key = await ed25519_key_for(gw.gateway.store)
    assert isinstance(ed_key.material, Ed25519PrivateKey)
    pem = str(private_pem(ed_key.material, tmp_path / "window.pem"))
    for key_id, key, name in ((hmac_key.key_id, secret, "curl-hmac"), (ed_key.key_id, pem, "curl-ed25519")):
        script = str(EXAMPLES / "signed-curl.sh")
        code, out = await run("sh", script, base_url(gw), key_id, key, str(envelope_file(tmp_path, name)))
        assert code == 0, out
        assert json.loads(out)["status"] == "completed", out


async def test_the_java_example_signs_with_hmac_and_ed25519(gw, tmp_path: Path) -> None:
    if not shutil.which("javac"):
        if IN_CI:
            pytest.fail("CI=true but javac is missing: the Java example must be tested")
        pytest.skip("javac is not installed")
    code, out = await run("javac", "-d", str(tmp_path), str(EXAMPLES / "java" / "SignedRequest.java"))
    assert code == 0, out
    hmac_key = await hmac_key_for(gw.gateway.store)
    assert isinstance(hmac_key.material, bytes)
    ed_key = await ed25519_key_for(gw.gateway.store)
    assert isinstance(ed_key.material, Ed25519PrivateKey)
    keys = (
        (hmac_key.key_id, base64.b64encode(hmac_key.material).decode(), "java-hmac"),
        (ed_key.key_id, str(private_pem(ed_key.material, tmp_path / "window.pem")), "java-ed25519"),
    )
    for key_id, key, name in keys:
        argv = ("java", "-cp", str(tmp_path), "SignedRequest", base_url(gw), key_id, key)
        code, out = await run(*argv, str(envelope_file(tmp_path, name)))
        assert code == 0, out
        status, body = out.split("\n", 1)
        assert status == "201" and json.loads(body)["status"] == "completed", out
