"""Key files: encrypted PKCS#8 under scrypt, read back by standard tools, weaker files upgraded."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from signing import SealRegistry
from signing.errors import PassphraseError
from signing.keys import pkcs8
from signing.keys.passphrase import Passphrase
from signing.keys.pkcs8 import SCRYPT_DEFAULT, encrypt_pkcs8, kdf_of
from signing.registry.seal_keys import rekey_files
from signing.registry.seal_registry import ROOT_KEY_FILE

SECRET = Passphrase(b"district-passphrase")


def _weak(key: ec.EllipticCurvePrivateKey) -> bytes:
    """What keys looked like before: cryptography's BestAvailableEncryption (PBKDF2, 2,048 iterations)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(SECRET.reveal()),
    )


@pytest.mark.parametrize("make", [lambda: ec.generate_private_key(ec.SECP384R1()), ed25519.Ed25519PrivateKey.generate])
def test_a_written_key_is_scrypt_pkcs8_that_cryptography_reads_back(make) -> None:
    key = make()
    pem = encrypt_pkcs8(key, SECRET, SCRYPT_DEFAULT)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert kdf_of(pem) == SCRYPT_DEFAULT and kdf_of(pem).current
    back = serialization.load_pem_private_key(pem, SECRET.reveal())
    plain = serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    assert back.private_bytes(*plain) == key.private_bytes(*plain)
    with pytest.raises((ValueError, TypeError)):
        serialization.load_pem_private_key(pem, b"another passphrase")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_the_openssl_command_reads_a_key_file(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(encrypt_pkcs8(ec.generate_private_key(ec.SECP384R1()), SECRET, SCRYPT_DEFAULT))
    done = subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-passin", "pass:district-passphrase", "-noout"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_a_running_gateway_writes_keys_with_the_documented_scrypt_setting() -> None:
    """The suite lowers the cost for its throw-away districts (tests/conftest.py); nothing else does."""
    code = (
        "from signing.keys import pkcs8; "
        "assert pkcs8.WRITE_KDF == pkcs8.SCRYPT_DEFAULT == pkcs8.Kdf('scrypt', 2**14, 8, 5), pkcs8.WRITE_KDF"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (pkcs8.Kdf("scrypt", 2**17, 8, 1).current and not pkcs8.Kdf("scrypt", 2**14, 8, 1).current) or (
        pkcs8.WRITE_KDF != SCRYPT_DEFAULT
    )


def test_the_old_kdf_is_told_apart_from_the_current_one() -> None:
    old = kdf_of(_weak(ec.generate_private_key(ec.SECP256R1())))
    assert (old.name, old.cost, old.current) == ("pbkdf2", 2048, False)
    assert not kdf_of(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").current


def test_a_new_district_writes_every_key_under_scrypt(tmp_path: Path) -> None:
    registry = SealRegistry.create(tmp_path / "pki", passphrase=SECRET)
    registry.issue(office="370303105000", holder_name="测试便民服务中心", kind="service_centre", passphrase=SECRET)
    for path in [tmp_path / "pki" / ROOT_KEY_FILE, *(tmp_path / "pki" / "seals").rglob("key.pem")]:
        assert kdf_of(path.read_bytes()).current, path
        assert path.stat().st_mode & 0o777 == 0o600


def test_a_seal_command_re_encrypts_a_root_key_under_an_old_kdf(tmp_path: Path) -> None:
    registry = SealRegistry.create(tmp_path / "pki", passphrase=SECRET)
    root_path = tmp_path / "pki" / ROOT_KEY_FILE
    root = serialization.load_pem_private_key(root_path.read_bytes(), SECRET.reveal())
    assert isinstance(root, ec.EllipticCurvePrivateKey)
    root_path.write_bytes(_weak(root))
    registry.issue(office="370303105000", holder_name="测试便民服务中心", kind="service_centre", passphrase=SECRET)
    assert kdf_of(root_path.read_bytes()).current
    assert root_path.stat().st_mode & 0o777 == 0o600


def test_rekey_changes_the_passphrase_of_every_key_or_of_none(tmp_path: Path) -> None:
    keys = []
    for n in range(3):
        path = tmp_path / f"key{n}.pem"
        path.write_bytes(_weak(ec.generate_private_key(ec.SECP384R1())))
        keys.append(path)
    before = [p.read_bytes() for p in keys]
    new = Passphrase(b"the new district passphrase")
    wrong = [(keys[0], SECRET, new), (keys[1], Passphrase(b"not the passphrase"), new), (keys[2], SECRET, new)]
    with pytest.raises(PassphraseError, match=r"key1\.pem"):
        rekey_files(wrong)
    assert [p.read_bytes() for p in keys] == before, "a refused rekey changed a key file"
    done = rekey_files([(p, SECRET, new) for p in keys])
    assert [d.before.name for d in done] == ["pbkdf2"] * 3
    for path in keys:
        assert kdf_of(path.read_bytes()).current
        serialization.load_pem_private_key(path.read_bytes(), new.reveal())
