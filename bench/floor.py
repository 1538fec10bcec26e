"""What the gateway's promises cost on their own: the floor under its CPU per request and added latency.

    .venv/bin/python bench/floor.py [--rounds 3] [--seconds 5] [--requests 3000]

Each part a synchronous ``tax.payment-record`` request cannot do without,
measured alone on this machine in one run, next to the whole gateway:

1. HTTP in and out: the bare forwarder of bench/gateway.py (aiohttp server,
   aiohttp client, the same signed call to the same stand-in bureau), its
   CPU per request at 32 connections and its p50 on one connection. The
   gateway in front of the same bureau, in alternating rounds. The
   forwarder runs on the event loop the gateway runs on by default
   (``server.event_loop``, uvloop), as the store and audit log part below
   does: the floor is what the gateway as built cannot do without.
2. The seal's signature: ``sign_digest`` of the default key type (ES384)
   and of ES256, in this process.
3. The store and the audit log of one request, durable as the gateway
   keeps them (SQLite, the gateway's own :class:`Store` and
   :class:`AuditLog`): the key claimed, the five audit events, the request
   and its outbox row written, ``durable()`` before the agency would hear
   of it, the sealed result (the one the gateway returned in this run)
   stored with the outbox row finished, the key finished, ``durable()``
   before the answer. CPU per request of the process (its flush thread
   included) with 32 requests at a time, and the time per request one at a
   time (two log flushes each).
4. The six JSON log lines a request writes, through the gateway's logging
   set-up (masking included) to ``/dev/null``.

The sum is what a request costs with nothing else done: no intake checks,
routing, plugin, retry, breaker, JWS assembly, digests, metrics or
middleware. Every part is bounded by count and time; figures go to stdout
as Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_procs import API_KEY, bench_script, drain, start_agency, start_forwarder, start_gateway

from gateway.api import event_loop
from gateway.audit.chain import EntryChain
from gateway.audit.log import AuditLog
from gateway.audit.store import audit_store_for
from gateway.config import load_settings
from gateway.config.audit import AuditSettings
from gateway.intake.request_ids import new_ulid
from gateway.observability.logs import configure_logging, get_logger
from gateway.store import make_store
from gateway.store.base import RequestRecord, RequestStatus, utcnow
from signing.keys.algorithms import ES256, ES384, KeyType

BENCH = bench_script("gateway")
AUDIT = bench_script("audit")
CPU_TARGET_MS, ADDED_P50_TARGET_MS = 0.6, 1.0  # issue #12
SIGNATURES = 2000
LOOP = load_settings(environ={}).event_loop  # the gateway's default: every part runs on it
ROUTE = {"path": "/v1/requests", "method": "POST"}  # bound to every line of a request by the middleware


# -- 1. HTTP: the forwarder and the gateway, alternating ---------------------------------


def sealed_answer(url: str) -> dict[str, Any]:
    """One answer of the gateway to the benchmark's request: its sealed result, to store in part 3."""
    request = urllib.request.Request(
        url + "/v1/requests",
        data=BENCH.BODY.encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {API_KEY}",
            "Idempotency-Key": uuid.uuid4().hex,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


# -- 2. the signature --------------------------------------------------------------------


def signature_ms(key_type: KeyType, count: int) -> float:
    """CPU per ``sign_digest`` of ``key_type`` in this process (the gateway's own call)."""
    key = key_type.generate()
    digest = hashlib.new(key_type.hash_name, os.urandom(64)).digest()
    for _ in range(20):
        key_type.sign_digest(key, digest)
    started = time.process_time()
    for _ in range(count):
        key_type.sign_digest(key, digest)
    return (time.process_time() - started) * 1000 / count


# -- 3. the store and the audit log ------------------------------------------------------


def _events(request_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The five events of a synchronous request, with the fields the gateway gives them (bench/audit.py)."""
    return [(kind, {"request_id": request_id, **fields}) for kind, fields in AUDIT.REQUEST_EVENTS]


async def store_and_audit(url: str, answer: dict[str, Any], requests: int, concurrent: int) -> tuple[float, float]:
    """CPU ms per request of this process and wall ms per request, ``concurrent`` requests at a time."""
    store = make_store(url)
    await store.open()
    audit = AuditLog(
        audit_store_for(store, EntryChain(os.urandom(32))),
        settings=AuditSettings(),
        log_id="onewindow-audit/370303",
        instance="floor-1",
    )
    await audit.start()
    envelope = json.loads(BENCH.BODY)
    result = {"document": answer["result"]}  # as the settling move stores it
    todo = [requests]

    async def one() -> None:
        request_id, key, now = new_ulid(), uuid.uuid4().hex, utcnow()
        accepted, attempt, sealed, completed, sent = _events(request_id)
        await store.claim_idempotency_key(
            "fangzhen-window",
            key,
            body_digest="sha256:" + "5e" * 32,
            request_id=request_id,
            now=now,
            expires_at=now + timedelta(hours=24),
            lease_until=now + timedelta(seconds=60),
        )
        await audit.append(*accepted, raw=envelope)
        record = RequestRecord(
            id=request_id,
            caller_id="fangzhen-window",
            item="tax.payment-record",
            agency="tax",
            office="370303105000",
            operator="fz-window-01",
            channel="window",
            status=RequestStatus.ACCEPTED,
            envelope=envelope,
            created_at=now,
            updated_at=now,
            due_on="2026-12-11",
        )
        await store.accept_request(
            record, claimed_by="floor-1", lease_until=now + timedelta(seconds=60), expires_at=now + timedelta(hours=72)
        )
        await store.durable()  # the agency hears of it now
        await audit.append(*attempt)
        await store.move_request_finishing(
            request_id,
            "submit",
            expect=(RequestStatus.ACCEPTED,),
            status=RequestStatus.COMPLETED,
            attempts=1,
            agency_reference="TAX-1",
            result=result,
            error=None,
            finished_at=utcnow(),
            ticket=None,
        )
        done = [audit.enqueue(*sealed), audit.enqueue(*completed, raw=answer["result"])]  # together, as Events.emit_all
        await asyncio.gather(*done)
        kept = {"body": {"id": request_id}, "headers": {"Location": f"/v1/requests/{request_id}"}}
        await store.finish_idempotency_key("fangzhen-window", key, status_code=201, response=kept, retryable=False)
        await audit.append(*sent)
        await store.durable()  # the answer leaves now

    async def client() -> None:
        while todo[0] > 0:
            todo[0] -= 1
            await one()

    try:
        await one()  # warm
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrent)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await _check(store, requests + 1)
    finally:
        await audit.close()
        await store.close()
    return cpu * 1000 / requests, wall * 1000 / requests


async def _check(store: Any, requests: int) -> None:
    """Refuse figures from a run that did not do the work: every request completed, five entries each."""
    completed = (await store.read_one("SELECT count(*) FROM requests WHERE status = 'completed'", tuples=True))[0]
    entries = (await store.read_one("SELECT count(*) FROM audit_entries", tuples=True))[0]
    if completed != requests or entries != 5 * requests:
        raise SystemExit(f"bench/floor.py: {completed} of {requests} requests completed, {entries} audit entries")


# -- 4. log lines ------------------------------------------------------------------------


def log_lines_ms(answer: dict[str, Any], requests: int) -> float:
    """CPU per request of the six lines a request logs, through the gateway's logging set-up."""
    request_id = answer["id"]
    events = _events(request_id)
    lines = [
        ("events", *events[0]),
        (
            "delivery",
            "tax.submit",
            {
                "request_id": request_id,
                "item": "tax.payment-record",
                "agency": "tax",
                "attempt": 1,
                "service": "payment-records/query",
            },
        ),
        *(("events", kind, fields) for kind, fields in events[1:]),
    ]
    with open(os.devnull, "w") as sink:
        configure_logging("info", stream=sink)
        loggers = {name: get_logger(component=name) for name in ("events", "delivery")}
        try:
            started = time.process_time()
            for _ in range(requests):
                for component, kind, fields in lines:
                    loggers[component].info(kind, **{**ROUTE, **fields})
            return (time.process_time() - started) * 1000 / requests
        finally:
            configure_logging("info")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating wrk rounds (forwarder, gateway)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--requests", type=int, default=3000, help="requests per in-process part")
    args = parser.parse_args()
    BENCH.ensure_tools()
    rounds, seconds, requests = max(1, min(args.rounds, 10)), max(1.0, min(args.seconds, 60.0)), args.requests
    requests = max(100, min(requests, 20000))
    with tempfile.TemporaryDirectory(prefix="onewindow-floor-") as tmp:
        script = Path(tmp, "post.lua")
        script.write_text(BENCH.LUA % {"body": BENCH.BODY, "key": API_KEY})
        processes = []
        try:
            agency, agency_url = start_agency()
            forwarder, forwarder_url = start_forwarder(agency_url, 20, event_loop=LOOP)
            gateway, gateway_url = start_gateway(Path(tmp, "gw"), agency_url, "sqlite:///var/onewindow.db", pool=20)
            processes = [agency, forwarder, gateway]
            for process in processes:
                drain(process)
            base = BENCH.Target("bare forwarder", forwarder, forwarder_url)
            whole = BENCH.Target("gateway, SQLite, 1 process", gateway, gateway_url)
            print("# HTTP: the forwarder and the gateway, alternating", file=sys.stderr, flush=True)
            BENCH.round_robin([base, whole], script, rounds, seconds, 32)
            answer = sealed_answer(gateway_url)
        finally:
            for process in processes:
                process.stop()
        print("# the signature, the store and audit log, log lines", file=sys.stderr, flush=True)
        es384, es256 = signature_ms(ES384, SIGNATURES), signature_ms(ES256, SIGNATURES)
        one_by_one = max(requests // 4, 100)  # each waits for two flushes of its own
        loaded = event_loop.run(store_and_audit(f"sqlite:///{tmp}/loaded.db", answer, requests, 32), event_loop=LOOP)
        alone = event_loop.run(store_and_audit(f"sqlite:///{tmp}/alone.db", answer, one_by_one, 1), event_loop=LOOP)
        lines = log_lines_ms(answer, requests)

    http_cpu, http_p50 = base.median("loaded", "cpu_ms"), base.median("alone", "p50_ms")
    floor_cpu = http_cpu + es384 + loaded[0] + lines
    gateway_cpu, gateway_p50 = whole.median("loaded", "cpu_ms"), whole.median("alone", "p50_ms")
    size = len(json.dumps(answer["result"], ensure_ascii=False).encode())
    print(f"#### What a request cannot do without ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print(f"{os.cpu_count()} CPUs; wrk {rounds} alternating rounds of {seconds:g} s, medians. In this process:")
    print(
        f"{SIGNATURES:,} signatures of each type; store and audit log {requests:,} requests 32 at a time, "
        f"{one_by_one:,} one at a time; log lines {requests:,} requests' worth. The stored result is the "
        f"gateway's own answer ({size:,} bytes).\n"
    )
    print("| part | CPU per request, 32 at a time | time per request, one at a time |")
    print("|---|---:|---:|")
    print(f"| HTTP in and out (the bare forwarder) | {http_cpu:.3f} ms | p50 {http_p50:.2f} ms |")
    print(f"| the seal's signature, ES384 (ES256: {es256:.3f} ms) | {es384:.3f} ms | {es384:.3f} ms |")
    print(f"| store and audit log, durable (two flushes) | {loaded[0]:.3f} ms | {alone[1]:.2f} ms |")
    print(f"| six log lines | {lines:.3f} ms | {lines:.3f} ms |")
    alone_floor = http_p50 + es384 + alone[1] + lines
    added = alone_floor - http_p50
    print(f"| **sum: the floor** | **{floor_cpu:.2f} ms** | **p50 {alone_floor:.2f} ms ({added:.2f} added)** |")
    print(
        f"| the gateway, same run | {gateway_cpu:.2f} ms ({gateway_cpu / floor_cpu:.1f}× the floor) | "
        f"p50 {gateway_p50:.2f} ms ({gateway_p50 - http_p50:.2f} added) |"
    )
    print(f"| issue #12 target | {CPU_TARGET_MS} ms | {ADDED_P50_TARGET_MS} ms added |")
    print(
        f"\nThe forwarder's medians: {statistics.median(r.rps for r in base.loaded):,.0f} req/s; the gateway's: "
        f"{statistics.median(r.rps for r in whole.loaded):,.0f} req/s."
    )


if __name__ == "__main__":
    main()
