"""Prometheus metrics of one gateway: intake outcomes, agency calls, breakers, the outbox.

Counters and histograms are fed by what the gateway already reports -- its
events (the same ones the audit log records) and the extranet's attempt
observers -- so the data path carries no metrics code. Outbox depth, the
oldest row's age and the number of dead letters are read from the store when
``/metrics`` is scraped: they are shared state (on PostgreSQL shared by every
instance), not something one process counts.

Each gateway has its own :class:`CollectorRegistry`, so many gateways can run
in one process (the tests do). Under ``onewindow serve --workers N`` the
supervisor sets ``PROMETHEUS_MULTIPROC_DIR``: every worker writes its samples
to files there (prometheus_client's multiprocess mode) and whichever worker
answers a scrape of the shared port aggregates all of them, so one scrape
reports the whole instance rather than one random worker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.store import OutboxStats, Store, utcnow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}  # by the breaker state's value
AGENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)
# event kind -> the request outcome it stands for
FINAL_EVENTS = {
    "request.completed": "completed",
    "request.rejected": "rejected",
    "request.failed": "failed",
    "request.dead_lettered": "dead_letter",
    "validation.failed": "invalid",
    "authorisation.denied": "denied",
}
CALLBACK_EVENTS = {"callback.delivered": "delivered", "callback.failed": "failed", "callback.abandoned": "abandoned"}
OUTBOX_ACTIONS = ("submit", "poll", "callback")


def multiprocess_dir() -> str | None:
    """The shared sample directory when running as one of several workers, else None."""
    path = os.environ.get(MULTIPROC_ENV)
    return path if path and os.path.isdir(path) else None


class AgencyAttempt(Protocol):
    """What metrics read of one agency attempt (:class:`gateway.agencies.extranet.Attempt`).

    Observed, not imported: the agencies report to metrics, never the reverse.
    """

    agency: str
    operation: str
    outcome: str
    latency_s: float
    will_retry: bool


class StoreSnapshot:
    """Outbox and dead-letter gauges from one reading of the store (a one-shot collector)."""

    def __init__(self, stats: OutboxStats, now: datetime) -> None:
        self.stats = stats
        self.now = now

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("onewindow_outbox_depth", "Outbox rows waiting, per action", labels=["action"])
        due = GaugeMetricFamily("onewindow_outbox_due", "Outbox rows due now (not yet picked up)", labels=["action"])
        oldest = GaugeMetricFamily(
            "onewindow_outbox_oldest_age_seconds", "Age of the oldest outbox row, per action", labels=["action"]
        )
        for action in OUTBOX_ACTIONS:
            depth.add_metric([action], self.stats.depth.get(action, 0))
            due.add_metric([action], self.stats.due.get(action, 0))
            created = self.stats.oldest_created_at.get(action)
            oldest.add_metric([action], max(0.0, (self.now - created).total_seconds()) if created else 0.0)
        dead = GaugeMetricFamily("onewindow_dead_letters", "Requests given up on (status dead_letter)")
        dead.add_metric([], self.stats.dead_letters)
        yield from (depth, due, oldest, dead)


class GatewayMetrics:
    """The metrics of one gateway, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "onewindow_requests",
            "Requests by item and outcome: each final status reached, or refused at intake (invalid, denied)",
            ["item", "outcome"],
            registry=r,
        )
        self.accepted = Counter(
            "onewindow_requests_accepted", "Requests accepted at intake", ["item", "channel"], registry=r
        )
        self.deferred = Counter(
            "onewindow_requests_deferred", "Deferrals to the outbox (agency down)", ["item", "agency"], registry=r
        )
        self.pending = Counter(
            "onewindow_requests_pending", "Requests the agency took on with a ticket to poll", ["item"], registry=r
        )
        self.redeliveries = Counter(
            "onewindow_outbox_redeliveries", "Deferred requests sent again by the outbox", ["item"], registry=r
        )
        self.agency_seconds = Histogram(
            "onewindow_agency_call_duration_seconds",
            "Duration of each attempt to reach an agency",
            ["agency", "operation", "outcome"],
            buckets=AGENCY_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "onewindow_agency_retries", "Attempts followed by a retry", ["agency", "operation"], registry=r
        )
        self.circuit_state = Gauge(
            "onewindow_circuit_state",
            "Circuit breaker per agency: 0 closed, 1 half-open, 2 open (the worst of all workers)",
            ["agency"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.circuit_transitions = Counter(
            "onewindow_circuit_transitions", "Breaker state changes", ["agency", "state"], registry=r
        )
        self.callbacks = Counter("onewindow_callbacks", "Callback deliveries by outcome", ["outcome"], registry=r)
        self.keys_purged = Counter("onewindow_idempotency_keys_purged", "Expired idempotency keys deleted", registry=r)
        self.agency_auth_failures = Counter(
            "onewindow_agency_auth_failures",
            "Agency calls refused for our credentials (AgencyAuthError): a configuration to fix, not retried",
            ["agency"],
            registry=r,
        )
        self.ratings = Counter(
            "onewindow_ratings",
            "Ratings (好差评) passed on by intake systems, by office and grade; the bad ones open follow-ups",
            ["office", "grade"],
            registry=r,
        )
        self.authentication_refusals = Counter(
            "onewindow_authentication_refusals",
            "Requests refused at authentication, by reason: the problem type (signature-invalid, ...)",
            ["reason"],
            registry=r,
        )
        self.plugin_loop_blocks = Counter(
            "onewindow_plugin_loop_blocks",
            "Plugin calls that held the event loop over [plugins] block_threshold_ms",
            ["plugin", "hook"],
            registry=r,
        )
        self.plugin_faults = Counter(
            "onewindow_plugin_faults",
            "Plugin hooks or adapter calls that raised something unexpected or returned the wrong type",
            ["plugin", "hook"],
            registry=r,
        )
        self.audit_append_failures = Counter(
            "onewindow_audit_append_failures",
            "Audit appends that failed (the requests they recorded were refused or left in the outbox)",
            registry=r,
        )

    def attach(self, gateway: Any) -> None:
        """Listen to ``gateway``'s events, agency attempts and breakers."""
        gateway.events.sinks.append(self)
        gateway.extranet.observers.append(self.observe)
        watch = gateway.extranet.watch
        watch.on_hold.append(lambda hold: self.plugin_loop_blocks.labels(hold.plugin, hold.hook).inc())
        watch.on_fault.append(lambda fault: self.plugin_faults.labels(fault.plugin, fault.hook).inc())
        for code in gateway.registry.agencies:
            breaker = gateway.extranet.breaker(code)
            breaker.listeners.append(self.breaker_changed)
            self.circuit_state.labels(code).set(BREAKER_VALUES[breaker.state])

    def record(self, kind: str, fields: Mapping[str, Any]) -> None:
        """Event sink: count the events that stand for an outcome."""
        item = str(fields.get("item", ""))
        if kind in FINAL_EVENTS:
            self.requests.labels(item, FINAL_EVENTS[kind]).inc()
        elif kind == "request.accepted":
            self.accepted.labels(item, str(fields.get("channel", ""))).inc()
        elif kind == "request.deferred":
            self.deferred.labels(item, str(fields.get("agency", ""))).inc()
        elif kind == "request.pending":
            self.pending.labels(item).inc()
        elif kind == "outbox.redeliver":
            self.redeliveries.labels(item).inc()
        elif kind in CALLBACK_EVENTS:
            self.callbacks.labels(CALLBACK_EVENTS[kind]).inc()
        elif kind == "authentication.refused":
            self.authentication_refusals.labels(str(fields.get("reason", ""))).inc()
        elif kind == "idempotency.purged":
            self.keys_purged.inc(int(fields.get("keys", 0)))
        elif kind == "rating.recorded":
            self.ratings.labels(str(fields.get("office", "")), str(fields.get("grade", ""))).inc()

    def observe(self, attempt: AgencyAttempt) -> None:
        """Extranet observer: the latency of every attempt, and whether it was retried."""
        self.agency_seconds.labels(attempt.agency, attempt.operation, attempt.outcome).observe(attempt.latency_s)
        if attempt.will_retry:
            self.retries.labels(attempt.agency, attempt.operation).inc()
        if attempt.outcome == "AgencyAuthError":
            self.agency_auth_failures.labels(attempt.agency).inc()

    def audit_append_failed(self, entries: int) -> None:
        """Audit-log observer: one append transaction failed."""
        self.audit_append_failures.inc()

    def breaker_changed(self, agency: str, state: str) -> None:
        self.circuit_state.labels(agency).set(BREAKER_VALUES[state])
        self.circuit_transitions.labels(agency, str(state)).inc()

    async def exposition(self, store: Store, breakers: Mapping[str, Any], state: Any = None) -> bytes:
        """The text exposition: this gateway's (or every worker's) samples, the store's gauges and ``state``.

        ``state`` is a one-shot collector of scrape-time gauges
        (:class:`gateway.observability.state_gauges.StateSnapshot`).
        """
        for code, breaker in breakers.items():  # an open breaker turns half-open by the clock alone
            self.circuit_state.labels(code).set(BREAKER_VALUES[breaker.state])
        now = utcnow()
        snapshot = StoreSnapshot(await store.outbox_stats(now), now)
        shared = multiprocess_dir()
        extra = [snapshot] if state is None else [snapshot, state]
        if shared is None:
            return generate_latest(self.registry) + b"".join(generate_latest(c) for c in extra)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=shared)
        for collector in extra:
            registry.register(collector)
        return generate_latest(registry)
