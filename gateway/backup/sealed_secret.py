"""The district audit secret in a backup: encrypted under the seal passphrase, never in clear.

The audit secret is what makes write access to the database insufficient to
add an audit entry (docs/audit.md, "The district audit secret"), and a
backup holds the database. So the archive carries the secret sealed:
AES-256-GCM under a key derived with scrypt (N = 2^14, r = 8, p = 5, as for
the key files) from the seal passphrase, which the gateway needs anyway and
which is never in a backup. Whoever holds the archive alone learns nothing
of the secret.
"""

from __future__ import annotations

from gateway.errors import BackupError
from signing.errors import KeyStoreError
from signing.keys import sealed
from signing.keys.passphrase import Passphrase
from signing.keys.pkcs8 import SCRYPT_DEFAULT

FORMAT = "onewindow-sealed-secret/1"


def seal(secret: bytes, passphrase: Passphrase) -> bytes:
    """``secret`` (the file's bytes) sealed under ``passphrase``, as a small JSON document."""
    return sealed.seal(secret, passphrase, fmt=FORMAT, kdf=SCRYPT_DEFAULT)


def unseal(data: bytes, passphrase: Passphrase) -> bytes:
    """The secret back; :class:`BackupError` when the document is malformed or the passphrase is wrong."""
    try:
        return sealed.unseal(data, passphrase, fmt=FORMAT)
    except KeyStoreError as exc:
        if str(exc).startswith("malformed: "):
            raise BackupError(f"the archive's sealed audit secret is {exc}") from None
        raise BackupError("cannot open the archive's audit secret: wrong seal passphrase?") from None
