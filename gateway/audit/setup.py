"""Opening the audit log: for a gateway process, and for a command-line tool."""

from __future__ import annotations

import contextlib
import getpass
import socket
from collections.abc import AsyncIterator

from gateway.audit.keys import ensure_audit_key, load_signer, log_id
from gateway.audit.log import AuditLog
from gateway.audit.payloads import PayloadCipher
from gateway.audit.store import audit_store_for
from gateway.audit.store.base import AuditStore
from gateway.config import Settings
from gateway.errors import AuditKeyError, AuditSetupError, PayloadKeyError
from gateway.store import Store, make_store
from signing.audit.checkpoint import SoftwareSigner


def payload_cipher(settings: Settings) -> PayloadCipher | None:
    """The configured payload key, if any."""
    if not settings.audit.payload_key_file:
        return None
    try:
        return PayloadCipher.from_file(settings.audit.payload_key_file)
    except PayloadKeyError as exc:
        raise AuditSetupError(str(exc)) from None


def audit_signer(settings: Settings) -> SoftwareSigner:
    """The district audit key, opened (the sample district's is made on its first start).

    Opened before anything else starts (:mod:`gateway.startup`), so a missing
    key or a wrong passphrase stops the start -- and fails ``check-config`` --
    instead of leaving the log without checkpoints.
    """
    try:
        ensure_audit_key(settings)
        return load_signer(settings)
    except AuditKeyError as exc:
        raise AuditSetupError(str(exc)) from None


async def open_audit_log(
    settings: Settings, store: Store, *, instance: str, signer: SoftwareSigner | None = None
) -> AuditLog | None:
    """The running audit log of a gateway process (None when ``[audit] enabled = false``).

    ``signer`` is the audit key the start-up checks opened (:func:`audit_signer`); opened here without one.
    """
    if not settings.audit.enabled:
        return None
    signer = signer or audit_signer(settings)
    audit = AuditLog(
        audit_store_for(store),
        settings=settings.audit,
        log_id=log_id(settings),
        instance=instance,
        signer=signer,
        cipher=payload_cipher(settings),
    )
    await audit.start()
    return audit


def cli_instance() -> str:
    """Who appends from a command line: ``cli:<user>@<host>``."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[tuple[Store, AuditStore]]:
    """The configured store (migrated) and its audit tables, closed afterwards."""
    store = make_store(settings.store_url)
    await store.open()
    try:
        yield store, audit_store_for(store)
    finally:
        await store.close()
