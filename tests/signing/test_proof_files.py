"""signing.proof_files is the proof-file half of signing.checkpoint, still importable from there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import signing.checkpoint as checkpoint
import signing.proof_files as proof_files

MOVED = [
    "CONSISTENCY_FORMAT",
    "INCLUSION_FORMAT",
    "ProofCheck",
    "build_consistency_proof_file",
    "build_inclusion_proof_file",
    "check_consistency_proof_file",
    "check_inclusion_proof_file",
    "check_proof_file",
    "embedded_public_key",
]


@pytest.mark.parametrize("name", MOVED)
def test_every_moved_name_is_the_same_object_from_either_module(name: str) -> None:
    assert getattr(checkpoint, name) is getattr(proof_files, name)
    assert name not in vars(checkpoint)  # it lives in proof_files only


def test_unknown_names_still_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        checkpoint.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    "first",
    ["signing.proof_files", "signing.checkpoint", "signing.audit_cli"],
)
def test_either_module_may_be_imported_first(first: str) -> None:
    """No import cycle: the re-export is lazy, so any import order works in a fresh process."""
    code = (
        f"import {first}\n"
        "from signing.checkpoint import ProofCheck, check_proof_file\n"
        "from signing.proof_files import ProofCheck as P\n"
        "assert ProofCheck is P and callable(check_proof_file)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
