"""signing.audit.proof_files builds on signing.audit.checkpoint, never the other way round."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("first", ["signing.audit.proof_files", "signing.audit.checkpoint", "signing.cli.audit"])
def test_either_module_may_be_imported_first(first: str) -> None:
    """No import cycle: any import order works in a fresh process."""
    code = (
        f"import {first}\n"
        "import sys\n"
        "from signing.audit.proof_files import ProofCheck, check_proof_file\n"
        "from signing.audit.checkpoint import SignedCheckpoint\n"
        "assert callable(check_proof_file) and ProofCheck and SignedCheckpoint\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_checkpoint_does_not_import_proof_files() -> None:
    code = "import sys, signing.audit.checkpoint\nassert 'signing.audit.proof_files' not in sys.modules\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
