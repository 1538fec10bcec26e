"""What an event becomes in the audit log: masked fields, canonical bytes.

An entry is JCS (RFC 8785) JSON whose members sort as ``fields, instance,
kind, payload, request_id`` < ``seq, time, v``. Everything before ``seq`` is
known when the event happens, so it is encoded outside the append lock; the
appender only splices in the sequence number and time it assigns under the
lock (:func:`finish_entry`). The result is byte-identical to canonicalising
the whole object (a property test proves it), so a verifier needs no
knowledge of the trick.

Entries must never hold personal data: identifiers and digests the gateway
produces are kept as they are, fields that carry applicant data are dropped,
and every other string is masked the way the structured log masks it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.audit.payloads import PayloadCipher
from gateway.observability.logs import mask_personal_data
from signing.jose.jcs import canonicalize

# Produced by the gateway itself (ids, codes, enums, numbers): kept verbatim.
# Masking them could corrupt them: a hex digest may contain a run of digits that looks like a phone number.
VERBATIM = frozenset(
    {
        "request_id",
        "caller",
        "office",
        "channel",
        "item",
        "agency",
        "operation",
        "outcome",
        "seal_number",
        "number",
        "status",
        "http_status",
        "path",
        "action",
        "indication",
        "sub_indication",
        "items",
        "agencies",
        "attempt",
        "attempts",
        "poll",
        "latency_ms",
        "retry_in_s",
        "poll_after_s",
        "will_retry",
        "pledge",
        "problems",
        "reasons",
        "key_id",
        "exit_code",
    }
)
# Fields that carry (or may carry) the applicant's data: never written.
DROPPED = frozenset(
    {"applicant", "envelope", "materials", "document", "result", "body", "name", "id_number", "phone", "statement"}
)
_MAX_SAFE = 2**53 - 1
_MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class PreparedEntry:
    """An entry encoded up to its ``seq``; ``payload`` is the encrypted raw payload, if kept."""

    prefix: bytes
    kind: str
    request_id: str | None
    payload: bytes | None = None


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds: ``2025-05-01T08:30:00.123456Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def finish_entry(prefix: bytes, seq: int, time: str) -> bytes:
    """The entry's bytes once its place and time are known."""
    return b'%s,"seq":%d,"time":"%s","v":1}' % (prefix, seq, time.encode("ascii"))


def prepare_entry(
    kind: str,
    fields: Mapping[str, Any],
    *,
    instance: str,
    cipher: PayloadCipher | None = None,
    raw: Any = None,
) -> PreparedEntry:
    """Mask and encode one event; encrypt its raw payload when a payload key is configured."""
    if not isinstance(kind, str) or not kind:
        raise ValueError("an audit entry needs a kind")
    values = dict(fields)
    request_id = values.pop("request_id", None)
    request_id = None if request_id is None else str(request_id)
    doc: dict[str, Any] = {"fields": clean_fields(values), "instance": instance, "kind": kind}
    blob = None
    if cipher is not None and raw is not None:
        doc["payload"], blob = cipher.seal(kind, request_id, raw)
    if request_id:
        doc["request_id"] = request_id
    body = canonicalize(doc)
    return PreparedEntry(body[:-1], kind, request_id or None, blob)


def clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields as they may be written: personal data dropped or masked, JSON-safe values only."""
    kept: dict[str, Any] = {}
    masked: dict[str, Any] = {}
    for key, value in fields.items():
        key = str(key)
        if key in DROPPED or value is None:
            continue
        value = _jsonable(value)
        if key in VERBATIM or key.endswith("_digest"):
            kept[key] = value
        else:
            masked[key] = value
    if masked:
        kept.update(mask_personal_data(None, "audit", masked))
    return {k: _truncate(v) for k, v in kept.items()}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= _MAX_SAFE else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, datetime):
        return format_time(value) if value.tzinfo else value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items() if str(k) not in DROPPED}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_jsonable(v) for v in value)
    return str(value)


def _truncate(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        return value[:_MAX_TEXT] + "…"
    return value
