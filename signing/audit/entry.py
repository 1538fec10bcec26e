"""The audit log's entry format, as a verifier reads it (docs/audit.md, "The entry").

An entry is the RFC 8785 (JCS) canonical UTF-8 JSON of one object::

    {"fields": {...}, "instance": "...", "kind": "request.accepted",
     "payload": {...},            # optional: commitment to an encrypted raw payload
     "request_id": "01J...",      # optional: absent for administrative acts
     "seq": 17, "time": "2025-05-01T08:30:00.123456Z", "v": 1}

``seq`` (the entry's position in the log) and ``time`` are inside the hashed
bytes, so moving, swapping or re-numbering an entry changes its leaf hash.
This module only reads entries; the gateway writes them. It imports nothing
from ``gateway`` so security staff can check entries with ``signing`` alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signing.errors import EntryFormatError
from signing.jose import ijson
from signing.jose.jcs import canonicalize

ENTRY_VERSION = 1
PAYLOAD_ALGORITHM = "A256GCM"
_KEYS = frozenset({"fields", "instance", "kind", "payload", "request_id", "seq", "time", "v"})
_REQUIRED = ("fields", "instance", "kind", "seq", "time", "v")
_PAYLOAD_KEYS = frozenset({"alg", "key_id", "digest", "sha256"})


@dataclass(frozen=True)
class AuditEntry:
    """One parsed entry; ``payload`` is the commitment to the encrypted raw payload, if any."""

    seq: int
    time: str
    kind: str
    instance: str
    fields: Mapping[str, Any]
    request_id: str | None = None
    payload: Mapping[str, str] | None = None


def parse_entry(data: bytes) -> AuditEntry:
    """Parse and check the shape of one entry's bytes; :class:`EntryFormatError` if malformed."""
    try:
        doc = ijson.loads(data)  # I-JSON: an entry with a member twice is malformed, naming it
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EntryFormatError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise EntryFormatError("not a JSON object")
    if not doc.keys() <= _KEYS or any(k not in doc for k in _REQUIRED):
        raise EntryFormatError(f"members must be {sorted(_KEYS)} (payload, request_id optional)")
    seq, time, kind, instance, fields = doc["seq"], doc["time"], doc["kind"], doc["instance"], doc["fields"]
    if doc["v"] != ENTRY_VERSION:
        raise EntryFormatError(f"unknown entry version {doc['v']!r}")
    if type(seq) is not int or seq < 0:
        raise EntryFormatError("seq must be a non-negative integer")
    if not (isinstance(time, str) and isinstance(kind, str) and kind and isinstance(instance, str)):
        raise EntryFormatError("time, kind and instance must be strings")
    if not isinstance(fields, dict):
        raise EntryFormatError("fields must be an object")
    request_id = doc.get("request_id")
    if request_id is not None and not isinstance(request_id, str):
        raise EntryFormatError("request_id must be a string")
    payload = doc.get("payload")
    if payload is not None and (
        not isinstance(payload, dict)
        or payload.keys() != _PAYLOAD_KEYS
        or not all(isinstance(v, str) for v in payload.values())
    ):
        raise EntryFormatError(f"payload must be an object with exactly {sorted(_PAYLOAD_KEYS)}")
    return AuditEntry(seq, time, kind, instance, fields, request_id, payload)


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256 (the form payload commitments use)."""
    return hashlib.sha256(data).hexdigest()


def document_digest(document: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of JCS(the document without its ``seal`` member).

    The same bytes the seal's ``ow_jcs_sha256`` commits to, so the
    ``result.sealed`` entry names exactly the content the seal signed, and
    anyone who can verify the seal can recompute it.
    """
    body = {k: v for k, v in document.items() if k != "seal"}
    return "sha256:" + hashlib.sha256(canonicalize(body)).hexdigest()
