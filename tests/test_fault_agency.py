"""Fault suite, agency side: flapping, down for a whole burst, a timeout after the agency acted.

Each test runs a burst of real HTTP clients against a gateway on loopback
and checks the books (tests/burst.py): every request completes exactly once
at the agency, eventually; none is lost; none is created twice.
"""

from __future__ import annotations

import time

import pytest

from tests.burst import Books, burst, dead_letter_reasons, replay_all, settle


def url_of(gw) -> str:
    return str(gw.client.make_url("")).rstrip("/")


async def books(scenario: str, gw, clients, **extra) -> Books:
    store = gw.gateway.store
    recovery_s, statuses = await settle(store, timeout_s=60)
    result = Books(
        scenario,
        clients,
        statuses,
        gw.sandboxes["tax"].ledger.stats(),
        reasons=await dead_letter_reasons(store, statuses),
        recovery_s=recovery_s,
        extra=extra,
    )
    result.replay_mismatches = await replay_all([url_of(gw)], clients)
    return result


@pytest.mark.slow
async def test_a_flapping_agency_completes_every_request_of_a_burst_exactly_once(start_gateway) -> None:
    gw = await start_gateway(
        agency_changes={
            "tax": {"max_attempts": 3, "backoff_initial_s": 0.05, "backoff_max_s": 0.2, "breaker_reset_s": 0.3}
        }
    )
    tax = gw.sandboxes["tax"]
    # The burst must outlast the first up period however fast the gateway is:
    # 150 requests, 24 at a time, each held 100 ms at the agency, take at
    # least 7 x 100 ms = 0.7 s, so some reach the agency while it is down.
    requests, concurrency, latency_s, period_s = 150, 24, 0.1, 0.4
    assert -(-requests // concurrency) * latency_s > period_s
    tax.knobs.update({"flap_period_s": period_s, "latency_ms": latency_s * 1000})
    clients = await burst([url_of(gw)], requests, concurrency=concurrency, prefix="flap")
    deferred = sum(1 for c in clients if c.status == 202)
    result = await books("agency flapping (0.4 s up / 0.4 s down)", gw, clients, answered_202=deferred)
    result.check()
    assert result.count("completed") == requests
    assert deferred > 0, "the agency never looked down during the burst: the test proved nothing"


@pytest.mark.slow
async def test_an_agency_down_for_the_whole_burst_stores_everything_and_completes_it_when_back(
    start_gateway,
) -> None:
    gw = await start_gateway(agency_changes={"tax": {"max_attempts": 2, "breaker_reset_s": 0.5}})
    tax = gw.sandboxes["tax"]
    tax.knobs.update({"maintenance": True})
    clients = await burst([url_of(gw)], 120, concurrency=24, prefix="down")
    assert {c.status for c in clients} == {202}, {c.status for c in clients}
    stored = await gw.gateway.store.list_requests(limit=1000)
    assert len(stored) == 120 and {str(r.status) for r in stored} == {"deferred"}
    outbox = await gw.gateway.store.list_outbox(limit=1000)
    assert sorted((e.request_id, e.action) for e in outbox) == sorted((r.id, "submit") for r in stored), outbox
    assert tax.ledger.stats()["effective_submissions"] == 0
    back = time.monotonic()
    tax.knobs.update({"maintenance": False})
    result = await books("agency down for the whole burst", gw, clients)
    result.extra["agency_back_to_all_settled_s"] = round(time.monotonic() - back, 1)
    result.check()
    assert result.count("completed") == 120


@pytest.mark.slow
async def test_a_timeout_after_the_agency_acted_is_retried_without_acting_twice(start_gateway) -> None:
    gw = await start_gateway(
        agency_changes={
            "tax": {"max_attempts": 3, "total_timeout_s": 0.4, "backoff_initial_s": 0.05, "breaker_failures": 1000}
        }
    )
    tax = gw.sandboxes["tax"]
    tax.knobs.update({"delay_after_submit_s": 1.0})  # acts at once, answers a second later: past our timeout
    clients = await burst([url_of(gw)], 30, concurrency=30, prefix="late")
    result = await books("timeout after the agency acted", gw, clients)
    result.check()
    assert result.count("completed") == 30
    stats = tax.ledger.stats()
    assert stats["duplicate_submissions"] >= 30, "no retry reached the agency: the test proved nothing"
