"""Requests a restore lost, told from their audit entries: what an operator checks with each agency.

After a restore, the audit log given back by the witness still tells every
request made since the backup -- its caller, office, item, the agency it
went to, whether the agency was called and what it answered, its last
status and when -- while the store holds no row for it (**lost**), or holds
the row as it stood at the backup (**rolled back**: the outbox delivers or
polls it again under its own request id, and the agency, which deduplicates
by that id, answers with what it already did).

Nothing here is personal data beyond what the entries hold, and entries are
masked when they are written (docs/audit.md, "No personal data"). A lost
request's keyed digests -- of its envelope, and of its caller's
``Idempotency-Key`` -- go into the ``lost_requests`` register, so that a
client retrying that key gets the same request id again
(:mod:`gateway.intake.lost_keys`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from gateway.audit.store.base import LogTx
from signing.audit.entry import AuditEntry

STATUS_OF = {
    "request.accepted": "accepted",
    "request.retried": "accepted",
    "request.interrupted": "accepted",
    "request.pending": "pending",
    "request.deferred": "deferred",
    "admin.outbox_retry": "deferred",
    "request.completed": "completed",
    "request.rejected": "rejected",
    "request.failed": "failed",
    "request.dead_lettered": "dead_letter",
    "admin.outbox_dead_letter": "dead_letter",
}
"""The request status each kind of entry leaves behind (the last one wins)."""


@dataclass
class LostRequest:
    """One request as its entries tell it; ``in_store`` is the status the restored store holds (None: no row)."""

    request_id: str
    status: str = "accepted"
    caller: str | None = None
    item: str | None = None
    agency: str | None = None
    office: str | None = None
    channel: str | None = None
    operator: str | None = None
    accepted_at: str | None = None
    last_seen_at: str = ""
    agency_called: bool = False
    last_outcome: str | None = None
    key_digest: str | None = None
    request_digest: str | None = None
    in_store: str | None = None
    entries: list[int] = field(default_factory=list)

    def tell(self, entry: AuditEntry) -> None:
        """Take in one of its entries (in log order)."""
        values = entry.fields
        self.entries.append(entry.seq)
        self.last_seen_at = entry.time
        self.status = STATUS_OF.get(entry.kind, self.status)
        for name in ("caller", "item", "agency", "office", "channel", "operator"):
            if isinstance(values.get(name), str):
                setattr(self, name, values[name])
        if entry.kind == "request.accepted":
            self.accepted_at = self.accepted_at or entry.time
            self.key_digest = _text(values.get("idempotency_key_digest")) or self.key_digest
            self.request_digest = _text(values.get("request_digest")) or self.request_digest
        if entry.kind == "agency.attempt":
            self.agency_called = True
            self.last_outcome = _text(values.get("outcome"))

    def to_dict(self) -> dict[str, Any]:
        told = asdict(self)
        told.pop("key_digest")
        told.pop("request_digest")
        return told


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def stories(entries: Iterable[AuditEntry]) -> dict[str, LostRequest]:
    """Every request the entries mention, told from them (entries in log order)."""
    told: dict[str, LostRequest] = {}
    for entry in entries:
        if entry.request_id and len(entry.request_id) == 26:  # a request id the gateway issued (a ULID)
            told.setdefault(entry.request_id, LostRequest(entry.request_id)).tell(entry)
    return told


def lost_and_rolled_back(
    told: Mapping[str, LostRequest], in_store: Mapping[str, str | None]
) -> tuple[list[LostRequest], list[LostRequest]]:
    """Split by what the store holds: no row (lost), or a row whose status the entries went past (rolled back)."""
    lost, rolled_back = [], []
    for request_id, request in told.items():
        status = in_store.get(request_id)
        request.in_store = status
        if status is None:
            lost.append(request)
        elif status != request.status and request.status in STATUS_OF.values():
            rolled_back.append(request)
    order = lambda r: r.entries[0] if r.entries else 0  # noqa: E731 -- first seen first
    return sorted(lost, key=order), sorted(rolled_back, key=order)


def ids_digest(requests: Iterable[LostRequest]) -> str:
    """``sha256:`` over the sorted request ids, one per line: what the reconciliation entry commits to."""
    text = "".join(f"{r}\n" for r in sorted(request.request_id for request in requests))
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


_REGISTER = (
    "INSERT INTO lost_requests (request_id, caller_id, item, agency, office, channel, operator, status, accepted_at, "
    "last_seen_at, agency_called, last_outcome, key_digest, request_digest, reconciliation) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO UPDATE SET "
    "status = excluded.status, last_seen_at = excluded.last_seen_at, agency_called = excluded.agency_called, "
    "last_outcome = excluded.last_outcome, reconciliation = excluded.reconciliation"
)


async def register_lost(tx: LogTx, lost: Iterable[LostRequest], reconciliation: int) -> None:
    """Keep the lost requests in ``lost_requests``, in the reconciliation's transaction."""
    for r in lost:
        await tx.run(
            _REGISTER,
            r.request_id,
            r.caller,
            r.item,
            r.agency,
            r.office,
            r.channel,
            r.operator,
            r.status,
            r.accepted_at,
            r.last_seen_at,
            r.agency_called,
            r.last_outcome,
            r.key_digest,
            r.request_digest,
            reconciliation,
        )
