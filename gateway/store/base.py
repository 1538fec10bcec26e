"""The storage interface: request records and idempotency keys.

Two real backends implement it -- SQLite for one process on one machine,
PostgreSQL for several gateway processes sharing one database -- and the
same test suite runs against both. The interface speaks in domain records,
never SQL, so the router does not know which backend it has.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Collection
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (the only kind the store accepts)."""
    return datetime.now(UTC)


class RequestStatus(enum.StrEnum):
    """Where a request stands. ``completed``, ``rejected``, ``failed`` and
    ``dead_letter`` are final."""

    ACCEPTED = "accepted"
    PENDING = "pending"
    DEFERRED = "deferred"
    COMPLETED = "completed"
    REJECTED = "rejected"
    FAILED = "failed"
    DEAD_LETTER = "dead_letter"

    @property
    def final(self) -> bool:
        return self in (
            RequestStatus.COMPLETED,
            RequestStatus.REJECTED,
            RequestStatus.FAILED,
            RequestStatus.DEAD_LETTER,
        )


@dataclass
class RequestRecord:
    """One request as stored: who asked, for what, and where it stands."""

    id: str
    caller_id: str
    item: str
    agency: str
    office: str
    operator: str
    channel: str
    status: RequestStatus
    envelope: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    ticket: str | None = None
    agency_reference: str | None = None
    attempts: int = 0
    callback_url: str | None = None
    finished_at: datetime | None = None
    purged_at: datetime | None = None  # envelope and result removed under the retention rule
    due_on: str | None = None  # the promised day (ISO date, China Standard Time), fixed at acceptance
    due_unknown: str | None = None  # why there is no due_on: the calendar of its year is not known
    agency_message: str | None = None  # what the agency said while deciding (Pending.message)


@dataclass(frozen=True)
class MovedRequest:
    """A request as a guarded move left it (:meth:`Store.move_request`), read by the move itself.

    ``bundle_id`` is the bundle whose step it is (None for a request of its own), so whoever
    follows a finished request need not ask the store again.
    """

    record: RequestRecord
    bundle_id: str | None


class BundleStatus(enum.StrEnum):
    """Where a bundle (一链办理) stands: ``completed`` is final; a ``stopped`` one may be resumed."""

    RUNNING = "running"  # a step is being handed to its agency now
    WAITING = "waiting"  # a step waits: deferred in the outbox, or its agency decides later
    STOPPED = "stopped"  # a step failed or was refused: resume, or start again
    COMPLETED = "completed"  # every step completed; the receipt is sealed


@dataclass
class BundleRecord:
    """One bundle as stored: the chain, the checked input of every step, and each step's request id."""

    id: str
    caller_id: str
    chain: str
    office: str
    operator: str
    channel: str
    status: BundleStatus
    body: dict[str, Any]  # applicant, authorisation and each step's own materials, as checked
    steps: list[dict[str, Any]]  # [{"item", "request_id"}], in order; the ids are fixed when it is accepted
    created_at: datetime
    updated_at: datetime
    receipt: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    finished_at: datetime | None = None


@dataclass
class OutboxEntry:
    """Work waiting for a request: submit it, poll its ticket, or call back."""

    request_id: str
    action: str
    due_at: datetime
    expires_at: datetime
    created_at: datetime
    attempts: int = 0
    last_error: str | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None


#: The columns a reader turns into fields; a column a later release added is ignored, so that
#: an earlier release still runs on a store a later one migrated (docs/operations.md, "Upgrading").
RECORD_FIELDS = frozenset(f.name for f in fields(RequestRecord))
OUTBOX_FIELDS = frozenset(f.name for f in fields(OutboxEntry))
BUNDLE_FIELDS = frozenset(f.name for f in fields(BundleRecord))
BUNDLE_UPDATABLE = frozenset({"status", "receipt", "error", "finished_at", "updated_at"})


OUTBOX_ACTIONS = ("submit", "poll", "callback")

REQUEST_UPDATABLE = frozenset(
    {"status", "result", "error", "ticket", "agency_reference", "agency_message", "attempts", "finished_at"}
    | {"updated_at"}
)


@dataclass(frozen=True)
class OutboxStats:
    """What the outbox holds right now, per action, and how many requests are dead-lettered (for metrics)."""

    depth: dict[str, int]
    due: dict[str, int]
    oldest_created_at: dict[str, datetime]
    dead_letters: int


class AdminResult(enum.StrEnum):
    """What an operator's act on a request (``onewindow outbox retry|dead-letter|drop``) came to."""

    DONE = "done"
    NOT_FOUND = "not_found"
    WRONG_STATUS = "wrong_status"  # the request is not in a status the act applies to
    BUSY = "busy"  # a worker or an intake call is delivering it right now (its outbox row is leased)


