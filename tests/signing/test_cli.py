"""The seal and verify commands, run in-process through main() and register()."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from signing.cli.arguments import PKI_ENV
from signing.cli.main import main, register
from signing.registry.seal_registry import SealRegistry
from signing.sealing import seal_document


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_registry_lifecycle_through_the_command_line(
    tmp_path: Path, seal_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = str(tmp_path / "pki")
    code, out, _ = run(capsys, "seal", "init-district", "--pki", pki)
    assert code == 0 and "root sha256" in out
    code, out, _ = run(
        capsys,
        "seal",
        "issue",
        "--pki",
        pki,
        "--office",
        "370303100000",
        "--name",
        "马尚街道便民服务中心",
        "--kind",
        "delegated_approval",
        "--items",
        "property.*",
        "tax.payment-record",
        "--valid-days",
        "30",
    )
    assert code == 0 and "370303-SP-0001" in out
    code, out, _ = run(
        capsys,
        "seal",
        "issue",
        "--pki",
        pki,
        "--office",
        "370303100000",
        "--name",
        "马尚街道便民服务中心",
        "--kind",
        "service_centre",
        "--number",
        "12",
    )
    assert code == 0 and "370303-BM-0012" in out
    code, out, _ = run(capsys, "seal", "list", "--pki", pki)
    assert "370303-SP-0001" in out and "370303-BM-0012" in out and "property.*" in out
    stamp = tmp_path / "stamp.svg"
    code, out, _ = run(capsys, "seal", "show", "370303-SP-0001", "--pki", pki, "--stamp", str(stamp))
    assert code == 0 and "history:" in out and "issued" in out
    assert "行政审批专用章" in stamp.read_text()
    assert run(capsys, "seal", "suspend", "370303-SP-0001", "--pki", pki, "--reason", "audit")[0] == 0
    assert run(capsys, "seal", "reinstate", "370303-SP-0001", "--pki", pki)[0] == 0
    code, out, _ = run(
        capsys,
        "seal",
        "revoke",
        "370303-BM-0012",
        "--pki",
        pki,
        "--reason",
        "lost",
        "--code",
        "key_compromise",
    )
    assert code == 0 and "revoked 370303-BM-0012" in out
    code, out, _ = run(capsys, "seal", "show", "370303-SP-0001", "--pki", pki, "--json")
    shown = json.loads(out)
    assert [e["status"] for e in shown["history"]] == ["active", "suspended", "active"]
    assert shown["key_backend"] == "file"
    code, out, _ = run(capsys, "seal", "list", "--pki", pki, "--json")
    assert {s["number"]: s["status"] for s in json.loads(out)} == {
        "370303-SP-0001": "active",
        "370303-BM-0012": "revoked",
    }
    bundle = tmp_path / "trust.json"
    code, out, _ = run(capsys, "seal", "export-trust", str(bundle), "--pki", pki)
    assert code == 0 and json.loads(bundle.read_text())["format"] == "onewindow-trust-bundle/1"


def test_refused_operations_print_one_line_and_exit_2(
    tmp_path: Path,
    seal_env: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PKI_ENV, str(tmp_path / "pki"))
    code, _, err = run(capsys, "seal", "list")
    assert code == 2 and err.count("\n") == 1 and "init-district" in err
    run(capsys, "seal", "init-district")
    code, _, err = run(capsys, "seal", "issue", "--office", "12", "--name", "x", "--kind", "service_centre")
    assert code == 2 and err.startswith("error: office code") and err.count("\n") == 1
    code, _, err = run(capsys, "seal", "revoke", "370303-BM-0404", "--reason", "x")
    assert code == 2 and "no seal numbered" in err
    monkeypatch.delenv("ONEWINDOW_SEAL_PASSPHRASE")
    code, _, err = run(
        capsys,
        "seal",
        "issue",
        "--office",
        "370303100000",
        "--name",
        "x",
        "--kind",
        "service_centre",
    )
    assert code == 2 and "ONEWINDOW_SEAL_PASSPHRASE" in err


@pytest.fixture
def sealed_files(
    seal_registry: SealRegistry,
    office: tuple[str, str],
    result_doc: dict,
    tmp_path: Path,
    trust_store: Path,
) -> tuple[Path, Path]:
    """A sealed document and its bundle on disk; an empty trust store of the test's own."""
    seal = seal_registry.seal_for(office[0], "service_centre", "tax.payment-record")
    assert seal is not None
    doc = seal_document(
        result_doc,
        seal_registry.signer_for(seal),
        seal,
        item="tax.payment-record",
        request_id="R-1",
    )
    doc_path, bundle_path = tmp_path / "doc.json", tmp_path / "bundle.json"
    doc_path.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    seal_registry.export_trust_bundle(bundle_path)
    return doc_path, bundle_path


