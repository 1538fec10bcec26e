"""Administrative acts in the audit log: seal changes, outbox interventions by an operator.

Commands run outside the gateway process, so they append straight to the
configured store's audit log (one small transaction, same lock as the
gateway's appenders: the entry lands in the one sequence), chained with the
district audit secret like every entry, after checking the log from its
latest signed checkpoint -- a damaged log records nothing, so the act is not
done. The entry's ``instance`` is ``cli:<user>@<host>``; the next
checkpoint, signed by a running gateway or ``onewindow audit checkpoint``,
covers it.
"""

from __future__ import annotations

from typing import Any

from gateway.audit.entries import prepare_entry
from gateway.audit.setup import cli_instance, open_store
from gateway.config import Settings
from gateway.observability.logs import get_logger


async def record_admin_act(settings: Settings, kind: str, **fields: Any) -> int | None:
    """Record the administrative act ``admin.<kind>`` with ``fields`` (masked like every entry).

    Returns the entry's sequence number in the audit log; with ``[audit]
    enabled = false`` the act goes to the structured log instead and the
    result is None. A failure to write the audit log propagates (a damaged
    log: :class:`~gateway.errors.AuditUnavailable`): an act that cannot be
    recorded is not done.

    Example (the outbox command after an operator retries a dead letter)::

        await record_admin_act(settings, "outbox_retry", request_id=rid, by="ops-li", reason="税务系统已恢复")
    """
    kind = kind if kind.startswith("admin.") else f"admin.{kind}"
    if not settings.audit.enabled:
        get_logger(component="admin").info(kind, **fields)
        return None
    prepared = prepare_entry(kind, fields, instance=cli_instance())
    async with open_store(settings, writing=True) as (_, audit):
        return await audit.append([prepared])
