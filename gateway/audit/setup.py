"""Opening the audit log: for a gateway process, and for a command-line tool."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from gateway.audit.chain import EntryChain
from gateway.audit.integrity import unavailable
from gateway.audit.keys import ensure_audit_key, key_path, load_audit_public_key, load_signer, log_id
from gateway.audit.log import AuditLog
from gateway.audit.payloads import PayloadCipher
from gateway.audit.secret import AuditSecret, ensure_audit_secret, load_audit_secret, secret_path
from gateway.audit.store import audit_store_for
from gateway.audit.store.base import AuditStore
from gateway.audit.store_keys import foreign_keys, refusal
from gateway.audit.witness import Witness
from gateway.config import Settings
from gateway.errors import AuditKeyError, AuditSetupError, PayloadKeyError
from gateway.observability.events import PayloadDigests
from gateway.observability.logs import get_logger
from gateway.store import Store, make_store
from signing.audit.checkpoint import AuditPublicKey, SoftwareSigner
from signing.registry.acts import acting_user


def payload_cipher(settings: Settings) -> PayloadCipher | None:
    """The configured payload key, if any."""
    if not settings.audit.payload_key_file:
        return None
    try:
        return PayloadCipher.from_file(settings.audit.payload_key_file)
    except PayloadKeyError as exc:
        raise AuditSetupError(str(exc)) from None


def district_secret(settings: Settings) -> AuditSecret:
    """The district audit secret a gateway needs (the sample district's is made on first start)."""
    try:
        ensure_audit_secret(settings)
        return load_audit_secret(settings)
    except AuditKeyError as exc:
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

    ``signer`` is the audit key the start-up checks opened (:func:`audit_signer`); opened here
    without one. The secret is opened now too, so a missing one stops the start instead of
    leaving the log unchained. The log is then checked from its latest signed checkpoint: damage
    does not stop the start, it leaves the log closed (:attr:`AuditLog.damage`), so the gateway
    can say why it will not seal -- unless the store's checkpoints name another audit key or
    secret than this instance's: then the start stops, in one line (:func:`refuse_other_keys`).
    """
    if not settings.audit.enabled:
        return None
    signer = signer or audit_signer(settings)
    secret = district_secret(settings)
    identity = log_id(settings)
    tables = audit_store_for(store, EntryChain(secret.chain_key, secret.secret_id))
    soundness = await tables.inspect(signer.public_key(), identity)
    if soundness.damage is not None:
        await refuse_other_keys(settings, tables, signer.public_key(), secret)
    witness = Witness.for_settings(settings, signer.public_key(), identity)
    if witness is None:
        get_logger(component="audit").warning(
            "audit.no_witness",
            advice="no [witness] is configured: a store restored from an older backup would not be noticed, and "
            "the log would fork; configure a directory the district bureau keeps (docs/operations.md)",
        )
    audit = AuditLog(
        tables,
        settings=settings.audit,
        log_id=identity,
        instance=instance,
        signer=signer,
        cipher=payload_cipher(settings),
        digests=PayloadDigests(secret.digest_key),
        witness=witness,
    )
    await audit.start(soundness)
    return audit


async def refuse_other_keys(
    settings: Settings, tables: AuditStore, public_key: AuditPublicKey, secret: AuditSecret
) -> None:
    """Stop the start, in one line, when the log is "damaged" only because it was written with other keys.

    Called before anything is written or logged about the damage: an instance
    whose PKI directory is not the store's must not close the log for damage
    nor append to it (:mod:`gateway.audit.store_keys`).
    """
    found = await foreign_keys(tables, public_key, secret.secret_id)
    if found:
        places = sorted({str(key_path(settings).parent), str(secret_path(settings).parent)})
        raise AuditSetupError(refusal(found, public_key, secret.secret_id, " and ".join(places)))


STORE_KEYS_MIGRATION = 12
"""The migration that records the secret id with each checkpoint (``0012_audit_secret_id.sql``)."""


async def check_store_keys(settings: Settings) -> None:
    """The refusal of :func:`refuse_other_keys`, before any gateway process starts (``serve --workers``).

    The supervisor opens the store without migrating it (a store this release has not migrated yet is
    left to the workers, which check it themselves) and reads its log as a worker would, so an instance
    with another PKI directory stops in one line from the supervisor rather than once per worker.
    """
    if not settings.audit.enabled:
        return
    store = make_store(settings.store_url)
    await store.open(migrate=False)
    try:
        if await store.schema_version() < STORE_KEYS_MIGRATION:
            return
        secret, key = district_secret(settings), load_audit_public_key(settings)
        tables = audit_store_for(store, EntryChain(secret.chain_key, secret.secret_id))
        if (await tables.inspect(key, log_id(settings))).damage is not None:
            await refuse_other_keys(settings, tables, key, secret)
    finally:
        await store.close()


def cli_instance() -> str:
    """Who appends from a command line: ``cli:<user>@<host>`` (as the registry's acts name who made them)."""
    return acting_user()


def optional_secret(settings: Settings) -> AuditSecret | None:
    """The district audit secret if this machine holds it (an auditor's copy of the store may not)."""
    if not secret_path(settings).exists():
        return None
    return load_audit_secret(settings)


@contextlib.asynccontextmanager
async def open_store(settings: Settings, *, writing: bool = False) -> AsyncIterator[tuple[Store, AuditStore]]:
    """The configured store (migrated) and its audit tables, closed afterwards.

    With ``writing`` (an administrative act), the district secret is required
    and the log is checked from its latest signed checkpoint, then against its
    witness, first: a damaged log, or one behind its witness (a restored
    backup), raises :class:`~gateway.errors.AuditUnavailable` and nothing is written.
    Otherwise the secret is used when present (to check the chain), not required.
    """
    secret = load_audit_secret(settings) if writing else optional_secret(settings)
    store = make_store(settings.store_url)
    await store.open()
    try:
        audit = audit_store_for(store, EntryChain(secret.chain_key, secret.secret_id) if secret else None)
        if writing:
            key, identity = load_audit_public_key(settings), log_id(settings)
            soundness = await audit.inspect(key, identity)
            if soundness.damage is not None:
                assert secret is not None  # loaded above, for writing
                await refuse_other_keys(settings, audit, key, secret)
                raise unavailable(soundness.damage)
            witness = Witness.for_settings(settings, key, identity)
            behind = await witness.judge(audit) if witness is not None else None
            if behind is not None:
                raise unavailable(behind)
        yield store, audit
    finally:
        await store.close()
