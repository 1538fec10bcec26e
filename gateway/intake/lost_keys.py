"""Retries of requests a restore lost: the same ``Idempotency-Key`` gets the same request id again.

After a restore and ``onewindow audit reconcile``, a request made after the
backup is gone from the store, but its audit entries (given back by the
witness) still hold the keyed digest of its caller's ``Idempotency-Key``
and of its envelope, and reconciling keeps both in the lost-request
register. A client retrying it -- the usual thing after a timeout or a
``503`` -- sends the same key: with the same body it resumes under its own
request id, so the agency, which deduplicates by that id, answers with what
it already did instead of acting a second time; with another body it is
the usual conflict (``idempotency-key-reused``).

The key's digest is keyed with the district audit secret (like every digest
in the log), over the caller and the key: the log never holds a caller's
key, and equal keys of two callers differ.
"""

from __future__ import annotations

from gateway.delivery.accepted import Envelope, stored_envelope
from gateway.observability.events import Events
from gateway.problems import IDEMPOTENCY_MISMATCH, ProblemError
from gateway.store import LostKey


def key_digest(events: Events, caller_id: str, key: str) -> str | None:
    """The keyed digest of a caller's ``Idempotency-Key`` (None where the audit log, and its secret, is off)."""
    return events.digest({"caller": caller_id, "idempotency_key": key}, request_id=None)


def same_body(events: Events, lost: LostKey, envelope: Envelope) -> str:
    """The lost request's id, when ``envelope`` is the body it was made with; else the reused-key problem."""
    if lost.request_digest != events.digest(stored_envelope(envelope), request_id=lost.request_id):
        raise ProblemError(
            IDEMPOTENCY_MISMATCH,
            "This Idempotency-Key was used with a different body.",
            "该幂等键已用于内容不同的请求。",
            original_request_id=lost.request_id,
        )
    return lost.request_id