class ClaimState(enum.StrEnum):
    """What claiming an idempotency key found."""

    NEW = "new"  # first use: go ahead with the given request id
    RESUME = "resume"  # an earlier attempt did not finish: go ahead with its request id
    REPLAY = "replay"  # finished before: answer with the stored response
    IN_FLIGHT = "in_flight"  # another attempt holds it now
    MISMATCH = "mismatch"  # used before with a different body
    LOST = "lost"  # the key made a request a restore lost (``lost``): nothing claimed; check it, claim again


@dataclass
class IdempotencyClaim:
    """The result of :meth:`Store.claim_idempotency_key`."""

    state: ClaimState
    request_id: str
    status_code: int | None = None
    response: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    lost: LostKey | None = None  # with LOST


@dataclass(frozen=True)
class LostKey:
    """A request a restore lost, found by its caller's ``Idempotency-Key`` (``onewindow audit reconcile`` kept it).

    ``request_digest`` is the keyed digest of its envelope (the audit log's),
    so a retry can be told to carry the same body before it resumes the id.
    """

    request_id: str
    request_digest: str | None


@dataclass(frozen=True)
class StoredCallerKey:
    """A caller's request-signing key as the store keeps it: Ed25519 public PEM, or a sealed HMAC secret."""

    key_id: str
    caller_id: str
    alg: str  # "hmac-sha256" | "ed25519"
    public_key: str | None
    sealed_secret: str | None
    created_at: datetime
    retired_at: datetime | None = None


