"""``GET /metrics``: Prometheus text exposition of requests, agency calls, breakers and the outbox."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from gateway.store import RequestStatus, utcnow
from tests.helpers import ORGANISATION, TOWN
from tests.test_store import record

QUERY = {
    "item": "tax.credit-grade",
    "applicant": ORGANISATION,
    "materials": {"year": 2025},
    "office": TOWN,
    "operator": "fz-window-01",
    "channel": "window",
}
CLEARANCE = {
    **QUERY,
    "item": "tax.clearance-certificate",
    "materials": {
        "reason": "注销登记",
        "contact_phone": "13805330123",
        "invoice_cancellation_proof": {"media_type": "application/pdf", "content_base64": "JVBERi0xLjQK"},
    },
}


async def scrape(gw) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await gw.client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_outcomes_latency_retries_breakers_and_the_outbox(start_gateway) -> None:
    gw = await start_gateway(
        agency_changes={
            "tax": {"max_attempts": 2, "backoff_initial_s": 0.01, "breaker_failures": 2, "breaker_reset_s": 60}
        }
    )
    assert (await gw.post(QUERY)).status == 201
    gw.sandboxes["tax"].knobs.update({"maintenance": True})
    assert (await gw.post(CLEARANCE)).status == 202
    now = utcnow()
    await gw.gateway.store.insert_request(record(status=RequestStatus.DEAD_LETTER, created_at=now, updated_at=now))

    samples = await scrape(gw)
    assert value(samples, "onewindow_requests_total", item="tax.credit-grade", outcome="completed") == 1
    assert value(samples, "onewindow_requests_accepted_total", item="tax.clearance-certificate", channel="window") == 1
    assert value(samples, "onewindow_requests_deferred_total", item="tax.clearance-certificate", agency="tax") >= 1
    ok = {"agency": "tax", "operation": "submit", "outcome": "ok"}
    down = {**ok, "outcome": "AgencyUnavailable"}
    assert value(samples, "onewindow_agency_call_duration_seconds_count", **ok) == 1
    assert value(samples, "onewindow_agency_call_duration_seconds_count", **down) == 2
    assert value(samples, "onewindow_agency_call_duration_seconds_bucket", **ok, le="+Inf") == 1
    assert value(samples, "onewindow_agency_retries_total", agency="tax", operation="submit") == 1
    assert value(samples, "onewindow_circuit_state", agency="tax") == 2  # open
    assert value(samples, "onewindow_circuit_transitions_total", agency="tax", state="open") == 1
    assert value(samples, "onewindow_outbox_depth", action="submit") == 1
    assert value(samples, "onewindow_outbox_oldest_age_seconds", action="submit") > 0
    assert value(samples, "onewindow_outbox_depth", action="poll") == 0
    assert value(samples, "onewindow_dead_letters") == 1


async def test_the_breaker_gauge_turns_half_open_by_the_clock(start_gateway) -> None:
    gw = await start_gateway(
        agency_changes={"tax": {"max_attempts": 1, "breaker_failures": 1, "breaker_reset_s": 0.2}},
        outbox={"retry_initial_s": 30.0, "retry_max_s": 30.0},
    )
    gw.sandboxes["tax"].knobs.update({"maintenance": True})
    assert (await gw.post(CLEARANCE)).status == 202
    assert value(await scrape(gw), "onewindow_circuit_state", agency="tax") == 2
    await asyncio.sleep(0.3)
    assert value(await scrape(gw), "onewindow_circuit_state", agency="tax") == 1


async def test_each_gateway_counts_in_a_registry_of_its_own(start_gateway, tmp_path) -> None:
    first = await start_gateway(f"sqlite:///{tmp_path}/a.db")
    second = await start_gateway(f"sqlite:///{tmp_path}/b.db")
    assert (await first.post(QUERY)).status == 201
    assert value(await scrape(first), "onewindow_requests_total", item="tax.credit-grade", outcome="completed") == 1
    assert value(await scrape(second), "onewindow_requests_total", item="tax.credit-grade", outcome="completed") == 0


async def test_refusals_at_intake_are_counted_by_kind(gw) -> None:
    response = await gw.post({**QUERY, "materials": {}})
    assert response.status == 422
    response = await gw.post({**QUERY, "item": "tax.business-registration"}, key="sample-bank-outlet-key")
    assert response.status == 403
    samples = await scrape(gw)
    assert value(samples, "onewindow_requests_total", item="tax.credit-grade", outcome="invalid") == 1
    assert value(samples, "onewindow_requests_total", item="tax.business-registration", outcome="denied") == 1
