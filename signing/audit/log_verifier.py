"""Recompute an audit log from its entries and judge it against its signed checkpoints.

One streaming pass, O(log n) memory for the tree: every entry is re-hashed
(RFC 9162 leaf), checked for its place (the ``seq`` inside the hashed bytes
must be its position), checked against what the store says about it (its
recorded leaf hash and index columns, its encrypted payload's commitment),
and appended to a Merkle tree whose root must equal every signed checkpoint
at that checkpoint's size. Checkpoints must be signed by the trusted audit
key, name the same log, and form an unbroken chain (each names the size of
the one before). A checkpoint whose root matches the recomputed tree proves
the log up to it; the first one that does not brackets the damage, and the
per-entry checks name the entry.

The input is rows from anywhere -- a database, an export bundle -- so the
same judgement runs online and offline; it imports nothing from ``gateway``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signing.audit.checkpoint import AuditPublicKey, Checkpoint, SignedCheckpoint, key_id, verify_checkpoint
from signing.audit.entry import parse_entry
from signing.audit.log_report import Finding, LogReport, Suspect
from signing.audit.merkle import Frontier, MerkleTreeBuilder
from signing.errors import CheckpointFormatError, EntryFormatError
from signing.jose import ijson

__all__ = ["MISSING", "CheckpointRecord", "Finding", "LogReport", "LogVerifier", "Row", "Suspect"]

MISSING = object()
"""``payload`` value of a row whose source does not carry encrypted payloads at all."""

Row = tuple[int, bytes, bytes | None, str | None, str | None, str | None, Any]
"""``(seq, entry bytes, recorded leaf hash, kind, request_id, time, payload)`` -- None when unknown."""

_sha256 = hashlib.sha256


@dataclass(frozen=True)
class CheckpointRecord:
    """A checkpoint as kept: the size it is filed under, its signed JSON, the frontier saved with it."""

    filed_size: int | None
    signed: Mapping[str, Any] | str
    frontier: Frontier | None = None


class LogVerifier:
    """Feed rows in order with :meth:`add`; :meth:`finish` returns the :class:`LogReport`.

    ``start``/``start_frontier`` resume from a trusted checkpoint (the caller
    has checked ``start_frontier.root()`` against it). ``expected_size`` is
    how many entries the source claims to hold. ``chain_from_origin`` says the
    checkpoints given include the log's first, so its predecessor must be none.
    ``trusted`` are checkpoints the caller already checked and kept apart from
    the store (e.g. ``audit verify --from FILE``): the log must reach them too.
    """

    def __init__(
        self,
        public_key: AuditPublicKey,
        checkpoints: Iterable[CheckpointRecord],
        *,
        log_id: str | None = None,
        start: int = 0,
        start_frontier: Frontier | None = None,
        expected_size: int | None = None,
        chain_from_origin: bool = True,
        trusted: Sequence[Checkpoint] = (),
        keep_window: int = 4_000_000,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        if (start_frontier.size if start_frontier else 0) != start:
            raise ValueError("start_frontier must describe a tree of `start` leaves")
        self.public_key = public_key
        self.log_id = log_id
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self.valid = self._check_checkpoints(checkpoints, chain_from_origin)
        self._targets = sorted({(c.tree_size, c.root_hash) for c in (*self.valid, *trusted) if c.tree_size > start})
        self._target = 0
        self._start = start
        self._expected = expected_size
        self._builder = MerkleTreeBuilder(start_frontier)
        self._next = start
        self._good = (start, start_frontier or Frontier(0, ()))
        self._window: list[bytes] | None = []
        self._keep = keep_window
        self._suspect: Suspect | None = None
        self._later_mismatches = 0
        self._erased = 0
        self._last_claim = -1
        self._progress = on_progress

    # -- checkpoints ------------------------------------------------------------

    def _check_checkpoints(self, records: Iterable[CheckpointRecord], from_origin: bool) -> list[Checkpoint]:
        valid: list[Checkpoint] = []
        ordered = sorted(records, key=lambda r: r.filed_size if r.filed_size is not None else -1)
        for record in ordered:
            try:
                doc = ijson.loads(record.signed) if isinstance(record.signed, str) else record.signed
                signed = SignedCheckpoint.from_dict(doc)
            except (CheckpointFormatError, ValueError) as exc:
                self._cp(record.filed_size, f"malformed checkpoint: {exc}")
                continue
            cp = signed.checkpoint
            if record.filed_size is not None and record.filed_size != cp.tree_size:
                self._cp(
                    record.filed_size, f"filed at size {record.filed_size} but is a checkpoint of size {cp.tree_size}"
                )
                continue
            verdict = verify_checkpoint(signed, self.public_key, log_id=self.log_id)
            if not verdict.ok:
                self._cp(cp.tree_size, f"{verdict.reason} ({verdict.problem}): replaced or forged")
                continue
            self.log_id = self.log_id or cp.log_id
            prev = valid[-1] if valid else None
            if prev is None:
                if from_origin and cp.previous_size not in (None, 0):
                    self._cp(
                        cp.previous_size,
                        f"missing: the first checkpoint (size {cp.tree_size}) names it as its predecessor",
                    )
            elif cp.tree_size <= prev.tree_size:
                self._cp(cp.tree_size, f"does not grow the log (previous checkpoint is at size {prev.tree_size})")
                continue
            elif cp.previous_size != prev.tree_size:
                if cp.previous_size is not None and cp.previous_size > prev.tree_size:
                    self._cp(
                        cp.previous_size, f"missing: the checkpoint at size {cp.tree_size} names it as its predecessor"
                    )
                else:
                    self._cp(
                        cp.tree_size,
                        f"names size {cp.previous_size} as its predecessor, not {prev.tree_size}: "
                        f"the checkpoint at size {prev.tree_size} is not part of the chain",
                    )
            elif cp.timestamp_ms < prev.timestamp_ms:
                self._cp(cp.tree_size, f"is dated before its predecessor at size {prev.tree_size}")
            valid.append(cp)
        return valid

    def _cp(self, size: int | None, what: str) -> None:
        self.findings.append(Finding(what, checkpoint=size))

    # -- entries ----------------------------------------------------------------

    def add(self, rows: Iterable[Row]) -> None:
        """Check and append rows, in order of ``seq``."""
        sha, builder, findings = _sha256, self._builder, self.findings
        for seq, entry, recorded_leaf, kind, request_id, time, payload in rows:
            if seq != self._next:
                if seq > self._next:
                    findings.append(
                        Finding(f"missing: the log jumps from entry {self._next - 1} to {seq}", self._next, seq - 1)
                    )
                else:
                    findings.append(Finding(f"out of order: seen after entry {self._next - 1}", seq, seq))
                    continue
            self._next = seq + 1
            leaf = sha(b"\x00" + entry).digest()
            if recorded_leaf is not None and recorded_leaf != leaf:
                findings.append(
                    Finding(
                        "altered: its bytes no longer hash to the leaf hash recorded when it was appended", seq, seq
                    )
                )
            try:
                parsed = parse_entry(entry)
            except EntryFormatError as exc:
                findings.append(Finding(f"not a well-formed entry ({exc})", seq, seq))
            else:
                if parsed.seq == self._last_claim:
                    findings.append(
                        Finding(f"two entries claim to be entry {parsed.seq}: one was inserted", seq - 1, seq)
                    )
                elif parsed.seq != seq:
                    findings.append(
                        Finding(f"holds the content of entry {parsed.seq}: swapped, inserted or renumbered", seq, seq)
                    )
                self._last_claim = parsed.seq
                if kind is not None and (kind, request_id, time) != (parsed.kind, parsed.request_id, parsed.time):
                    findings.append(
                        Finding("its index columns (kind, request_id, time) differ from the entry: altered", seq, seq)
                    )
                if payload is not MISSING:
                    self._check_payload(seq, parsed.payload, payload)
            builder.append(leaf)
            if self._window is not None:
                self._window.append(leaf)
                if len(self._window) > self._keep:
                    self._window = None
            while self._target < len(self._targets) and builder.size == self._targets[self._target][0]:
                self._reached(*self._targets[self._target])
                self._target += 1
            if self._progress is not None and not seq & 0x3FFF:
                self._progress(seq + 1)

    def _check_payload(self, seq: int, commitment: Mapping[str, str] | None, payload: bytes | None) -> None:
        if commitment is None:
            if payload is not None:
                self.findings.append(Finding("carries an encrypted payload the entry does not commit to", seq, seq))
        elif payload is None:
            self._erased += 1
        elif _sha256(payload).hexdigest() != commitment["sha256"]:
            self.findings.append(Finding("its encrypted payload was altered (commitment differs)", seq, seq))

    def _reached(self, size: int, root: bytes) -> None:
        if self._builder.root() == root:
            if self._suspect is None:
                self._good = (size, self._builder.frontier())
                self._window = [] if self._window is not None else None
            return
        if self._suspect is not None:
            self._later_mismatches += 1
            return
        good_size, good_frontier = self._good
        self._suspect = Suspect(good_size, good_frontier, size, root, self._window)
        self._window = None
        self.findings.append(
            Finding(
                f"do not hash to the signed checkpoint at size {size}: one of them was changed, removed, "
                "inserted or reordered",
                good_size,
                size - 1,
                size,
            )
        )

    def frontier(self) -> Frontier:
        """The recomputed tree's frontier so far (to compare with a stored head)."""
        return self._builder.frontier()

    def finish(self) -> LogReport:
        """Judge what was seen against the checkpoints not reached and the expected size."""
        size = self._next
        if self._expected is not None and size < self._expected:
            self.findings.append(
                Finding(f"missing: the log's head says {self._expected} entries, the log ends at {size - 1}", size)
            )
        elif self._expected is not None and size > self._expected:
            self.findings.append(
                Finding(f"beyond the log's head (size {self._expected}): inserted", self._expected, size - 1)
            )
        beyond = [t for t in self._targets[self._target :] if t[0] > self._builder.size]
        if beyond:
            cp_size = beyond[0][0]
            self.findings.append(
                Finding(
                    f"removed: the signed checkpoint at size {cp_size} covers entries the log no longer has "
                    "(truncated)",
                    self._builder.size,
                    cp_size - 1,
                    cp_size,
                )
            )
        if self._later_mismatches:
            self.notes.append(f"{self._later_mismatches} later checkpoint(s) do not match either (the same damage)")
        if self._erased:
            self.notes.append(f"{self._erased} encrypted payload(s) erased (their commitments remain in the entries)")
        return LogReport(
            key_id=key_id(self.public_key),
            log_id=self.log_id,
            start=self._start,
            size=size,
            expected_size=self._expected,
            checkpoints=self.valid,
            findings=self.findings,
            notes=self.notes,
            suspect=self._suspect,
        )
