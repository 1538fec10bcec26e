"""Where a seal's private key lives: an encrypted file or a PKCS#11 token.

The registry records a key *reference* per seal (``{"backend": "file",
"path": ...}`` or ``{"backend": "pkcs11", "module", "token", "label"}``);
this module creates keys behind such references and opens signers from
them, checking that the key matches the seal certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signing.errors import KeyStoreError, PassphraseError
from signing.fsutil import atomic_write
from signing.keys import pkcs8
from signing.keys.algorithms import DEFAULT_KEY_TYPE, KeyType
from signing.keys.passphrase import Passphrase, load_passphrase
from signing.keys.pkcs8 import Kdf, encrypt_pkcs8, kdf_of
from signing.keys.signers import FileSigner, Signer, encrypt_private_key, generate_private_key, same_public_key
from signing.model import Seal


def create_seal_key(
    directory: Path,
    number: str,
    *,
    secret: Passphrase,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    token: Any | None = None,
    pin: str | None = None,
    namespace: str = "",
) -> tuple[ec.EllipticCurvePublicKey, dict[str, str]]:
    """Make a ``key_type`` key pair for seal ``number``; return its public key and reference.

    File keys go to ``seals/<number>/key.pem`` under ``directory``. Token
    keys are labelled ``ow-<namespace>-<number>`` so that two districts
    (namespaces: root fingerprints) can share one token.
    """
    if token is None:
        key = generate_private_key(key_type)
        path = directory / "seals" / number / "key.pem"
        atomic_write(path, encrypt_private_key(key, secret), mode=0o600)
        return key.public_key(), {"backend": "file", "path": str(path.relative_to(directory))}
    from signing.keys.pkcs11 import TokenRef, generate_token_key, load_pin

    ref = TokenRef(token.module, token.token, f"ow-{namespace}-{number}")
    return generate_token_key(ref, pin or load_pin(), key_type), ref.to_dict()


def open_signer(directory: Path, seal: Seal, *, passphrase: Passphrase | None = None, pin: str | None = None) -> Signer:
    """Open the signer behind the seal's key reference; refuse a key that is not the seal's."""
    signer: Signer
    backend = seal.key.get("backend")
    if backend == "pkcs11":
        from signing.keys.pkcs11 import Pkcs11Signer, TokenRef, load_pin

        signer = Pkcs11Signer(TokenRef.from_dict(seal.key), pin or load_pin())
    elif backend == "file":
        signer = FileSigner.from_file(directory / seal.key["path"], passphrase or load_passphrase())
    else:
        raise KeyStoreError(f"seal {seal.number} has no usable key reference")
    cert_key = seal.certificate.public_key()
    if not isinstance(cert_key, ec.EllipticCurvePublicKey) or not same_public_key(signer.public_key(), cert_key):
        raise KeyStoreError(f"key of seal {seal.number} does not match its certificate")
    return signer


@dataclass(frozen=True)
class Rekeyed:
    """One key file re-encrypted: what protected it before, and now."""

    path: Path
    before: Kdf
    after: Kdf


def rekey_files(
    files: list[tuple[Path, Passphrase, Passphrase]],
) -> list[Rekeyed]:
    """Re-encrypt each ``(path, old passphrase, new passphrase)`` under today's KDF.

    Every key is decrypted before any is written, so a wrong passphrase
    changes nothing; each file is then replaced atomically (mode 0600).
    """
    opened = []
    for path, old, new in files:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"cannot read key file {path}: {exc.strerror}") from None
        if b"ENCRYPTED PRIVATE KEY" not in pem:
            raise KeyStoreError(f"refusing {path}: not an encrypted PKCS#8 key")
        try:
            key = serialization.load_pem_private_key(pem, password=old.reveal())
        except (ValueError, TypeError):
            raise PassphraseError(f"cannot decrypt {path}: wrong passphrase?") from None
        opened.append((path, kdf_of(pem), key, new))
    done = []
    for path, before, key, new in opened:
        atomic_write(path, encrypt_pkcs8(key, new), mode=0o600)
        done.append(Rekeyed(path, before, pkcs8.WRITE_KDF))
    return done
