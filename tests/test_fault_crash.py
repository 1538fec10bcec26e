"""Fault suite, gateway side: ``kill -9`` and SIGTERM of real gateway processes in the middle of a burst.

The gateway runs as ``onewindow serve --config FILE`` and the tax sandbox as
``onewindow sandbox run tax`` -- separate processes, so the agency's books
survive the gateway's death. A burst of a few hundred clients retries with
its idempotency keys (connection errors, 409, 5xx; bounded) while one
gateway is killed and restarted. Afterwards: every key has a final status
(none lost), no request was acted on twice by the agency or created twice
for one key (none done twice), and every key still answers with its first
request id. The figures, and the outbox's recovery time after the restart,
are printed (``-s``) and in the run's summary.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from gateway.api.server import CANCEL_MARGIN_S
from gateway.store import make_store
from tests.burst import Books, burst, dead_letter_reasons, replay_all, settle
from tests.procs import Process, free_port, start_sandboxes, wait_http, write_config

REQUEST_DEADLINE_S = 3.0  # an intake call's lease is this + 5 s: how long a dead process's keys stay "in flight"
GRACE_S = 1.0
FAULTS = {"latency_ms": 20, "delay_after_submit_s": 0.2}  # acts, then answers 0.2 s later: a window to die in


async def sandbox_http(url: str, method: str, path: str, body: dict | None = None) -> dict:
    async with aiohttp.ClientSession() as session, session.request(method, url + path, json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def gateway_process(tmp_path: Path, name: str, store_url: str, district, tax_url: str, port: int) -> Process:
    config = write_config(
        tmp_path / f"{name}.toml",
        store_url=store_url,
        district=district,
        server={"host": "127.0.0.1", "port": port, "request_deadline_s": REQUEST_DEADLINE_S},
        outbox={"tick_s": 0.1, "retry_initial_s": 0.2, "retry_max_s": 1.0, "shutdown_grace_s": GRACE_S},
        agencies={
            "tax": {
                "base_url": tax_url,
                "total_timeout_s": 2.5,
                "max_attempts": 2,
                "backoff_initial_s": 0.05,
                "breaker_reset_s": 1.0,
            },
            # the burst asks the tax bureau only; every agency still needs an address to start
            **{
                code: {"base_url": "http://127.0.0.1:9"}
                for code in ("social_security", "medical", "housing_fund", "property")
            },
        },
    )
    return Process(name, ["serve", "--config", str(config)], tmp_path)


async def run_crash(
    scenario: str,
    tmp_path: Path,
    store_url: str,
    district,
    *,
    instances: int,
    requests: int,
    how: signal.Signals,
    faults: dict | None = None,
) -> Books:
    """Start the gateways, burst, hit gateway 0 with ``how`` a third of the way in, restart it, check the books."""
    sandbox, urls = await start_sandboxes(tmp_path, "tax")
    tax_url = urls["tax"]
    ports = [free_port() for _ in range(instances)]
    gateways = [gateway_process(tmp_path, f"gw{i}", store_url, district, tax_url, port) for i, port in enumerate(ports)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    store = make_store(store_url)
    timeline: dict[str, float] = {}
    try:
        await sandbox_http(tax_url, "PUT", "/_sandbox/faults", faults or FAULTS)
        for gw, base in zip(gateways, bases, strict=True):
            await gw.start()
            await wait_http(f"{base}/healthz", process=gw)
        victim = gateways[0]

        async def strike() -> None:
            timeline["struck"] = time.monotonic()
            victim.signal(how)
            code = await victim.wait(GRACE_S + CANCEL_MARGIN_S + 10)
            timeline["exited"] = time.monotonic()
            timeline["exit_status"] = code
            await asyncio.sleep(0.5)  # clients meet a closed port meanwhile
            timeline["restarted"] = time.monotonic()
            await victim.start()
            await wait_http(f"{bases[0]}/healthz", process=victim)
            timeline["ready"] = time.monotonic()

        struck: list[asyncio.Task[None]] = []

        def progress(answered: int) -> None:
            if answered == requests // 3 and not struck:
                struck.append(asyncio.create_task(strike()))

        async with asyncio.timeout(150):
            clients = await burst(bases, requests, concurrency=32, prefix=scenario.split()[0], on_progress=progress)
            await struck[0]
            await store.open()
            _, statuses = await settle(store, timeout_s=60)
        settled = time.monotonic()
        books = Books(
            scenario,
            clients,
            statuses,
            await sandbox_http(tax_url, "GET", "/_sandbox/stats"),
            reasons=await dead_letter_reasons(store, statuses),
            kills=1,
            recovery_s=settled - timeline["restarted"],
            extra={
                "restart_to_ready_s": round(timeline["ready"] - timeline["restarted"], 1),
                "clients_hit": sum(1 for c in clients if c.errors),
            },
        )
        assert books.extra["clients_hit"] > 0, "the strike met no client: the run proved nothing"
        if how is signal.SIGTERM:
            books.extra["sigterm_exit_s"] = round(timeline["exited"] - timeline["struck"], 2)
            books.extra["exit_status"] = int(timeline["exit_status"])
        books.replay_mismatches = await replay_all(bases, clients)
        return books
    finally:
        await store.close()
        for gw in gateways:
            await gw.stop()
        await sandbox.stop()


@pytest.mark.slow
async def test_kill_9_mid_burst_on_sqlite_loses_nothing_and_does_nothing_twice(district, tmp_path) -> None:
    books = await run_crash(
        "kill-9 sqlite, one gateway",
        tmp_path,
        f"sqlite:///{tmp_path}/onewindow.db",
        district,
        instances=1,
        requests=300,
        how=signal.SIGKILL,
    )
    books.check()


@pytest.mark.slow
@pytest.mark.postgres
async def test_kill_9_of_one_of_two_gateways_on_postgresql_loses_nothing_and_does_nothing_twice(
    district, tmp_path, pg_url
) -> None:
    books = await run_crash(
        "kill-9 postgresql, one of two gateways",
        tmp_path,
        pg_url,
        district,
        instances=2,
        requests=300,
        how=signal.SIGKILL,
    )
    books.check()


@pytest.mark.slow
async def test_sigterm_mid_burst_drains_within_its_deadline_and_loses_nothing(district, tmp_path) -> None:
    books = await run_crash(
        "sigterm sqlite, one gateway",
        tmp_path,
        f"sqlite:///{tmp_path}/onewindow.db",
        district,
        instances=1,
        requests=200,
        how=signal.SIGTERM,
        faults={**FAULTS, "stall_rate": 0.1, "stall_seconds": 2.0},  # some calls outlast the grace period
    )
    books.check()
    assert books.extra["exit_status"] == 0
    assert books.extra["sigterm_exit_s"] <= GRACE_S + CANCEL_MARGIN_S + 2.0