def test_verify_exits_0_only_for_total_passed(
    sealed_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc, bundle = sealed_files
    pin = ("--root-fingerprint", root_of(bundle))
    code, out, _ = run(capsys, "verify", str(doc), "--trust", str(bundle), *pin)
    assert code == 0 and "TOTAL_PASSED" in out and "通过" in out
    code, out, _ = run(capsys, "verify", str(doc), "--trust", str(bundle), "--json", *pin)
    assert code == 0 and json.loads(out)["indication"] == "TOTAL_PASSED"
    altered: dict[str, Any] = json.loads(doc.read_text())
    altered["records"][0]["paid"] = False
    bad = tmp_path / "altered.json"
    bad.write_text(json.dumps(altered))
    code, out, _ = run(capsys, "verify", str(bad), "--trust", str(bundle), "--json", *pin)
    assert code == 1 and json.loads(out)["sub_indication"] == "HASH_FAILURE"


def root_of(bundle: Path) -> str:
    """The root fingerprint a bundle carries (what the bureau publishes, in these tests)."""
    return str(json.loads(bundle.read_text())["root_sha256"])


def test_verify_bad_input_is_one_line_exit_2(
    sealed_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc, bundle = sealed_files
    (tmp_path / "broken.json").write_text("{")
    for argv in (
        ("verify", str(tmp_path / "missing.json"), "--trust", str(bundle)),
        ("verify", str(tmp_path / "broken.json"), "--trust", str(bundle)),
        ("verify", str(doc), "--trust", str(tmp_path / "broken.json")),
        ("verify", str(doc), "--trust", str(bundle), "--root-fingerprint", "00" * 32),
    ):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ")


def test_register_plugs_into_a_foreign_parser_and_sets_func() -> None:
    parser = argparse.ArgumentParser(prog="onewindow")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve").set_defaults(func=lambda a: 0)
    register(sub)
    args = parser.parse_args(["seal", "list", "--pki", "/tmp/x"])
    assert callable(args.func) and args.pki == "/tmp/x"
    args = parser.parse_args(["verify", "d.json", "--trust", "b.json"])
    assert callable(args.func) and args.trust == "b.json"


def test_python_dash_m_signing_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "signing", "verify", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "--trust" in done.stdout


def test_key_type_option_picks_the_root_and_each_seals_algorithm(
    tmp_path: Path, seal_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = str(tmp_path / "pki")
    issue = ("seal", "issue", "--pki", pki, "--office", "370303100000", "--name", "马尚街道")
    code, out, _ = run(capsys, "seal", "init-district", "--pki", pki, "--key-type", "es256")
    assert code == 0 and "(P-256, ES256)" in out
    code, out, _ = run(capsys, *issue, "--kind", "service_centre")
    assert code == 0 and "370303-BM-0001 (service_centre, ES384)" in out
    code, out, _ = run(capsys, *issue, "--kind", "service_centre", "--key-type", "es256")
    assert code == 0 and "370303-BM-0002 (service_centre, ES256)" in out
    code, out, _ = run(capsys, "seal", "show", "370303-BM-0002", "--pki", pki, "--json")
    assert json.loads(out)["algorithm"] == "ES256"
    code, out, _ = run(capsys, "seal", "list", "--pki", pki)
    assert " ES384 " in out and " ES256 " in out
    with pytest.raises(SystemExit) as refused:
        main([*issue, "--kind", "service_centre", "--key-type", "rsa2048"])
    assert refused.value.code == 2 and "invalid choice" in capsys.readouterr().err
    code, out, _ = run(capsys, "seal", "init-district", "--pki", str(tmp_path / "new"))
    assert code == 0 and "(P-384, ES384)" in out


def test_every_registry_change_re_exports_the_trust_bundle_into_the_registry(
    tmp_path: Path, seal_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from signing.verify.trust import load_trust_bundle

    pki = tmp_path / "pki"
    bundle_path = pki / "trust-bundle.json"

    def bundle_after(*argv: str) -> Any:
        before = bundle_path.read_bytes() if bundle_path.exists() else b""
        code, out, err = run(capsys, *argv, "--pki", str(pki))
        assert code == 0 and err == "" and f"re-exported to {bundle_path}" in out, (argv, out, err)
        assert bundle_path.read_bytes() != before
        return load_trust_bundle(bundle_path)

    assert bundle_after("seal", "init-district").seals == {}
    issue = ("seal", "issue", "--office", "370303100000", "--name", "马尚街道", "--kind", "service_centre")
    assert set(bundle_after(*issue).seals) == {"370303-BM-0001"}
    history = ["active", "suspended", "active", "revoked"]
    for n, argv in enumerate(
        (
            ("seal", "suspend", "370303-BM-0001", "--reason", "audit"),
            ("seal", "reinstate", "370303-BM-0001"),
            ("seal", "revoke", "370303-BM-0001", "--reason", "merged", "--code", "superseded"),
        ),
        start=2,
    ):
        seal = bundle_after(*argv).seals["370303-BM-0001"]
        assert [e.status.value for e in seal.history] == history[:n]
    registry = SealRegistry.open(pki)
    assert registry.bundle_is_current(load_trust_bundle(bundle_path))
    # export-trust still writes any file, and by default the registry's own bundle.
    code, out, _ = run(capsys, "seal", "export-trust", "--pki", str(pki))
    assert code == 0 and str(bundle_path) in out


def test_a_change_without_the_root_key_stands_and_warns_that_the_bundle_is_stale(
    seal_registry: SealRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from signing.verify.trust import load_trust_bundle

    pki = tmp_path / "gateway-pki"
    shutil.copytree(seal_registry.directory, pki)
    (pki / "root" / "root-key.pem").unlink()
    number = seal_registry.seals()[0].number
    code, out, err = run(
        capsys, "seal", "revoke", number, "--pki", str(pki), "--reason", "lost", "--code", "key_compromise"
    )
    assert code == 0 and f"revoked {number}" in out and "REVOKED_NO_POE" in out
    assert err.startswith("warning: the change is made") and "export-trust" in err and err.count("\n") == 1
    registry = SealRegistry.open(pki)
    assert registry.get(number).status.value == "revoked"
    assert not registry.bundle_is_current(load_trust_bundle(pki / "trust-bundle.json"))
    code, _, err = run(capsys, "seal", "export-trust", "--pki", str(pki))
    assert code == 2 and "root key" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("seal", "export-trust", "--crl-days", "-1"), "next update must be 1 to 366 days ahead, not -1"),
        (("seal", "export-trust", "--crl-days", "0"), "not 0"),
        (("seal", "init-district", "--valid-days", "0"), "root's valid days must be between 365"),
    ],
)
def test_a_refused_seal_command_says_why_in_one_line_and_exits_2(
    tmp_path: Path, seal_env: str, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    pki = tmp_path / ("pki" if argv[1] != "init-district" else "fresh")
    if argv[1] != "init-district":
        assert run(capsys, "seal", "init-district", "--pki", str(pki))[0] == 0
    code, _, err = run(capsys, *argv, "--pki", str(pki))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_rekey_re_encrypts_every_key_under_a_new_passphrase(
    tmp_path: Path, seal_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from signing.keys.pkcs8 import kdf_of
    from signing.keys.signers import FileSigner

    pki = tmp_path / "pki"
    run(capsys, "seal", "init-district", "--pki", str(pki))
    code, _, _ = run(
        capsys,
        "seal",
        "issue",
        "--pki",
        str(pki),
        "--office",
        "370303100000",
        "--name",
        "马尚",
        "--kind",
        "service_centre",
    )
    assert code == 0
    new = tmp_path / "new-passphrase"
    new.write_bytes(b"a brand new seal passphrase\n")
    code, out, err = run(capsys, "seal", "rekey", "--pki", str(pki), "--new-seal-passphrase-file", str(new))
    assert code == 0, err
    assert "2 key file(s) re-encrypted" in out
    seal_key = next(pki.joinpath("seals").rglob("key.pem"))
    assert kdf_of(seal_key.read_bytes()).current
    from signing.errors import PassphraseError
    from signing.keys.passphrase import Passphrase

    FileSigner.from_file(seal_key, Passphrase(b"a brand new seal passphrase"))
    with pytest.raises(PassphraseError):
        FileSigner.from_file(seal_key, Passphrase(seal_env.encode()))
