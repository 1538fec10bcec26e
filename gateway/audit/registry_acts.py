"""The seal registry's acts in the audit log: each one appended exactly once, wherever it is picked up.

The bureau changes the registry on its own machine, where there is no store:
each change is an act in the registry's act log (:mod:`signing.registry.acts`),
signed by the root. A gateway that picks the registry up -- at start-up, and
whenever ``registry.json`` changes -- appends every act it has not logged yet
as ``admin.<act kind>`` (``admin.seal.issued`` ...); so does a seal command
run with ``--config`` on a gateway host.

Exactly once, with any number of processes: the acts already in the log are
read back (each entry carries its act's digest) and the new ones appended in
the same transaction, under the log's lock, so a second process waiting on
the lock finds them there. The log itself is the record of what was
appended: a restored store given back its entries by the witness knows its
acts again, and entries set aside by a recovery are appended anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.audit.entries import prepare_entry
from gateway.audit.store.base import AuditStore, LogTx, build_batch, head_of, write_batch
from gateway.observability.logs import get_logger
from signing.registry.acts import ActCheck

_LOGGED = "SELECT entry FROM audit_entries WHERE kind LIKE 'admin.seal.%'"
_HEAD = "SELECT size, frontier, chain FROM audit_head WHERE id = 1"


def entry_kind(check: ActCheck) -> str:
    """The audit entry kind of an act: ``admin.`` and the act's kind."""
    return f"admin.{check.kind}"


def entry_fields(check: ActCheck) -> dict[str, Any]:
    """What the entry says: the act's own fields, its place, who made it and when, and whether the root signed it.

    Hex fingerprints become ``sha256:`` digests (``root_sha256`` -> ``root_digest``), which the
    audit log keeps as they are; every other text is masked like every entry's.
    """
    act = check.act
    fields: dict[str, Any] = {}
    for name, value in dict(act.get("fields", {})).items():
        if name.endswith("_sha256") and isinstance(value, str):
            fields[name.removesuffix("_sha256") + "_digest"] = f"sha256:{value}"
        else:
            fields[name] = value
    fields.update(act=act.get("seq"), act_digest=check.digest, by=act.get("by"), at=act.get("at"))
    return {**fields, "signed": check.signed}


async def logged_act_digests(tx: LogTx) -> set[str]:
    """The digests of the registry acts already in the log (read inside the log's lock)."""
    found = set()
    for (entry,) in await tx.rows(_LOGGED):
        try:
            digest = json.loads(bytes(entry))["fields"].get("act_digest")
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if isinstance(digest, str):
            found.add(digest)
    return found


async def append_registry_acts(audit: AuditStore, checks: Sequence[ActCheck], *, instance: str) -> list[int]:
    """Append the acts of ``checks`` that hold and are not in the log yet; their sequence numbers.

    An act whose check failed (altered, out of place, not signed by this
    root) is not appended: the caller says so in its own log.
    """
    chain = audit.chain_or_refuse()
    wanted = [check for check in checks if check.ok]
    if not wanted:
        return []
    async with audit.locked() as tx:
        logged = await logged_act_digests(tx)
        fresh = [check for check in wanted if check.digest not in logged]
        if not fresh:
            return []
        entries = [prepare_entry(entry_kind(c), entry_fields(c), instance=instance) for c in fresh]
        batch = build_batch(entries, head_of((await tx.rows(_HEAD))[0]), datetime.now(UTC), chain)
        await write_batch(tx, batch)
    return [row[0] for row in batch.entries]


class RegistryActFeed:
    """Appends the registry's new acts to a running gateway's audit log: at start, then whenever it changes.

    ``source()`` gives the registry file's version and its checked acts (the
    district sealer's :meth:`registry_acts`); ``sound()`` says whether the
    log may be written (not closed for damage, not behind its witness).
    """

    def __init__(
        self,
        audit: AuditStore,
        source: Callable[[], tuple[Any, list[ActCheck]]],
        *,
        instance: str,
        sound: Callable[[], bool],
        interval_s: float = 1.0,
    ) -> None:
        self.audit, self.source, self.instance, self.sound = audit, source, instance, sound
        self.interval_s = interval_s
        self.log = get_logger(component="registry-acts")
        self._seen: Any = object()
        self._refused: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Catch up now (the start is where a missing entry should surface), then watch."""
        await self.catch_up()
        self._task = asyncio.create_task(self._watch(), name="onewindow-registry-acts")

    async def catch_up(self) -> list[int]:
        """Append what the registry holds and the log does not, if the registry changed since the last time."""
        version, checks = self.source()
        if version == self._seen or not self.sound():
            return []
        for check in checks:
            if not check.ok and check.digest not in self._refused:
                self._refused.add(check.digest)
                self.log.error("pki.registry_act_refused", act=check.seq, kind=check.kind, problem=check.problem)
        appended = await append_registry_acts(self.audit, checks, instance=self.instance)
        self._seen = version
        if appended:
            self.log.info("pki.registry_acts_logged", entries=appended)
        return appended

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.catch_up()
            except Exception as exc:  # the next change (or the next tick) tries again
                self.log.error("pki.registry_acts_failed", error=f"{type(exc).__name__}: {exc}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
