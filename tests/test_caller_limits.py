"""Per-caller limits: a rate limit and a concurrency limit, counted in the store so every instance agrees."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest

from gateway.config import ConfigError, load_settings
from gateway.config.limits import parse_rate_limit
from tests.test_outbox import CLEARANCE

CALLER = "fangzhen-window"
UNKNOWN_ID = "01J00000000000000000000000"  # a ULID no request has: a cheap authenticated read (404)


def limited(rate_limit: str = "", max_concurrent: int = 0, caller: str = CALLER) -> tuple[Any, ...]:
    """The sample callers, with ``caller`` limited."""
    callers = []
    for c in load_settings(environ={}).callers:
        if c.id == caller:
            rate = parse_rate_limit(rate_limit, "test") if rate_limit else None
            c = dataclasses.replace(c, rate_limit=rate, max_concurrent=max_concurrent)
        callers.append(c)
    return tuple(callers)


async def audited(store: Any, kind: str) -> int:
    """How many entries of ``kind`` the audit log holds."""
    sql = "SELECT count(*) FROM audit_entries WHERE kind = {}"
    if store.backend == "postgres":
        return int(await store.pool.fetchval(sql.format("$1"), kind))
    return int((await store.read_row(sql.format("?"), (kind,)))[0])


async def places_taken(store: Any, count: int) -> None:
    """Until ``count`` intake calls hold a place (at most 10 s)."""
    sql = "SELECT count(*) FROM caller_calls_in_flight"
    for _ in range(200):
        held = await store.pool.fetchval(sql) if store.backend == "postgres" else (await store.read_row(sql))[0]
        if held >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{held} calls in flight, not {count}")


async def read_burst(instances: list[Any], total: int) -> list[Any]:
    """``total`` authenticated reads at once, spread over ``instances``; their answers."""
    calls = [instances[i % len(instances)].get(f"/v1/requests/{UNKNOWN_ID}") for i in range(total)]
    return await asyncio.wait_for(asyncio.gather(*calls), timeout=60)


def test_a_rate_limit_is_read_from_its_configured_text() -> None:
    assert (parse_rate_limit("120/minute", "x").count, parse_rate_limit("120/minute", "x").window_s) == (120, 60)
    assert parse_rate_limit("30/10s", "x").window_s == 10
    assert parse_rate_limit("5000/hour", "x").window_s == 3600
    for wrong in ("120", "0/minute", "12/fortnight", "-1/second", "1/0s", "1/minute/2"):
        with pytest.raises(ConfigError, match=r"rate_limit|at least 1"):
            parse_rate_limit(wrong, "callers[0].rate_limit")


async def test_a_caller_past_its_rate_limit_gets_429_with_retry_after_audited_and_counted(
    store_url, start_gateway
) -> None:
    gw = await start_gateway(store_url, callers=limited("10/minute"))
    answers = await read_burst([gw], 30)
    statuses = [a.status for a in answers]
    assert statuses.count(404) == 10 and statuses.count(429) == 20
    refused = next(a for a in answers if a.status == 429)
    problem = await refused.json()
    assert problem["type"] == "/problems/caller-rate-limited" and problem["limit_value"] == "10/minute"
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    other = await gw.get(f"/v1/requests/{UNKNOWN_ID}", key="sample-mashang-window-key")
    assert other.status == 404  # another caller's own count
    assert await audited(gw.gateway.store, "caller.limited") == 20
    metrics = await (await gw.client.get("/metrics")).text()
    assert f'onewindow_caller_limited_total{{caller="{CALLER}",limit="rate"}} 20.0' in metrics


async def test_after_retry_after_the_caller_is_admitted_again(store_url, start_gateway) -> None:
    gw = await start_gateway(store_url, callers=limited("3/second"))
    statuses = [(await gw.get(f"/v1/requests/{UNKNOWN_ID}")).status for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    refused = await gw.get(f"/v1/requests/{UNKNOWN_ID}")
    await asyncio.sleep(float(refused.headers["Retry-After"]) + 0.05)
    assert (await gw.get(f"/v1/requests/{UNKNOWN_ID}")).status == 404


async def test_the_rate_limit_holds_across_two_instances_sharing_postgresql(pg_url, start_gateway) -> None:
    callers = limited("20/minute")
    a = await start_gateway(pg_url, callers=callers)
    b = await start_gateway(pg_url, callers=callers)
    started = time.monotonic()
    answers = await read_burst([a, b], 80)
    admitted = sum(1 for x in answers if x.status == 404)
    assert sum(1 for x in answers if x.status == 429) == 80 - admitted
    assert abs(admitted - 20) <= 2, f"{admitted} admitted for a limit of 20 per minute"  # within 10%
    both = {x.headers.get("X-Request-Id") is not None for x in answers}
    assert both == {True} and time.monotonic() - started < 60


async def test_a_caller_past_its_concurrency_limit_gets_429_and_its_places_come_back(store_url, start_gateway) -> None:
    gw = await start_gateway(store_url, callers=limited(max_concurrent=2))
    gw.sandboxes["tax"].knobs.update({"latency_ms": 1000})
    slow = [asyncio.create_task(gw.post(CLEARANCE, **{"Idempotency-Key": f"slow-{i}"})) for i in range(2)]
    await places_taken(gw.gateway.store, 2)
    third = await gw.post(CLEARANCE, **{"Idempotency-Key": "third"})
    assert third.status == 429 and third.headers["Retry-After"] == "1"
    problem = await third.json()
    assert problem["type"] == "/problems/caller-concurrency-limited" and problem["limit_value"] == 2
    assert [(await t).status for t in slow] == [201, 201]
    gw.sandboxes["tax"].knobs.update({"latency_ms": 0})
    again = await gw.post(CLEARANCE, **{"Idempotency-Key": "third"})
    assert again.status == 201  # nothing was done with the refused one: its key is free
    assert await audited(gw.gateway.store, "caller.limited") == 1


async def test_the_concurrency_limit_holds_across_two_instances_sharing_postgresql(pg_url, start_gateway) -> None:
    callers = limited(max_concurrent=2)
    a = await start_gateway(pg_url, callers=callers)
    tax = a.sandboxes["tax"]
    b = await start_gateway(pg_url, callers=callers, agency_changes={"tax": {"base_url": tax.url}})
    tax.knobs.update({"latency_ms": 1000})
    slow = [asyncio.create_task(gw.post(CLEARANCE, **{"Idempotency-Key": f"slow-{i}"})) for i, gw in enumerate((a, b))]
    await places_taken(a.gateway.store, 2)
    assert (await b.post(CLEARANCE, **{"Idempotency-Key": "third"})).status == 429
    assert [(await t).status for t in slow] == [201, 201]


async def test_a_stopping_instance_gives_back_the_places_of_its_calls(pg_url, start_gateway) -> None:
    gw = await start_gateway(pg_url, callers=limited(max_concurrent=1))
    limits = gw.gateway.limits
    assert await limits.counters.enter(CALLER, 1, "held-by-a-dead-call", gw.gateway.instance, 600)
    assert (await gw.post(CLEARANCE)).status == 429
    await limits.stop()
    assert (await gw.post(CLEARANCE)).status == 201
