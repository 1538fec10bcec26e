"""The witness: every signed checkpoint published outside the store, and the store held to it at start-up.

Restoring an older backup brings back an older audit log. Left alone, the
gateway would sign new entries under the same log id at sizes it had signed
before -- two signed, inconsistent views of one log, a fork -- and requests
made after the backup would be gone without a trace. So, as Certificate
Transparency logs show their checkpoints to witnesses, the gateway publishes
each checkpoint it signs, with the entries it added, to a place the
district bureau keeps and a restore of the gateway does not roll back
(``[witness] dir``, optionally ``url``: :mod:`gateway.audit.witness_places`).

Each checkpoint's **record** is an export bundle (``onewindow-audit-bundle/v1``,
``onewindow audit verify --bundle`` checks it) of the entries from the
checkpoint before it, without encrypted payloads; ``latest.json`` is the
latest signed checkpoint (``onewindow audit verify --from latest.json``
takes it). An empty witness starts at the store's latest checkpoint.

At start-up (and before every administrative act) the store's latest signed
checkpoint is compared with the witness's: a store whose signed log is
smaller, or is not the one the witness holds at that size (checked by root,
or by a consistency proof), is **behind the witness** (:class:`Behind`): it
closes the log exactly as damage does -- nothing is accepted, sealed or
signed, ``/readyz`` says ``behind_witness`` -- until ``onewindow audit
reconcile`` gives back the entries from the witness and lists what was lost
(:mod:`gateway.audit.reconcile`). A witness that cannot be read is logged
and cannot stop anything: keep it where it is always there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from gateway.audit.integrity import Damage
from gateway.audit.proofs import prove_consistency
from gateway.audit.store.base import AuditStore, StoredCheckpoint
from gateway.audit.witness_places import (
    LATEST,
    DirectoryWitness,
    HttpWitness,
    WitnessPlace,
    record_name,
    size_of,
)
from gateway.config import Settings
from gateway.errors import WitnessError
from gateway.observability.logs import get_logger
from signing.audit.bundle import build_bundle, verify_bundle
from signing.audit.checkpoint import AuditPublicKey, SignedCheckpoint, verify_checkpoint
from signing.audit.merkle import verify_consistency
from signing.errors import SigningError
from signing.jose import ijson


@dataclass(frozen=True)
class Behind(Damage):
    """The store's signed log is behind what the witness holds, or is not its prefix: a restore, or a fork."""

    state: ClassVar[str] = "behind_witness"
    event: ClassVar[str] = "audit.behind_witness"
    remedy: ClassVar[str] = "an operator reconciles the store with its witness ('onewindow audit reconcile')"

    def where(self) -> str:
        return f"behind the witness (checkpoint at size {self.checkpoint})"


def signed_size(signed: SignedCheckpoint) -> tuple[int, int]:
    """A signed checkpoint's tree size and the size of the checkpoint before it (0 for the first)."""
    return signed.checkpoint.tree_size, signed.checkpoint.previous_size or 0


async def compare(audit: AuditStore, witnessed: SignedCheckpoint) -> Behind | None:
    """Whether the store's signed log reaches the witnessed checkpoint and holds it as its own prefix."""
    latest = await audit.latest_checkpoint()
    size, witness_size = (latest.tree_size if latest else 0), witnessed.checkpoint.tree_size
    if witness_size > size:
        return Behind(
            f"its latest signed checkpoint is at size {size}, but the witness holds one at size {witness_size}: "
            "the store was restored from an older backup (or rolled back), and entries the witness saw are gone",
            checkpoint=witness_size,
        )
    if witness_size == 0 or latest is None:
        return None
    stored = {c.tree_size: c for c in await audit.checkpoints_since(witness_size)}.get(witness_size)
    if stored is not None:
        same = SignedCheckpoint.from_dict(stored.signed).checkpoint.root_hash == witnessed.checkpoint.root_hash
    else:
        proof = await prove_consistency(audit, witness_size, size)
        root = SignedCheckpoint.from_dict(latest.signed).checkpoint.root_hash
        same = verify_consistency(witness_size, size, witnessed.checkpoint.root_hash, root, proof)
    if same:
        return None
    return Behind(
        f"its signed log is not the one the witness holds at size {witness_size}: a fork (another store signed "
        "under this log's key, or this one was restored and went on without its witness)",
        checkpoint=witness_size,
    )


