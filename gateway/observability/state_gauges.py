"""Gauges of what an operator must renew or watch, read from the gateway's state when ``/metrics`` is scraped.

Seal certificates expire, the trust bundle's revocation list runs out at
its ``next_update``, an audit log that stops being checkpointed (or is
found damaged) stops proving anything, and a request passes its promised
due date without any event: each is a date or a state of the store, so it
is read at scrape time -- the same on every worker -- rather than counted
by one process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from gateway.errors import TrustBundleUnavailable
from gateway.personal_data.identifiers import today_in_china
from signing.audit.checkpoint import SignedCheckpoint
from signing.model import parse_time

DAY_S = 86400.0


@dataclass(eq=False)  # a collector is registered by identity: it must stay hashable
class StateSnapshot:
    """One reading of the seals, the trust bundle and the audit log (a one-shot collector)."""

    seal_days: list[tuple[str, str, str, float]] = field(default_factory=list)  # number, office, kind, days left
    bundle_next_update_s: float | None = None  # seconds until the bundle's next_update (negative: past)
    checkpoint_age_s: float | None = None  # seconds since the latest signed checkpoint
    audit_damaged: bool | None = None  # None: no audit log
    overdue: dict[tuple[str, str], int] = field(default_factory=dict)  # (office, item) -> requests past due_on

    def collect(self) -> Iterator[Metric]:
        seals = GaugeMetricFamily(
            "onewindow_seal_certificate_expiry_days",
            "Days until each usable seal of a configured office expires (negative: expired)",
            labels=["seal", "office", "kind"],
        )
        for number, office, kind, days in self.seal_days:
            seals.add_metric([number, office, kind], round(days, 3))
        yield seals
        available = GaugeMetricFamily(
            "onewindow_trust_bundle_available", "1 when a signed trust bundle of this district is there to hand out"
        )
        available.add_metric([], 0 if self.bundle_next_update_s is None else 1)
        yield available
        if self.bundle_next_update_s is not None:
            next_update = GaugeMetricFamily(
                "onewindow_trust_bundle_next_update_seconds",
                "Seconds until the trust bundle's next_update (negative: verifiers get TRY_LATER; re-export)",
            )
            next_update.add_metric([], round(self.bundle_next_update_s, 1))
            yield next_update
        if self.audit_damaged is not None:
            damaged = GaugeMetricFamily(
                "onewindow_audit_damaged", "1 when the audit log was found damaged and is closed (docs/audit.md)"
            )
            damaged.add_metric([], 1 if self.audit_damaged else 0)
            yield damaged
        overdue = GaugeMetricFamily(
            "onewindow_requests_overdue",
            "Requests not finished whose promised due date (办理时限) is before today in China Standard Time",
            labels=["office", "item"],
        )
        for (office, item), count in sorted(self.overdue.items()):
            overdue.add_metric([office, item], count)
        yield overdue
        if self.checkpoint_age_s is not None:
            age = GaugeMetricFamily(
                "onewindow_audit_last_checkpoint_age_seconds", "Seconds since the latest signed audit checkpoint"
            )
            age.add_metric([], round(self.checkpoint_age_s, 1))
            yield age


async def read_state(gateway: Any, now: datetime) -> StateSnapshot:
    """The snapshot for ``gateway``: its offices' seals, its published bundle, its audit log."""
    snapshot = StateSnapshot()
    snapshot.overdue = await gateway.store.count_overdue(today_in_china().isoformat())
    offices = set(gateway.settings.offices)
    for seal in gateway.sealer.trust_view().seals.values():
        if seal.office in offices and seal.usable_at(now):
            days = (seal.not_after - now).total_seconds() / DAY_S
            snapshot.seal_days.append((seal.number, seal.office, seal.kind.value, days))
    try:
        bundle = gateway.sealer.published_bundle().bundle
        snapshot.bundle_next_update_s = (parse_time(bundle.data["next_update"]) - now).total_seconds()
    except (TrustBundleUnavailable, KeyError, ValueError):
        snapshot.bundle_next_update_s = None
    audit = gateway.audit
    if audit is not None:
        snapshot.audit_damaged = not audit.sound
        latest = await audit.store.latest_checkpoint()
        if latest is not None:
            issued = SignedCheckpoint.from_dict(latest.signed).checkpoint.issued_at
            snapshot.checkpoint_age_s = max(0.0, (now - issued).total_seconds())
    return snapshot
