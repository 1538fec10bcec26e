"""Requests refused at intake (422 validation-failed), kept for the district report's refusal reasons.

A refused request is never recorded as a request, yet "what do applicants
most often bring wrong" is what an office needs to improve its one-time
notices (一次性告知). Each refusal keeps who sent it, for which office and
item, and its problems as ``path:code`` -- the path masked and cut like any
echo, never a value -- in the ``refusals`` table (migration 0011). Keeping
it is best effort: a store that cannot take the row does not change the
caller's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.callers.model import Caller
from gateway.observability.logs import get_logger
from gateway.problems import VALIDATION_FAILED, ProblemError, echo
from gateway.store import utcnow
from gateway.store.plain_sql import Tables

MAX_PROBLEMS_KEPT = 50
_log = get_logger(component="refusals")


def refusal_problems(problem: ProblemError) -> list[str]:
    """The ``path:code`` of each problem of a 422, paths masked and cut."""
    errors = problem.extensions.get("errors") or []
    found = [f"{echo(e.get('path', ''), 80)}:{echo(e.get('code', ''), 40)}" for e in errors if isinstance(e, Mapping)]
    return found[:MAX_PROBLEMS_KEPT]


async def keep_refusal(
    store: Any, caller: Caller, body: Mapping[str, Any], problem: ProblemError, *, request_id: str, offices: Any
) -> None:
    """Keep a 422 validation-failed answer to ``caller`` as a refusal (other problems are not refusals)."""
    if problem.kind is not VALIDATION_FAILED:
        return
    office = body.get("office")
    office = office if isinstance(office, str) and office in offices else caller.office.code
    item = problem.extensions.get("item")
    try:
        await Tables(store).write(
            [
                (
                    "INSERT INTO refusals (request_id, caller_id, office, channel, item, problems, refused_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [
                        request_id,
                        caller.id,
                        office,
                        caller.channel,
                        item if isinstance(item, str) else None,
                        refusal_problems(problem),
                        utcnow(),
                    ],
                )
            ]
        )
    except Exception:  # the answer matters more than the statistic
        _log.exception("refusal.not_kept", caller=caller.id)
