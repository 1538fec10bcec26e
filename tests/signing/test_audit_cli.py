"""``onewindow audit check-proof`` driven through argparse, with real keys and files."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.audit.checkpoint import Checkpoint, SignedCheckpoint, public_key_pem, sign_checkpoint
from signing.audit.merkle import InMemoryTree, leaf_hash
from signing.audit.proof_files import build_consistency_proof_file, build_inclusion_proof_file
from signing.cli.audit import add_check_proof_command, register_audit_offline

LOG = "onewindow-audit/370303"
KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
ENTRIES = [f"entry {i}".encode() for i in range(30)]
TREE = InMemoryTree(leaf_hash(e) for e in ENTRIES)


def signed(size: int) -> SignedCheckpoint:
    return sign_checkpoint(Checkpoint(LOG, size, TREE.root(size), 1_700_000_000_000), KEY)


def inclusion(**kw: object) -> dict:
    return build_inclusion_proof_file(signed(25), 7, TREE.inclusion_proof(7, 25), entry=ENTRIES[7], **kw)  # type: ignore[arg-type]


def consistency(**kw: object) -> dict:
    return build_consistency_proof_file(signed(10), signed(25), TREE.consistency_proof(10, 25), **kw)  # type: ignore[arg-type]


def write(tmp_path: Path, name: str, content: object) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="onewindow")
    register_audit_offline(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def key_file(tmp_path: Path) -> str:
    return write(tmp_path, "audit.pem", public_key_pem(KEY.public_key()))


def test_valid_inclusion_proof_exits_0(tmp_path: Path, key_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    proof = write(tmp_path, "p.json", inclusion())
    assert run("audit", "check-proof", proof, "--key", key_file) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID inclusion: entry 7 is in onewindow-audit/370303 at size 25")
    assert "2023-11-14T22:13:20.000Z" in out and "embedded" not in out
    assert out.count("\n") == 1


def test_valid_consistency_proof_with_matching_embedded_key_exits_0(
    tmp_path: Path, key_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = write(tmp_path, "c.json", consistency(public_key=KEY.public_key()))
    assert run("audit", "check-proof", proof, "--key", key_file) == 0
    assert "extends size 10" in capsys.readouterr().out


def test_embedded_key_alone_is_used_and_the_output_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proof = write(tmp_path, "p.json", inclusion(public_key=KEY.public_key()))
    assert run("audit", "check-proof", proof) == 0
    assert "embedded in the file" in capsys.readouterr().out


def test_tampered_proof_exits_1(tmp_path: Path, key_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = inclusion()
    doc["leaf_index"] = 8
    assert run("audit", "check-proof", write(tmp_path, "p.json", doc), "--key", key_file) == 1
    assert capsys.readouterr().out.startswith("INVALID (wrong-root):")


def test_key_differing_from_the_embedded_one_exits_1(
    tmp_path: Path, key_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = write(tmp_path, "p.json", inclusion(public_key=OTHER.public_key()))
    assert run("audit", "check-proof", proof, "--key", key_file) == 1
    assert "key-mismatch" in capsys.readouterr().out


def test_proof_signed_by_another_key_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other_key = write(tmp_path, "other.pem", public_key_pem(OTHER.public_key()))
    proof = write(tmp_path, "c.json", consistency())
    assert run("audit", "check-proof", proof, "--key", other_key) == 1
    assert "key-mismatch" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[" * 100_000, "nested more than 64 levels deep"),
        ('{"format": "onewindow-inclusion-proof/v1", "format": "x"}', "duplicate"),
        ({"format": "something"}, "malformed proof file"),
        ({"format": "onewindow-inclusion-proof/v1", "leaf_index": 1}, "malformed proof file"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    key_file: str,
    capsys: pytest.CaptureFixture[str],
    content: object,
    message: str,
) -> None:
    assert run("audit", "check-proof", write(tmp_path, "p.json", content), "--key", key_file) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_files_and_keys_exit_2(tmp_path: Path, key_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    proof = write(tmp_path, "p.json", inclusion())
    assert run("audit", "check-proof", str(tmp_path / "absent.json"), "--key", key_file) == 2
    assert run("audit", "check-proof", proof) == 2
    assert "pass --key" in capsys.readouterr().err
    assert run("audit", "check-proof", proof, "--key", str(tmp_path / "absent.pem")) == 2
    assert run("audit", "check-proof", proof, "--key", write(tmp_path, "k.pem", "junk")) == 2
    garbled = inclusion()
    garbled["public_key"] = "junk"
    assert run("audit", "check-proof", write(tmp_path, "g.json", garbled)) == 2


def test_proof_can_be_read_from_stdin(
    key_file: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(consistency())))
    assert run("audit", "check-proof", "-", "--key", key_file) == 0
    assert capsys.readouterr().out.startswith("VALID consistency:")


def test_check_proof_joins_an_existing_audit_parser(tmp_path: Path, key_file: str) -> None:
    parser = argparse.ArgumentParser(prog="onewindow")
    audit = parser.add_subparsers(dest="command").add_parser("audit")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify").set_defaults(func=lambda args: 0)
    add_check_proof_command(audit_commands)
    args = parser.parse_args(["audit", "check-proof", write(tmp_path, "p.json", inclusion()), "--key", key_file])
    assert args.func(args) == 0
    assert parser.parse_args(["audit", "verify"]).audit_command == "verify"
    with pytest.raises(SystemExit) as usage:
        parser.parse_args(["audit", "check-proof"])
    assert usage.value.code == 2
