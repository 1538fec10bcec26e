"""Security staff install only signing/ (onewindow-signing) and verify offline with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from signing.registry import SealRegistry
from signing.sealing import seal_document

SIGNING_DIR = Path(__file__).resolve().parents[2] / "signing"


@pytest.mark.slow
def test_fresh_venv_with_only_onewindow_signing_verifies_a_sealed_document(
    seal_registry: SealRegistry, office: tuple[str, str], result_doc: dict, tmp_path: Path
) -> None:
    seal = seal_registry.seal_for(office[0], "service_centre", "tax.payment-record")
    assert seal is not None
    doc = seal_document(
        result_doc,
        seal_registry.signer_for(seal),
        seal,
        item="tax.payment-record",
        request_id="R-1",
    )
    workdir = tmp_path / "staff"
    workdir.mkdir()
    (workdir / "doc.json").write_text(json.dumps(doc, ensure_ascii=False))
    seal_registry.export_trust_bundle(workdir / "bundle.json")
    altered = {**doc, "total": 0}
    (workdir / "altered.json").write_text(json.dumps(altered, ensure_ascii=False))

    # Build from a copy: an in-tree build would leave build/ and egg-info in signing/.
    source = tmp_path / "src" / "signing"
    shutil.copytree(SIGNING_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
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
            [str(venv / "bin/onewindow"), "verify", name, "--trust", "bundle.json", "--json"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    good = verify("doc.json")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["indication"] == "TOTAL_PASSED"
    bad = verify("altered.json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["sub_indication"] == "HASH_FAILURE"
