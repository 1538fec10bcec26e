"""What an event becomes in the audit log: masked fields, canonical bytes.

An entry is JCS (RFC 8785) JSON whose members sort as ``fields, instance,
kind, payload, request_id`` < ``seq, time, v``. Everything before ``seq`` is
known when the event happens, so it is encoded outside the append lock; the
appender only splices in the sequence number and time it assigns under the
lock (:func:`finish_entry`). The result is byte-identical to canonicalising
the whole object (a property test proves it), so a verifier needs no
knowledge of the trick.

Entries never hold personal data: what may be written, and how it is
masked, is :mod:`gateway.audit.fields`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.audit.fields import clean_fields, format_time, is_request_id, mask_text_value
from gateway.audit.payloads import PayloadCipher
from gateway.observability.events import PayloadDigests
from signing.jose.jcs import canonicalize

__all__ = ["PreparedEntry", "clean_fields", "finish_entry", "format_time", "prepare_entry"]


@dataclass(frozen=True, slots=True)
class PreparedEntry:
    """An entry encoded up to its ``seq``; ``payload`` is the encrypted raw payload, if kept."""

    prefix: bytes
    kind: str
    request_id: str | None
    payload: bytes | None = None


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
    digests: PayloadDigests | None = None,
    raw_digest: str | None = None,
) -> PreparedEntry:
    """Mask and encode one event; encrypt its raw payload when a payload key is configured.

    A ``request_id`` that is not one the gateway issued (the id inside a
    document someone asked to verify) is masked like text. The encrypted
    payload's commitment carries the keyed digest of ``raw`` (the same value
    as the event's own digest field) when ``digests`` has a key; ``raw_digest``
    is that digest when the caller took it already.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError("an audit entry needs a kind")
    values = dict(fields)
    request_id = values.pop("request_id", None)
    if request_id is not None:
        request_id = str(request_id)
        request_id = request_id if is_request_id(request_id) else mask_text_value(request_id)[:64]
    doc: dict[str, Any] = {"fields": clean_fields(values), "instance": instance, "kind": kind}
    blob = None
    if cipher is not None and raw is not None:
        digest = raw_digest if raw_digest is not None or digests is None else digests(raw, request_id=request_id)
        doc["payload"], blob = cipher.seal(kind, request_id, raw, digest=digest)
    if request_id:
        doc["request_id"] = request_id
    body = canonicalize(doc)
    return PreparedEntry(body[:-1], kind, request_id or None, blob)
