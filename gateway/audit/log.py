"""The appender: group commit of audit entries, and the checkpointer.

Every request emits several events; each must be committed before the event
returns, and on disk before anything leaves the gateway (the store's
``durable()``, awaited before every answer, agency call and callback). Committing each alone would cost
one transaction and one disk flush per event. Instead the sink puts the
encoded entry on a queue and awaits a future; one appender task per process
takes everything queued, writes it as one batch in one transaction
(:meth:`AuditStore.append`), and resolves every future. While one batch
commits, the next gathers; when the last batch held more than one entry
(requests are arriving together) the appender also waits up to
``batch_window_ms`` for the batch to fill, while a lone request's entry is
written at once, adding no wait to a quiet gateway. On SQLite, whose
units of work share commits anyway, the appender never waits: it writes
what was queued during one turn of the loop as one unit (one savepoint, one
head update for the lot), a fifth of the statements of a unit per entry.
Events a step records together (a result sealed, the request completed) are
queued before either is awaited (``Events.emit_all``): one batch, one wait.

Checkpoints are signed after every ``checkpoint_every`` entries and every
``checkpoint_interval_s`` while new entries arrive, off the requests' path.
A failing append fails the events waiting on it (the request answers 500):
the gateway does not act without a record.

When the log opens, and before every checkpoint, it is checked from the
latest signed checkpoint (:mod:`gateway.audit.integrity`). Damage closes it:
one ``audit.damaged`` log line says where, every append raises
:class:`~gateway.errors.AuditUnavailable` (so nothing is accepted, sealed or
signed), and it stays closed until an operator repairs or recovers the store
and restarts the gateway (docs/audit.md, "When the log is damaged").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gateway.audit.entries import PreparedEntry, prepare_entry
from gateway.audit.integrity import Damage, Soundness, unavailable
from gateway.audit.payloads import PayloadCipher
from gateway.audit.store.base import AuditStore
from gateway.audit.witness import Witness
from gateway.config import AuditSettings
from gateway.errors import AuditIntegrityError, AuditUnavailable
from gateway.observability.events import PayloadDigests
from gateway.observability.logs import get_logger
from signing.audit.checkpoint import AuditPublicKey, CheckpointSigner, SignedCheckpoint

_Pending = tuple[PreparedEntry, "asyncio.Future[int]"]


class AuditLog:
    """One process's writer of the shared audit log."""

    def __init__(
        self,
        store: AuditStore,
        *,
        settings: AuditSettings,
        log_id: str,
        instance: str,
        signer: CheckpointSigner | None = None,
        cipher: PayloadCipher | None = None,
        digests: PayloadDigests | None = None,
        public_key: AuditPublicKey | None = None,
        witness: Witness | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.log_id = log_id
        self.instance = instance
        self.signer = signer
        self.cipher = cipher
        self.digests = digests
        self.public_key = public_key or (signer.public_key() if signer is not None else None)
        self.witness = witness
        self.damage: Damage | None = None
        self.soundness: Soundness | None = None
        self.on_damage: list[Callable[[Damage], Any]] = []
        self.on_append_failure: list[Callable[[int], Any]] = []  # called with the batch's size (metrics)
        self.log = get_logger(component="audit", instance=instance)
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._appender: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._checkpointing: asyncio.Task[Any] | None = None
        self._checkpoint_lock = asyncio.Lock()
        self._closed = False
        self._since_checkpoint = 0
        self._busy = False  # the last batch had company: worth waiting a moment for the next one to fill
        self.batches = 0
        self.appended = 0

    async def start(self, soundness: Soundness | None = None) -> None:
        """Check the log from its latest signed checkpoint, then against its witness; if sound, start the
        appender and the checkpoint timer, and publish what the witness has not seen.

        Damage found here, or a store behind its witness (a restored backup),
        closes the log instead (see :meth:`close_for`): the gateway still
        starts, but answers that it cannot record. ``soundness`` is that check
        when the caller made it already (:func:`gateway.audit.setup.open_audit_log`).
        """
        if self.public_key is not None:
            self.soundness = soundness or await self.store.inspect(self.public_key, self.log_id)
            if self.soundness.damage is not None:
                self.close_for(self.soundness.damage)
                return
            behind = await self.witness.judge(self.store) if self.witness is not None else None
            if behind is not None:
                self.close_for(behind)
                return
        self._appender = asyncio.create_task(self._run(), name="onewindow-audit-appender")
        if self.signer is not None:
            self._timer = asyncio.create_task(self._tick(), name="onewindow-audit-checkpoints")
        await self.publish()

    async def publish(self) -> None:
        """Publish the signed checkpoints the witness has not seen; a witness ahead of the store closes the log.

        A witness that cannot be written is logged (``audit.witness_failed``);
        the next checkpoint publishes what this one could not.
        """
        if self.witness is None or self.damage is not None:
            return
        try:
            await self.store.durable()  # a witness never holds a checkpoint the store could still lose
            behind = await self.witness.publish(self.store)
        except Exception as exc:
            self.log.error("audit.witness_failed", error=f"{type(exc).__name__}: {exc}")
            return
        if behind is not None:
            self.close_for(behind)

    @property
    def sound(self) -> bool:
        """False once damage was found: the log is closed until an operator acts and the gateway restarts."""
        return self.damage is None

    def close_for(self, damage: Damage) -> None:
        """Close the log because of ``damage``: one log line says where; nothing is appended or signed after."""
        if self.damage is not None:
            return
        self.damage = damage
        self.log.error(
            damage.event,
            where=damage.where(),
            what=damage.what,
            first=damage.first,
            last=damage.last,
            checkpoint=damage.checkpoint,
            consequence=f"the audit log is closed: nothing is accepted, sealed or signed until {damage.remedy} "
            "and the gateway restarts (docs/audit.md)",
        )
        for _, future in self._queue:
            if not future.done():
                future.set_exception(unavailable(damage))
        self._queue.clear()
        for callback in self.on_damage:
            callback(damage)

    async def append(
        self, kind: str, fields: Mapping[str, Any], *, raw: Any = None, raw_digest: str | None = None
    ) -> int:
        """Append one event; returns its sequence number once it is committed.

        ``raw_digest``: the keyed digest of ``raw``, when the caller took it already.
        Raises :class:`AuditUnavailable` while the log is closed for damage.
        """
        return await self.enqueue(kind, fields, raw=raw, raw_digest=raw_digest)

    def enqueue(
        self, kind: str, fields: Mapping[str, Any], *, raw: Any = None, raw_digest: str | None = None
    ) -> Awaitable[int]:
        """Queue one event for the next batch now; await the result for its sequence number once committed.

        Events queued one after the other, before anything is awaited, go
        into the same batch: one wait for them all (``Events.emit_all``).
        """
        if self.damage is not None:
            raise unavailable(self.damage)
        prepared = prepare_entry(
            kind,
            fields,
            instance=self.instance,
            cipher=self.cipher,
            raw=raw,
            digests=self.digests,
            raw_digest=raw_digest,
        )
        if self._closed or self._appender is None:
            return asyncio.ensure_future(self.store.append([prepared]))
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append((prepared, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        window, most = self.settings.batch_window_ms / 1000, self.settings.batch_max
        while True:
            if not self._queue:
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            waits = window and self._busy and not self.store.shares_commits
            if waits and len(self._queue) < most and not self._closed:
                await asyncio.sleep(window)  # others are writing too: let their entries join this batch
            batch, self._queue = self._queue[:most], self._queue[most:]
            self._busy = len(batch) > 1
            try:
                first = await self._commit([prepared for prepared, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for offset, (_, future) in enumerate(batch):
                if not future.done():
                    future.set_result(first + offset)

    async def _commit(self, batch: list[PreparedEntry]) -> int:
        """Write one batch; its first sequence number. A failure is told (or closes the log) and raised."""
        try:
            if self.damage is not None:
                raise unavailable(self.damage)
            first = await self.store.append(batch)
        except Exception as exc:
            if isinstance(exc, AuditIntegrityError) and not isinstance(exc, AuditUnavailable):
                self.close_for(exc.damage or Damage(str(exc)))
            else:
                self.log.error("audit.append_failed", entries=len(batch), error=f"{type(exc).__name__}: {exc}")
                for listener in self.on_append_failure:
                    listener(len(batch))
            raise
        self.batches += 1
        self.appended += len(batch)
        self._since_checkpoint += len(batch)
        if self.signer is not None and self._since_checkpoint >= self.settings.checkpoint_every:
            self._since_checkpoint = 0
            self._spawn_checkpoint()
        return first

    def _spawn_checkpoint(self) -> None:
        if self._checkpointing is None or self._checkpointing.done():
            self._checkpointing = asyncio.create_task(self._checkpoint_quietly(), name="onewindow-audit-checkpoint")

    async def _checkpoint_quietly(self) -> None:
        try:
            await self.checkpoint()
        except AuditIntegrityError:
            pass  # the log is closed now, and said why (audit.damaged)
        except Exception as exc:
            self.log.error("audit.checkpoint_failed", error=f"{type(exc).__name__}: {exc}")

    async def checkpoint(self) -> SignedCheckpoint | None:
        """Sign a checkpoint of everything appended so far (None when the latest covers it).

        The log is checked from the previous checkpoint first; damage closes
        the log and raises :class:`AuditIntegrityError` instead of signing.
        """
        if self.signer is None:
            raise RuntimeError("this audit log has no signer")
        if self.damage is not None:
            raise unavailable(self.damage)
        async with self._checkpoint_lock:
            try:
                signed = await self.store.checkpoint(self.signer, self.log_id)
            except AuditIntegrityError as exc:
                self.close_for(exc.damage or Damage(str(exc)))
                raise
        if signed is not None:
            self._since_checkpoint = 0
            self.log.info("audit.checkpoint", tree_size=signed.checkpoint.tree_size)
            await self.publish()
        return signed

    async def _tick(self) -> None:
        interval = self.settings.checkpoint_interval_s
        while self.damage is None:
            await asyncio.sleep(interval)
            latest = await _quiet(self.store.latest_checkpoint())
            issued = latest.signed.get("checkpoint", "") if latest else ""
            age = time.time() - _issued_s(issued) if issued else interval
            if age >= interval * 0.9:
                await self._checkpoint_quietly()

    async def seconds_to_next_checkpoint(self) -> float:
        """About how long until the timer signs the next checkpoint (for ``Retry-After``)."""
        latest = await self.store.latest_checkpoint()
        issued = _issued_s(latest.signed.get("checkpoint", "")) if latest else time.time()
        return max(1.0, self.settings.checkpoint_interval_s - (time.time() - issued))

    async def close(self) -> None:
        """Flush what is queued, stop the tasks and sign a last checkpoint, so nothing is left uncovered."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        if self._appender is not None:
            self._wake.set()
            await self._appender
        if self._checkpointing is not None:
            await self._checkpointing
        if self.signer is not None and self.damage is None:
            await self._checkpoint_quietly()


class AuditSink:
    """The :class:`gateway.observability.events.EventSink` that appends to the audit log (raw payloads included)."""

    keeps_raw = True

    def __init__(self, log: AuditLog) -> None:
        self.audit = log

    def record(self, kind: str, fields: Mapping[str, Any], raw: Any = None, raw_digest: str | None = None) -> Any:
        return self.audit.enqueue(kind, fields, raw=raw, raw_digest=raw_digest)


async def _quiet(awaitable: Any) -> Any:
    try:
        return await awaitable
    except Exception:
        return None


def _issued_s(text: str) -> float:
    """Seconds since the epoch of a checkpoint text's ``timestamp`` line (0 when unreadable)."""
    for line in text.split("\n"):
        if line.startswith("timestamp "):
            with contextlib.suppress(ValueError):
                return int(line.removeprefix("timestamp ")) / 1000
    return 0.0
