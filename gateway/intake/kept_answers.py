"""What an ``Idempotency-Key`` keeps of the answer it was given, and what a retry hears from it.

A retry of a call that created a request hears the request as it stands now
(what ``GET /v1/requests/{id}`` says), never the first answer again: so the
key keeps the request's id and headers only, not the request's view with its
sealed result -- a copy of several kilobytes of personal data written a
second time on every call, for nothing. Any other answer (a problem: ``409``,
``5xx``) is small and kept whole, as it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.delivery.results import Answer
from gateway.errors import StoreError


def is_request_answer(body: Mapping[str, Any] | None, request_id: str) -> bool:
    """The answer describes the request made under the key (rather than a problem with the call)."""
    return body is not None and body.get("id") == request_id


def kept_answer(answer: Answer, request_id: str) -> dict[str, Any]:
    """The answer as the key keeps it: a request's id and headers, or a problem whole."""
    body = {"id": request_id} if is_request_answer(answer.body, request_id) else answer.body
    return {"body": body, "headers": answer.headers}


def missing_request(request_id: str) -> StoreError:
    """A key names a request the store no longer holds: nothing true can be said of it."""
    return StoreError(f"request {request_id}, answered under this Idempotency-Key, is missing from the store")