class Witness:
    """Every place the district's checkpoints are published, with the key and log id they must carry."""

    def __init__(self, places: Sequence[WitnessPlace], public_key: AuditPublicKey, log_id: str) -> None:
        self.places = list(places)
        self.public_key, self.log_id = public_key, log_id
        self.log = get_logger(component="witness")

    @classmethod
    def for_settings(cls, settings: Settings, public_key: AuditPublicKey, log_id: str) -> Witness | None:
        """The configured witness (``[witness]``), or None when there is none."""
        places: list[WitnessPlace] = []
        if settings.witness.dir:
            places.append(DirectoryWitness(settings.witness.dir))
        if settings.witness.url:
            places.append(HttpWitness(settings.witness.url, settings.witness.timeout_s))
        return cls(places, public_key, log_id) if places else None

    def checked(self, data: bytes, place: WitnessPlace) -> SignedCheckpoint:
        """``latest.json`` as a signed checkpoint of this log; :class:`WitnessError` if it is anything else."""
        try:
            signed = SignedCheckpoint.from_dict(ijson.loads(data))
        except (ValueError, SigningError) as exc:
            raise WitnessError(
                f"the witness {place.name} holds a {LATEST} that is not a signed checkpoint: {exc}"
            ) from None
        verdict = verify_checkpoint(signed, self.public_key, log_id=self.log_id)
        if not verdict.ok:
            raise WitnessError(
                f"the witness {place.name} holds a checkpoint this log's audit key did not sign ({verdict.reason}): "
                "is [witness] the district's own?"
            )
        return signed

    async def _held(self) -> AsyncIterator[tuple[WitnessPlace, bytes]]:
        """Each place's ``latest.json`` that is there; places that cannot be read are logged and skipped."""
        for place in self.places:
            try:
                data = await place.read(LATEST)
            except WitnessError as exc:
                self.log.error("audit.witness_unreadable", witness=place.name, error=str(exc))
                continue
            if data is not None:
                yield place, data

    async def latest(self) -> tuple[SignedCheckpoint | None, WitnessPlace | None]:
        """The furthest checkpoint any place holds, and where."""
        best: tuple[SignedCheckpoint | None, WitnessPlace | None] = (None, None)
        async for place, data in self._held():
            signed = self.checked(data, place)
            if best[0] is None or signed.checkpoint.tree_size > best[0].checkpoint.tree_size:
                best = (signed, place)
        return best

    async def judge(self, audit: AuditStore) -> Behind | None:
        """The start-up check: is the store behind (or a fork of) what the witness holds?"""
        async for place, data in self._held():
            try:
                signed = self.checked(data, place)
            except WitnessError as exc:
                return Behind(str(exc), checkpoint=size_of(data) if size_of(data) >= 0 else None)
            behind = await compare(audit, signed)
            if behind is not None:
                return behind
        return None

    async def publish(self, audit: AuditStore) -> Behind | None:
        """Publish every stored checkpoint above what each place holds (an empty place: the latest only).

        Returns :class:`Behind` instead when a place already holds more than
        the store, or another log. A place that cannot be written raises
        :class:`WitnessError` after the others were tried: the next checkpoint
        catches up.
        """
        latest = await audit.latest_checkpoint()
        if latest is None:
            return None
        failures = []
        for place in self.places:
            try:
                behind = await self._publish_to(place, audit, latest)
            except WitnessError as exc:
                failures.append(str(exc))
                continue
            if behind is not None:
                return behind
        if failures:
            raise WitnessError("; ".join(failures))
        return None

    async def _publish_to(self, place: WitnessPlace, audit: AuditStore, latest: StoredCheckpoint) -> Behind | None:
        data = await place.read(LATEST)
        held = self.checked(data, place) if data is not None else None
        if held is not None:
            behind = await compare(audit, held)
            if behind is not None or held.checkpoint.tree_size >= latest.tree_size:
                return behind
        first = held.checkpoint.tree_size if held else signed_size(SignedCheckpoint.from_dict(latest.signed))[1]
        stored = {c.tree_size: c for c in await audit.checkpoints_since(first)}
        todo = [stored[s] for s in sorted(stored) if s > first] if held else [latest]
        records = [(record_name(c.tree_size), await self.record(audit, c, stored)) for c in todo]
        await place.publish(records, json.dumps(latest.signed).encode("utf-8"), latest.tree_size)
        return None

    async def record(
        self, audit: AuditStore, checkpoint: StoredCheckpoint, stored: dict[int, StoredCheckpoint]
    ) -> bytes:
        """The record of ``checkpoint``: a bundle of the entries it added since the checkpoint before it."""
        size, previous = signed_size(SignedCheckpoint.from_dict(checkpoint.signed))
        start = stored.get(previous) if previous else None
        if previous and start is None:
            start = {c.tree_size: c for c in await audit.checkpoints_since(previous)}.get(previous)
        entries: list[tuple[int, bytes, bytes | None]] = []
        signed = audit.signed_entries(previous, size)
        if signed is not None:
            entries = [(seq, entry, None) for seq, entry in signed]
        else:
            async for chunk in audit.entries(previous, size):
                entries.extend((row[0], row[1], None) for row in chunk)
        doc = build_bundle(
            log_id=self.log_id,
            public_key=self.public_key,
            start=previous,
            end=size,
            start_checkpoint=start.signed if start else None,
            start_frontier=start.frontier if start else None,
            checkpoints=[checkpoint.signed],
            entries=entries,
        )
        return orjson.dumps(doc)  # the bytes json.dumps(ensure_ascii=False, separators=(",", ":")) writes, 5x faster

    async def records_back_to(self, size: int) -> tuple[SignedCheckpoint, list[dict[str, Any]]]:
        """The witness's latest checkpoint and its records back to one that starts at or before ``size``, oldest first.

        Each record must verify as a bundle under the audit key, and each must
        end where the next starts. :class:`WitnessError` when one is missing or
        does not hold: the witness cannot give back what it signed.
        """
        latest, place = await self.latest()
        if latest is None or place is None:
            raise WitnessError("no witness holds a checkpoint of this log")
        records: list[dict[str, Any]] = []
        wanted = latest.checkpoint.tree_size
        while wanted > size:
            data = await place.read(record_name(wanted))
            if data is None:
                raise WitnessError(
                    f"the witness {place.name} lacks the record of its checkpoint at size {wanted}: it cannot give "
                    "back the entries before it (it started after this backup was made: restore a newer one; or "
                    "its records were lost: put back the bureau's copy of the witness)"
                )
            doc = ijson.loads(data)
            report = verify_bundle(doc, self.public_key)
            if not report.ok or doc.get("to") != wanted:
                problem = report.first_bad.what if report.first_bad else f"it ends at {doc.get('to')}, not {wanted}"
                raise WitnessError(f"the witness's record of the checkpoint at size {wanted} does not hold: {problem}")
            records.insert(0, doc)
            wanted = doc["from"]
        return latest, records


async def publish_to(witness: Witness | None, audit: AuditStore) -> str:
    """Publish for a command that just signed: what to tell the operator (empty without a witness)."""
    if witness is None:
        return ""
    try:
        behind = await witness.publish(audit)
    except WitnessError as exc:
        return f"NOT published to the witness ({exc}): the next checkpoint publishes it"
    return "published to the witness" if behind is None else f"the witness refused it: {behind.what}"
