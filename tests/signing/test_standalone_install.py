"""Security staff install only signing/ (onewindow-signing) and verify, offline, what the running gateway sealed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from signing.audit.checkpoint import public_key_pem
from signing.pki.certificates import fingerprint

SIGNING_DIR = Path(__file__).resolve().parents[2] / "signing"


PAYMENT_RECORD = {
    "item": "tax.payment-record",
    "applicant": {"kind": "person", "id_number": "370303199001011239", "name": "张伟"},
    "materials": {"period_start": "2025-01-01", "period_end": "2025-12-31"},
    "office": "370303105000",
    "operator": "fz-window-01",
    "channel": "window",
}


@pytest.mark.slow
async def test_fresh_venv_with_only_onewindow_signing_verifies_a_result_of_the_running_gateway(
    gw, tmp_path: Path
) -> None:
    created = await (await gw.post(PAYMENT_RECORD)).json()
    await gw.gateway.audit.checkpoint()  # so the result can carry its audit-log inclusion proof
    doc = await (await gw.get(f"/v1/requests/{created['id']}/audit-proof")).json()
    assert doc["seal"]["audit_proof"]
    workdir = tmp_path / "staff"
    workdir.mkdir()
    (workdir / "doc.json").write_text(json.dumps(doc, ensure_ascii=False))
    (workdir / "bundle.json").write_text(await (await gw.client.get("/v1/trust-bundle")).text())
    (workdir / "audit-key.pem").write_text(public_key_pem(gw.gateway.audit.signer.public_key()))
    (workdir / "proof.json").write_text(json.dumps(doc["seal"]["audit_proof"]))
    altered = {**doc, "content": {**doc["content"], "total": "0.00"}}
    (workdir / "altered.json").write_text(json.dumps(altered, ensure_ascii=False))
    (workdir / "printout.pdf").write_bytes(await (await gw.get(f"/v1/requests/{created['id']}/document.pdf")).read())

    # Build from a copy: an in-tree build would leave build/ and egg-info in signing/.
    source = tmp_path / "src" / "signing"
    shutil.copytree(SIGNING_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["ONEWINDOW_TRUST_STORE"] = str(workdir / "trusted-roots.json")
    subprocess.run(
        [str(venv / "bin/pip"), "install", "--quiet", str(source)],
        check=True,
        timeout=600,
        env=env,
        capture_output=True,
    )
    installed = subprocess.run(
        [str(venv / "bin/pip"), "list", "--format=json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    names = {p["name"].lower() for p in json.loads(installed.stdout)}
    assert "onewindow-signing" in names and "onewindow" not in names and "jwcrypto" not in names

    def verify(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(venv / "bin/onewindow"),
                "verify",
                name,
                "--trust",
                "bundle.json",
                "--audit-key",
                "audit-key.pem",
                "--json",
            ],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    unpinned = verify("doc.json")  # the bundle alone vouches only for itself
    assert unpinned.returncode == 1 and json.loads(unpinned.stdout)["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    root = fingerprint(gw.gateway.sealer.registry.root_certificate)  # as the bureau publishes it
    assert f"onewindow trust pin 370303 {root}" in unpinned.stderr
    pin = subprocess.run(
        [str(venv / "bin/onewindow"), "trust", "pin", "370303", root],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pin.returncode == 0, pin.stderr
    good = verify("doc.json")
    assert good.returncode == 0, good.stderr
    report = json.loads(good.stdout)
    assert report["indication"] == "TOTAL_PASSED" and report["trust"]["anchor"]["source"] == "trust_store"
    assert {c["name"]: c["passed"] for c in report["checks"]}["audit_proof"] is True
    bad = verify("altered.json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["sub_indication"] == "HASH_FAILURE"
    proof = subprocess.run(
        [str(venv / "bin/onewindow"), "audit", "check-proof", "proof.json", "--key", "audit-key.pem"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proof.returncode == 0 and proof.stdout.startswith("VALID"), proof.stdout + proof.stderr

    # Printouts need the pdf extra: without it, one line that says so (never a verdict); with it, both verdicts.
    bare = verify("printout.pdf")
    assert bare.returncode == 2 and "onewindow-signing[pdf]" in bare.stderr, bare.stdout + bare.stderr
    subprocess.run(
        [str(venv / "bin/pip"), "install", "--quiet", f"{source}[pdf]"],
        check=True,
        timeout=900,
        env=env,
        capture_output=True,
    )
    printed = verify("printout.pdf")
    assert printed.returncode == 0, printed.stdout + printed.stderr
    answer = json.loads(printed.stdout)
    assert answer["report"]["indication"] == answer["document_report"]["indication"] == "TOTAL_PASSED"
