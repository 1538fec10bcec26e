"""Export bundles: a stretch of the audit log that verifies offline, without the database.

A bundle (``onewindow-audit-bundle/v1``, one JSON document) carries the
entries ``from .. to-1`` exactly as stored, every signed checkpoint in that
stretch, the audit public key, and -- when it does not start at the log's
beginning -- the signed checkpoint at ``from`` with the tree frontier saved
with it (whose root must equal that checkpoint's root, so the frontier is as
trustworthy as the signature). Checking a bundle is the same judgement as
checking the live log (:class:`signing.audit.log_verifier.LogVerifier`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from signing.audit.checkpoint import (
    AuditPublicKey,
    SignedCheckpoint,
    key_id,
    load_public_key,
    public_key_pem,
    verify_checkpoint,
)
from signing.audit.log_verifier import MISSING, CheckpointRecord, Finding, LogReport, LogVerifier
from signing.audit.merkle import Frontier
from signing.errors import BundleFormatError, CheckpointFormatError

BUNDLE_FORMAT = "onewindow-audit-bundle/v1"


def build_bundle(
    *,
    log_id: str,
    public_key: AuditPublicKey,
    start: int,
    end: int,
    start_checkpoint: Mapping[str, Any] | None,
    start_frontier: Frontier | None,
    checkpoints: Iterable[Mapping[str, Any]],
    entries: Iterable[tuple[int, bytes, bytes | None]],
) -> dict[str, Any]:
    """The bundle document; ``entries`` are ``(seq, entry bytes, encrypted payload or None)``."""
    rows = []
    for seq, entry, payload in entries:
        row: dict[str, Any] = {"seq": seq, "entry": entry.decode("utf-8")}
        if payload is not None:
            row["payload"] = base64.b64encode(payload).decode("ascii")
        rows.append(row)
    return {
        "format": BUNDLE_FORMAT,
        "log_id": log_id,
        "public_key": public_key_pem(public_key),
        "key_id": key_id(public_key),
        "from": start,
        "to": end,
        "start_checkpoint": dict(start_checkpoint) if start_checkpoint else None,
        "start_frontier": start_frontier.to_dict() if start_frontier else None,
        "checkpoints": [dict(c) for c in checkpoints],
        "entries": rows,
    }


def bundle_public_key(doc: Any) -> AuditPublicKey:
    """The audit key embedded in a bundle; :class:`BundleFormatError` if absent or unreadable."""
    if not isinstance(doc, Mapping) or doc.get("format") != BUNDLE_FORMAT:
        raise BundleFormatError(f"not a {BUNDLE_FORMAT} document")
    try:
        return load_public_key(str(doc.get("public_key", "")))
    except ValueError as exc:
        raise BundleFormatError(f"public_key: {exc}") from None


def verify_bundle(
    doc: Any, public_key: AuditPublicKey, *, on_progress: Callable[[int], None] | None = None
) -> LogReport:
    """Judge a bundle against the trusted audit key; :class:`BundleFormatError` if malformed."""
    embedded = bundle_public_key(doc)
    start, end = _int(doc, "from"), _int(doc, "to")
    if end < start:
        raise BundleFormatError("'to' is before 'from'")
    records = doc.get("checkpoints")
    entries = doc.get("entries")
    if not isinstance(records, list) or not isinstance(entries, list):
        raise BundleFormatError("checkpoints and entries must be lists")
    early: list[Finding] = []
    if key_id(embedded) != key_id(public_key):
        early.append(Finding("the bundle's embedded public key is not the trusted audit key"))
    frontier = _start_frontier(doc, start, public_key, early)
    verifier = LogVerifier(
        public_key,
        [CheckpointRecord(None, c) for c in records],
        log_id=doc.get("log_id") if isinstance(doc.get("log_id"), str) else None,
        start=start,
        start_frontier=frontier,
        expected_size=end,
        chain_from_origin=start == 0,
        on_progress=on_progress,
    )
    verifier.findings[:0] = early
    verifier.add(_rows(entries))
    return verifier.finish()


def _start_frontier(doc: Mapping[str, Any], start: int, key: AuditPublicKey, findings: list[Finding]) -> Frontier:
    if start == 0:
        return Frontier(0, ())
    try:
        signed = SignedCheckpoint.from_dict(doc.get("start_checkpoint"))
        frontier = Frontier.from_dict(doc.get("start_frontier"))  # type: ignore[arg-type]
    except (CheckpointFormatError, ValueError, AttributeError) as exc:
        raise BundleFormatError(f"a bundle from {start} needs start_checkpoint and start_frontier: {exc}") from None
    if signed.checkpoint.tree_size != start or frontier.size != start:
        raise BundleFormatError(f"the starting checkpoint and frontier must be at size {start}")
    verdict = verify_checkpoint(signed, key)
    if not verdict.ok:
        findings.append(Finding(f"the starting checkpoint is not valid: {verdict.reason}", checkpoint=start))
    elif frontier.root() != signed.checkpoint.root_hash:
        findings.append(Finding("the starting frontier does not match the starting checkpoint", checkpoint=start))
    return frontier


def _rows(entries: list[Any]) -> Iterable[tuple[int, bytes, None, None, None, None, Any]]:
    for row in entries:
        if not isinstance(row, Mapping) or type(row.get("seq")) is not int or not isinstance(row.get("entry"), str):
            raise BundleFormatError("each entry needs an integer seq and the entry text")
        payload: Any = MISSING
        if "payload" in row:
            try:
                payload = base64.b64decode(str(row["payload"]), validate=True)
            except binascii.Error:
                raise BundleFormatError(f"entry {row['seq']}: payload is not base64") from None
        yield row["seq"], row["entry"].encode("utf-8"), None, None, None, None, payload


def _int(doc: Mapping[str, Any], name: str) -> int:
    value = doc.get(name)
    if type(value) is not int or value < 0:
        raise BundleFormatError(f"{name!r} must be a non-negative integer")
    return value
