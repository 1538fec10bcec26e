"""SIGTERM while the agency is slow: every caller gets its request back, every attempt is audited, none is lost.

The tax agency answers after 8 s; the gateway's grace period is 1 s. The
callers waiting when SIGTERM arrives are answered ``202`` with their request
(accepted, left in the outbox) -- never a 500 -- the interrupted attempts are
in the audit log, and the next instance delivers each request exactly once.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from gateway.api.server import CANCEL_MARGIN_S
from gateway.store import make_store
from tests.burst import clearance, settle
from tests.helpers import WINDOW_KEY
from tests.procs import Process, free_port, start_sandboxes, wait_http, write_config
from tests.test_fault_crash import sandbox_http

GRACE_S = 1.0
CALLERS = 12
AGENCY_LATENCY_MS = 8000  # longer than grace + margin: without the interrupt, nobody is answered


def _gateway(tmp_path: Path, store_url: str, district, tax_url: str, port: int) -> Process:
    config = write_config(
        tmp_path / "onewindow.toml",
        store_url=store_url,
        district=district,
        server={"host": "127.0.0.1", "port": port, "request_deadline_s": 15.0},
        outbox={"tick_s": 0.1, "retry_initial_s": 0.2, "retry_max_s": 1.0, "shutdown_grace_s": GRACE_S},
        agencies={
            "tax": {"base_url": tax_url, "total_timeout_s": 12.0, "max_attempts": 1},
            # only the tax bureau is asked; every agency still needs an address to start
            **{
                code: {"base_url": "http://127.0.0.1:9"}
                for code in ("social_security", "medical", "housing_fund", "property")
            },
        },
    )
    return Process("gateway", ["serve", "--config", str(config)], tmp_path)


async def _post(session: aiohttp.ClientSession, base: str, n: int) -> tuple[int, str, dict]:
    headers = {"Authorization": f"Bearer {WINDOW_KEY}", "Idempotency-Key": f"shutdown-{n}"}
    async with session.post(f"{base}/v1/requests", json=clearance(n), headers=headers) as response:
        text = await response.text()
        return response.status, response.content_type, json.loads(text) if text else {}


@pytest.mark.slow
async def test_sigterm_during_slow_agency_calls_answers_202_audits_every_attempt_and_loses_nothing(
    store_url: str, district, tmp_path: Path
) -> None:
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    sandbox, urls = await start_sandboxes(tmp_path, "tax")
    tax_url = urls["tax"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gateway = _gateway(tmp_path, store_url, district, tax_url, port)
    store = make_store(store_url)
    try:
        await sandbox_http(tax_url, "PUT", "/_sandbox/faults", {"latency_ms": AGENCY_LATENCY_MS})
        await gateway.start()
        await wait_http(f"{base}/healthz", process=gateway)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            calls = [asyncio.create_task(_post(session, base, n)) for n in range(CALLERS)]
            await asyncio.sleep(0.5)  # every call now waits on the agency
            struck = time.monotonic()
            gateway.signal(signal.SIGTERM)
            answers = await asyncio.gather(*calls)
            exit_status = await gateway.wait(GRACE_S + CANCEL_MARGIN_S + 10)
        took = time.monotonic() - struck
        for status, content_type, body in answers:
            assert status == 202, (status, content_type, body)
            assert content_type == "application/json" and body["status"] == "accepted" and body["id"]
        assert exit_status == 0 and took < GRACE_S + CANCEL_MARGIN_S + 2, (exit_status, took)
        ids = {body["id"] for _, _, body in answers}
        assert len(ids) == CALLERS

        await store.open()
        stories: dict[str, list[dict]] = {rid: [] for rid in ids}
        rows = await store.read("SELECT entry FROM audit_entries") if backend == "sqlite" else None
        if rows is None:
            rows = await store.pool.fetch("SELECT entry FROM audit_entries")
        for row in rows:
            entry = json.loads(bytes(row[0]))
            if entry.get("request_id") in stories:
                stories[entry["request_id"]].append(entry)
        for rid, story in stories.items():
            kinds = [e["kind"] for e in story]
            assert "request.accepted" in kinds and "request.interrupted" in kinds, (rid, kinds)
            attempts = [e for e in story if e["kind"] == "agency.attempt"]
            assert [a["fields"]["outcome"] for a in attempts] == ["interrupted"], (rid, attempts)
        outbox = {row.request_id for row in await store.list_outbox(limit=100)}
        assert ids <= outbox, "an interrupted request is not in the outbox"
        assert all(row.claimed_by is None for row in await store.list_outbox(limit=100)), "a lease was kept"

        await sandbox_http(tax_url, "PUT", "/_sandbox/faults", {"latency_ms": 0})
        await gateway.start()
        await wait_http(f"{base}/healthz", process=gateway)
        _, statuses = await settle(store, timeout_s=60)
        assert {rid: statuses[rid] for rid in ids} == dict.fromkeys(ids, "completed")
        books = await sandbox_http(tax_url, "GET", "/_sandbox/stats")
        assert books["acted_more_than_once"] == [] and books["distinct_keys"] == CALLERS
    finally:
        await store.close()
        await gateway.stop()
        await sandbox.stop()
