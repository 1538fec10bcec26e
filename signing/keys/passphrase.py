"""The passphrase that opens the seal keys, and the district root key's own.

It comes from the environment or a file, and is never logged or shown in a
``repr``: :class:`Passphrase` refuses to print itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from signing.errors import PassphraseError

PASSPHRASE_ENV = "ONEWINDOW_SEAL_PASSPHRASE"
PASSPHRASE_FILE_ENV = "ONEWINDOW_SEAL_PASSPHRASE_FILE"
#: The district root key's own passphrase (optional; the seal passphrase otherwise).
ROOT_PASSPHRASE_ENV = "ONEWINDOW_ROOT_PASSPHRASE"
ROOT_PASSPHRASE_FILE_ENV = "ONEWINDOW_ROOT_PASSPHRASE_FILE"
MIN_PASSPHRASE_LENGTH = 8


class Passphrase:
    """A secret that refuses to be printed; ``reveal()`` is the only way in."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def reveal(self) -> bytes:
        return self._secret

    def __repr__(self) -> str:
        return "Passphrase(<redacted>)"

    __str__ = __repr__


def load_passphrase(environ: Mapping[str, str] | None = None) -> Passphrase:
    """Read the seal keys' passphrase: ``$ONEWINDOW_SEAL_PASSPHRASE_FILE`` first, then the variable."""
    env = os.environ if environ is None else environ
    secret = _read_secret(env, PASSPHRASE_FILE_ENV, PASSPHRASE_ENV, "seal key")
    if secret is None:
        raise PassphraseError(f"no seal key passphrase: set {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV}")
    return secret


def load_root_passphrase(environ: Mapping[str, str] | None = None) -> Passphrase:
    """Read the district root key's passphrase.

    ``$ONEWINDOW_ROOT_PASSPHRASE_FILE``, then ``$ONEWINDOW_ROOT_PASSPHRASE``;
    without either, the seal passphrase (:func:`load_passphrase`), which is
    how registries made before the root had a passphrase of its own work.
    A separate root passphrase means that whoever learns the seal passphrase
    (every gateway host needs it) still cannot issue seals.
    """
    env = os.environ if environ is None else environ
    secret = _read_secret(env, ROOT_PASSPHRASE_FILE_ENV, ROOT_PASSPHRASE_ENV, "root key")
    if secret is not None:
        return secret
    secret = _read_secret(env, PASSPHRASE_FILE_ENV, PASSPHRASE_ENV, "seal key")  # too short: that error stands
    if secret is None:
        raise PassphraseError(
            f"no district root key passphrase: set {ROOT_PASSPHRASE_ENV} or {ROOT_PASSPHRASE_FILE_ENV} "
            f"(or, for a registry whose root shares the seal passphrase, {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV})"
        )
    return secret


def _read_secret(env: Mapping[str, str], file_var: str, var: str, what: str) -> Passphrase | None:
    """The secret from the file named by ``file_var``, else from ``var``; None when neither is set."""
    path = env.get(file_var)
    if path:
        try:
            secret = Path(path).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise PassphraseError(f"cannot read passphrase file named by {file_var}: {exc.strerror}") from None
    elif env.get(var):
        secret = env[var].encode("utf-8")
    else:
        return None
    if len(secret) < MIN_PASSPHRASE_LENGTH:
        raise PassphraseError(f"{what} passphrase must be at least {MIN_PASSPHRASE_LENGTH} bytes")
    return Passphrase(secret)