class Store(abc.ABC):
    """Durable state of the gateway. Implementations must be safe to share
    between coroutines; the PostgreSQL one also between processes."""

    backend: str = "abstract"

    @abc.abstractmethod
    async def open(self, *, migrate: bool = True) -> None:
        """Connect and (unless ``migrate`` is False) apply pending schema migrations."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""

    @abc.abstractmethod
    async def durable(self) -> None:
        """Return once everything this process has committed is on disk.

        Called before anything leaves the gateway -- an answer, an agency
        call, a callback, a signed checkpoint -- so that nobody outside
        hears of a write a crash could still take back. Both backends commit
        without waiting for the flush and flush here, once for everyone
        waiting: SQLite flushes its log (``fdatasync``), PostgreSQL commits one
        barrier transaction that waits for the write-ahead log's flush.
        """

    @abc.abstractmethod
    async def reachable(self) -> None:
        """Raise :class:`StoreError` unless :meth:`open` could connect; creates, migrates and changes nothing.

        ``check-config`` asks this where ``serve`` opens the store, so a
        store the gateway could not open fails the check too.
        """

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise :class:`StoreError` unless the store answers a trivial query."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The highest applied migration number."""

    # -- requests ---------------------------------------------------------

    @abc.abstractmethod
    async def insert_request(self, record: RequestRecord) -> bool:
        """Store a new request; False when one with this id already exists."""

    @abc.abstractmethod
    async def get_request(self, request_id: str) -> RequestRecord | None:
        """The request with this id, or None."""

    @abc.abstractmethod
    async def update_request(
        self, request_id: str, *, expect: Collection[RequestStatus] | None = None, **changes: Any
    ) -> bool:
        """Change some of the fields in :data:`REQUEST_UPDATABLE`; True when the row changed.

        With ``expect``, change it only while its status is one of those: a
        transition guarded this way cannot overwrite what a later holder of
        the request (after a lease ran out) has already written.
        """

    @abc.abstractmethod
    async def move_request(
        self, request_id: str, *, expect: Collection[RequestStatus], **changes: Any
    ) -> MovedRequest | None:
        """:meth:`update_request` guarded by ``expect``, returning the row as the change left it (None when it
        had moved on): the change and the read are one statement, and no later write can slip between them."""

    async def move_request_finishing(
        self, request_id: str, action: str, *, expect: Collection[RequestStatus], **changes: Any
    ) -> MovedRequest | None:
        """:meth:`move_request`, and when the request moved, :meth:`finish_outbox` of ``(request_id, action)``:
        the delivery that settled it is done. A backend may do both in one statement (each statement is a
        round trip on PostgreSQL); a crash between the two leaves the row, whose redelivery finds the request
        settled and changes nothing."""
        moved = await self.move_request(request_id, expect=expect, **changes)
        if moved is not None:
            await self.finish_outbox(request_id, action)
        return moved

    @abc.abstractmethod
    async def request_status(self, request_id: str) -> RequestStatus | None:
        """The request's status alone (None when there is no such request): a check that decodes nothing else."""

    @abc.abstractmethod
    async def list_requests(
        self, *, status: str | None = None, caller_id: str | None = None, limit: int = 100
    ) -> list[RequestRecord]:
        """Recent requests, newest first, optionally filtered."""

    @abc.abstractmethod
    async def list_overdue(self, today: str, *, office: str | None = None, limit: int = 1000) -> list[RequestRecord]:
        """Requests not finished whose ``due_on`` is before ``today`` (ISO date), most overdue first."""

    @abc.abstractmethod
    async def count_overdue(self, today: str) -> dict[tuple[str, str], int]:
        """How many requests are overdue on ``today``, per (office, item) (for ``/metrics``)."""

    # -- acceptance receipts ------------------------------------------------

    @abc.abstractmethod
    async def add_receipt(self, request_id: str, version: int, document: dict[str, Any], *, now: datetime) -> bool:
        """Store version ``version`` of a request's sealed receipt; False when that version exists already."""

    @abc.abstractmethod
    async def receipts(self, request_id: str) -> list[dict[str, Any]]:
        """Every sealed receipt of a request, oldest version first."""

    # -- outbox -----------------------------------------------------------

    @abc.abstractmethod
    async def accept_request(
        self, record: RequestRecord, *, claimed_by: str, lease_until: datetime, expires_at: datetime
    ) -> bool:
        """Store a new request and its ``submit`` outbox row, held by ``claimed_by``, atomically.

        From this moment the request cannot be lost: if the holder dies, its
        lease runs out and any worker redelivers it. False when the id exists.
        """

    @abc.abstractmethod
    async def schedule(
        self,
        request_id: str,
        action: str,
        *,
        due_at: datetime,
        expires_at: datetime,
        attempts: int = 0,
        last_error: str | None = None,
    ) -> None:
        """Create or replace the outbox row ``(request_id, action)``, unclaimed, due at ``due_at``."""

    @abc.abstractmethod
    async def claim_outbox(self, worker: str, *, now: datetime, lease_until: datetime, limit: int) -> list[OutboxEntry]:
        """Claim up to ``limit`` due rows whose lease (if any) ran out, oldest first.

        Several processes may call this at once; each row goes to one of them.
        """

    @abc.abstractmethod
    async def finish_outbox(self, request_id: str, action: str) -> None:
        """Delete the outbox row: its work is done (or dead-lettered)."""

    @abc.abstractmethod
    async def list_outbox(self, *, request_id: str | None = None, limit: int = 100) -> list[OutboxEntry]:
        """Outbox rows, soonest due first."""

    @abc.abstractmethod
    async def release_outbox_claims(self, worker: str | None = None) -> int:
        """Drop the leases held by ``worker`` (every lease when None), making the rows claimable."""

    @abc.abstractmethod
    async def outbox_stats(self, now: datetime) -> OutboxStats:
        """Rows per action, rows due at ``now``, the oldest row's creation time, dead letters."""

    @abc.abstractmethod
    async def requeue_request(
        self,
        request_id: str,
        *,
        from_statuses: tuple[RequestStatus, ...],
        error: dict[str, Any],
        due_at: datetime,
        expires_at: datetime,
    ) -> AdminResult:
        """Put a finished request back in the outbox, atomically: status ``deferred`` and a fresh
        ``submit`` row due at ``due_at`` -- or nothing, when its status is not in ``from_statuses``."""

    @abc.abstractmethod
    async def abandon_request(
        self, request_id: str, *, from_statuses: tuple[RequestStatus, ...], error: dict[str, Any], now: datetime
    ) -> AdminResult:
        """Dead-letter a queued request, atomically: status ``dead_letter`` and its submit/poll rows
        gone. ``BUSY`` (and nothing changed) while one of those rows is leased, because a delivery
        running now could still settle or re-queue it."""

    @abc.abstractmethod
    async def drop_outbox_row(self, request_id: str, action: str, *, now: datetime) -> AdminResult:
        """Delete one outbox row on an operator's word, atomically: ``BUSY`` (nothing changed) while it
        is leased, since a worker is running it now; ``NOT_FOUND`` when there is no such row."""

    # -- idempotency keys -------------------------------------------------

    @abc.abstractmethod
    async def claim_idempotency_key(
        self,
        caller_id: str,
        key: str,
        *,
        body_digest: str,
        request_id: str,
        now: datetime,
        expires_at: datetime,
        lease_until: datetime,
        lost_key_digest: str | None = None,
    ) -> IdempotencyClaim:
        """Atomically take ``key`` for a request, or say why not.

        With ``lost_key_digest``, a key that made a request a restore lost
        (:meth:`lost_key`) is not taken: the answer is ``LOST``, looked up in
        the same statement as the key itself.

        A key that is absent or expired is taken with ``request_id``
        (``NEW``). A key whose earlier holder failed retryably or whose lease
        ran out is taken again with its *original* request id (``RESUME``),
        so the agency sees the same deduplication key. Otherwise the answer
        is ``REPLAY``, ``IN_FLIGHT`` or ``MISMATCH``.
        """

    @abc.abstractmethod
    async def finish_idempotency_key(
        self, caller_id: str, key: str, *, status_code: int, response: dict[str, Any], retryable: bool
    ) -> None:
        """Record the answer given under ``key`` (``response`` is ``{"body", "headers"}``).

        ``retryable`` answers (the agency was unavailable) release the key
        for the client's next retry instead of being replayed.
        """

    @abc.abstractmethod
    async def purge_finished(self, finished_before: datetime, *, now: datetime, limit: int) -> list[str]:
        """Remove the personal data of up to ``limit`` requests finished before ``finished_before``.

        The envelope becomes ``{"purged": true}``, the result goes, the error
        keeps only its code, the callback URL goes; stored idempotent answers
        of those requests are deleted and their audit payloads (raw copies
        kept encrypted beside the entries) are dropped. Completed bundles
        finished before the cut-off lose their body and receipt likewise. Status, times, item,
        office and the audit entries themselves (digests only) stay. Returns
        the ids purged, oldest first.
        """

    @abc.abstractmethod
    async def count_purgeable(self, finished_before: datetime) -> int:
        """How many finished requests :meth:`purge_finished` would purge with this cut-off."""

    @abc.abstractmethod
    async def purge_idempotency_keys(self, now: datetime) -> int:
        """Delete expired keys; returns how many."""

    @abc.abstractmethod
    async def lost_key(self, caller_id: str, key_digest: str) -> LostKey | None:
        """The request a restore lost that ``caller_id`` made with the key whose keyed digest is ``key_digest``."""

    @abc.abstractmethod
    async def release_idempotency_leases(self, now: datetime) -> int:
        """End the lease of every in-flight key now, so a client's retry resumes it at once.

        Only safe when no other process can be holding one -- SQLite at start-up, where a lease
        still running was left by a crashed predecessor. Returns how many.
        """

    # -- callers' signing keys and the nonces of accepted signatures (gateway.callers) ----------

    @abc.abstractmethod
    async def add_caller_key(self, key: StoredCallerKey, *, max_active: int) -> bool:
        """Add ``key`` unless its caller already has ``max_active`` keys not retired (False then); atomic."""

    @abc.abstractmethod
    async def caller_key(self, key_id: str) -> StoredCallerKey | None:
        """The key with this id, retired or not."""

    @abc.abstractmethod
    async def caller_keys(self, caller_id: str | None = None) -> list[StoredCallerKey]:
        """Every key (of ``caller_id``), oldest first."""

    @abc.abstractmethod
    async def retire_caller_key(self, caller_id: str, key_id: str, *, now: datetime) -> bool:
        """Retire ``caller_id``'s key ``key_id``; False when there is no such key not yet retired."""

    @abc.abstractmethod
    async def remember_nonce(self, key_id: str, nonce: str, *, now: datetime, expires_at: datetime) -> bool:
        """Record a signature's nonce until ``expires_at``; False when it is already remembered (a replay)."""

    @abc.abstractmethod
    async def purge_nonces(self, now: datetime) -> int:
        """Forget the nonces that expired; returns how many."""

    # -- bundles (一链办理) --------------------------------------------------

    @abc.abstractmethod
    async def insert_bundle(self, record: BundleRecord) -> bool:
        """Store a new bundle and the request id of each step; False when one with this id exists."""

    @abc.abstractmethod
    async def get_bundle(self, bundle_id: str) -> BundleRecord | None:
        """The bundle with this id, or None."""

    @abc.abstractmethod
    async def update_bundle(
        self, bundle_id: str, *, expect: Collection[BundleStatus] | None = None, **changes: Any
    ) -> bool:
        """Change fields of :data:`BUNDLE_UPDATABLE`, only while the status is in ``expect`` when given."""

    @abc.abstractmethod
    async def list_bundles(self, *, statuses: Collection[BundleStatus], limit: int = 100) -> list[BundleRecord]:
        """Bundles in one of ``statuses``, oldest first (what a gateway picks up again when it starts)."""

    @abc.abstractmethod
    async def bundle_of_request(self, request_id: str) -> str | None:
        """The id of the bundle whose step ``request_id`` is, or None for a request of its own."""
