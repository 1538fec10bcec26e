"""The extranet client: retries, deadlines, timeouts and the circuit breaker."""

from __future__ import annotations

import time

import pytest

from gateway.agencies.breaker import BreakerState, CircuitBreaker, CircuitOpen
from gateway.agencies.extranet import Attempt, Extranet
from gateway.contract import AgencyProtocolError, AgencyTimeout, AgencyUnavailable, Completed
from gateway.sandbox import start_sandbox
from plugins.tax import sandbox as tax_sandbox
from plugins.tax.client import TaxAgency
from tests.helpers import ORGANISATION, deadline, intake, named, sample_settings, with_agency

QUERY = intake("tax.credit-grade", ORGANISATION, {"year": 2025})


@pytest.fixture
async def tax():
    running = await start_sandbox(tax_sandbox.spec())
    yield running
    await running.stop()


def extranet(running, **values) -> tuple[Extranet, list[Attempt]]:
    values.setdefault("backoff_initial_s", 0.01)
    values.setdefault("backoff_max_s", 0.05)
    settings = with_agency(sample_settings(), "tax", running.url, secrets=running.spec.config["secrets"], **values)
    client = Extranet(settings)
    seen: list[Attempt] = []
    client.observers.append(seen.append)
    return client, seen


async def call(client: Extranet, request=QUERY, seconds: float = 10.0):
    agency = named(TaxAgency)
    return await client.call(
        "tax",
        "submit",
        lambda c: agency.submit(request, c),
        dedupe_key=request.request_id,
        deadline=deadline(seconds),
        item=request.item,
    )


async def test_unavailable_is_retried_until_the_attempts_run_out(tax) -> None:
    tax.knobs.update({"maintenance": True})
    client, seen = extranet(tax, max_attempts=3)
    with pytest.raises(AgencyUnavailable):
        await call(client)
    await client.close()
    assert [a.number for a in seen] == [1, 2, 3]
    assert [a.will_retry for a in seen] == [True, True, False]


async def test_a_flaky_agency_succeeds_on_a_retry(tax) -> None:
    tax.knobs.update({"error_rate": 0.5, "seed": 3})
    client, seen = extranet(tax, max_attempts=6)
    outcome = await call(client)
    await client.close()
    assert isinstance(outcome, Completed)
    assert seen[-1].outcome == "ok"


async def test_protocol_errors_are_not_retried(tax) -> None:
    tax.knobs.update({"malformed_rate": 1.0})
    client, seen = extranet(tax, max_attempts=3)
    with pytest.raises(AgencyProtocolError):
        await call(client)
    await client.close()
    assert len(seen) == 1


async def test_a_stalled_agency_times_out_within_the_deadline(tax) -> None:
    tax.knobs.update({"stall_rate": 1.0, "stall_seconds": 30})
    client, seen = extranet(tax, max_attempts=5, total_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(AgencyTimeout):
        await call(client, seconds=1.0)
    await client.close()
    assert time.monotonic() - started < 1.5
    assert all(a.outcome == "AgencyTimeout" for a in seen)


async def test_a_reset_connection_is_agency_unavailable(tax) -> None:
    tax.knobs.update({"reset_rate": 1.0})
    client, seen = extranet(tax, max_attempts=2)
    with pytest.raises(AgencyUnavailable):
        await call(client)
    await client.close()
    assert len(seen) == 2


async def test_an_unreachable_agency_is_unavailable() -> None:
    settings = with_agency(
        sample_settings(), "tax", "http://127.0.0.1:9", max_attempts=1, secrets=tax_sandbox.spec().config["secrets"]
    )
    client = Extranet(settings)
    with pytest.raises(AgencyUnavailable):
        await call(client)
    await client.close()


async def test_the_breaker_opens_and_then_fails_fast(tax) -> None:
    tax.knobs.update({"maintenance": True})
    client, seen = extranet(tax, max_attempts=1, breaker_failures=2, breaker_reset_s=60)
    for _ in range(2):
        with pytest.raises(AgencyUnavailable):
            await call(client)
    assert client.breaker("tax").state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        await call(client)
    await client.close()
    assert len(seen) == 2  # the third call never reached the agency


def test_breaker_half_opens_lets_one_probe_through_and_closes_on_success() -> None:
    now = [0.0]
    breaker = CircuitBreaker("tax", failure_threshold=1, reset_after=10, clock=lambda: now[0])
    changes: list[str] = []
    breaker.listeners.append(lambda agency, state: changes.append(str(state)))
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    now[0] = 11
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # only one probe at a time
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert changes == ["open", "half_open", "closed"]


def test_a_failed_probe_opens_the_breaker_again() -> None:
    now = [0.0]
    breaker = CircuitBreaker("tax", failure_threshold=3, reset_after=10, clock=lambda: now[0])
    for _ in range(3):
        breaker.record_failure()
    now[0] = 10
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
