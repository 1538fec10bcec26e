"""Audit-log benchmark: durable appends, gateway throughput with the log on and off, verify of 1M entries.

    .venv/bin/python bench/audit.py [--seconds 4] [--entries 1000000] [--entry-cpu 10000] [--requests 3000]
        [--skip-gateway] [--skip-verify]

1. Durable appends/s through the group-committing appender (64 concurrent
   producers, each ``append`` returning only once committed), against the raw
   rate of single-row insert transactions on the same database (SQLite with
   the store's WAL + synchronous=FULL; PostgreSQL when reachable).
   Then the CPU each entry costs the event loop on SQLite, where appends are
   units of work on the loop's own connection: a request's five events
   appended ``--entry-cpu`` times, back to back and as 32 concurrent
   requests (each waiting for ``durable()``), with the head reads and
   statements per entry.
2. Gateway throughput over real HTTP against the tax sandbox: the gateway in
   its own process, the client and the sandbox in this one; log off, on,
   off, on; best of each.
3. ``audit verify`` of ``--entries`` entries generated straight into a SQLite
   store in a temp dir (through the real append and checkpoint code), plus
   proof generation on that log.

Every part is bounded by count and time; figures go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from gateway.audit.chain import EntryChain  # noqa: E402
from gateway.audit.entries import PreparedEntry, prepare_entry  # noqa: E402
from gateway.audit.log import AuditLog  # noqa: E402
from gateway.audit.proofs import prove_inclusion  # noqa: E402
from gateway.audit.store import audit_store_for  # noqa: E402
from gateway.audit.verify import verify_store  # noqa: E402
from gateway.config.audit import AuditSettings  # noqa: E402
from gateway.observability.logs import configure_logging  # noqa: E402
from gateway.store import make_store  # noqa: E402
from signing.audit.checkpoint import SignedCheckpoint, SoftwareSigner  # noqa: E402
from signing.audit.merkle import verify_inclusion  # noqa: E402

PG_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
LOG_ID = "onewindow-audit/370303"
PRODUCERS = 64
AUDIT_OPTIONS = os.environ.get("BENCH_AUDIT_OPTIONS", "{}")  # e.g. '{"batch_window_ms": 0.5}' to try settings
CHAIN = EntryChain(os.urandom(32))  # the chain key a district audit secret would give


def fields(i: int) -> dict[str, Any]:
    """An ``agency.attempt``-sized event (the commonest kind)."""
    return {
        "request_id": f"01JBENCH{i:018d}",
        "agency": "tax",
        "operation": "submit",
        "attempt": 1,
        "latency_ms": 12.5,
        "outcome": "ok",
        "will_retry": False,
        "item": "tax.payment-record",
    }


# -- 1. appends ---------------------------------------------------------------------------


async def raw_inserts(url: str, seconds: float, concurrent: int) -> float:
    """Single-row insert transactions per second, each made durable (``store.durable()``) before the next.

    The store shares commits and flushes between concurrent writers (group
    commit on both backends), as it does for the gateway's own writes.
    """
    store = make_store(url)
    await store.open()
    payload = os.urandom(300)
    try:
        if store.backend == "sqlite":
            await store.db.execute("CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, data BLOB)")

            async def one(i: int) -> None:
                async with store.transaction() as db:
                    await db.execute("INSERT INTO bench_raw (data) VALUES (?)", (payload,))
                await store.durable()
        else:
            await store.pool.execute("CREATE TABLE IF NOT EXISTS bench_raw (id BIGSERIAL PRIMARY KEY, data BYTEA)")

            async def one(i: int) -> None:
                await store.pool.execute("INSERT INTO bench_raw (data) VALUES ($1)", payload)
                await store.durable()

        return await _rate(one, seconds, concurrent)
    finally:
        await store.close()


async def audit_appends(url: str, seconds: float) -> tuple[float, float]:
    """Durable appends per second through the appender; and the mean batch size."""
    store = make_store(url)
    await store.open()
    signer = SoftwareSigner(Ed25519PrivateKey.generate())
    log = AuditLog(
        audit_store_for(store, CHAIN), settings=AuditSettings(), log_id=LOG_ID, instance="bench", signer=signer
    )
    await log.start()
    try:

        async def durable_append(i: int) -> None:
            await log.append("agency.attempt", fields(i))
            await log.store.durable()  # on disk, as before any answer of the gateway's

        rate = await _rate(durable_append, seconds, PRODUCERS)
        return rate, log.appended / max(log.batches, 1)
    finally:
        await log.close()
        await store.close()


async def _rate(op: Any, seconds: float, concurrent: int) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        i = w
        while time.perf_counter() < stop:
            await op(i)
            done += 1
            i += concurrent

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrent)))
    return done / (time.perf_counter() - started)


async def pg_reachable() -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_URL, timeout=3)
    except Exception:
        return False
    await conn.close()
    return True


async def bench_appends(seconds: float) -> None:
    print("\n## durable appends/s vs durable single-row insert transactions/s")
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("SQLite", f"sqlite:///{tmp}/raw.db", f"sqlite:///{tmp}/audit.db")]
        schema = f"bench_{os.getpid()}"
        if await pg_reachable():
            urls.append(("PostgreSQL", f"{PG_URL}?schema={schema}_raw", f"{PG_URL}?schema={schema}_audit"))
        print(
            "| database | raw inserts/s, 1 client | raw inserts/s, 64 concurrent | audit appends/s, 64 concurrent | "
            "entries per batch | appends / raw (64) |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        try:
            for name, raw_url, audit_url in urls:
                raw_one = await raw_inserts(raw_url, seconds, 1)
                raw_many = await raw_inserts(raw_url, seconds, PRODUCERS)
                appends, per_batch = await audit_appends(audit_url, seconds)
                print(
                    f"| {name} | {raw_one:,.0f} | {raw_many:,.0f} | {appends:,.0f} | {per_batch:.0f} | "
                    f"{appends / raw_many:.1f}× |"
                )
        finally:
            if len(urls) > 1:
                import asyncpg

                conn = await asyncpg.connect(PG_URL)
                for suffix in ("raw", "audit"):
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_{suffix}" CASCADE')
                await conn.close()


# -- 1b. CPU per entry on SQLite's shared connection --------------------------------------

REQUEST_EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "request.accepted",
        {
            "caller": "fangzhen-window",
            "office": "370303105000",
            "operator": "fz-window-01",
            "channel": "window",
            "item": "tax.payment-record",
            "request_digest": "hmac-sha256:" + "a3" * 32,
            "pledge": False,
            "idempotency_key_digest": "hmac-sha256:" + "27" * 32,
        },
    ),
    (
        "agency.attempt",
        {
            "agency": "tax",
            "operation": "submit",
            "attempt": 1,
            "latency_ms": 0.6,
            "outcome": "ok",
            "error": None,
            "will_retry": False,
        },
    ),
    (
        "result.sealed",
        {"item": "tax.payment-record", "seal_number": "370303-BM-0001", "document_digest": "sha256:" + "41" * 32},
    ),
    ("request.completed", {"item": "tax.payment-record", "result_digest": "hmac-sha256:" + "08" * 32}),
    ("response.sent", {"path": "/v1/requests", "status": 201}),
]
"""The five events a synchronous tax.payment-record request appends (as the gateway sends them)."""


async def entry_cpu(url: str, entries: int, concurrent: int, trace: bool) -> tuple[float, Counter[str]]:
    """CPU µs per entry appended through :class:`AuditLog` on SQLite (shared commits), and the statements run.

    ``concurrent`` requests at a time, each appending its five events and then
    waiting for ``durable()`` as the gateway does before answering; 1 runs them
    back to back in one open transaction.
    """
    store = make_store(url)
    await store.open()
    log = AuditLog(audit_store_for(store, CHAIN), settings=AuditSettings(), log_id=LOG_ID, instance="bench-host-1234")
    await log.start()
    statements: Counter[str] = Counter()
    try:
        todo = [entries // len(REQUEST_EVENTS)]

        async def request(n: int) -> None:
            for kind, event in REQUEST_EVENTS:
                await log.append(kind, {"request_id": f"01JBENCH{n:018d}", **event})

        async def client() -> None:
            while todo[0] > 0:
                todo[0] -= 1
                await request(todo[0])
                await store.durable()

        await request(0)  # warm
        await store.durable()
        if trace:
            store.writer.raw.set_trace_callback(lambda sql: statements.update([_statement(sql)]))
        started = time.process_time()
        if concurrent == 1:
            while todo[0] > 0:
                todo[0] -= 1
                await request(todo[0])
        else:
            await asyncio.gather(*(client() for _ in range(concurrent)))
        cpu = time.process_time() - started
        store.writer.raw.set_trace_callback(None)
    finally:
        await log.close()
        await store.close()
    return cpu / entries * 1e6, statements


def _statement(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper() if words else "?"
    return verb + " audit_head" if "audit_head" in words else verb


async def bench_entry_cpu(entries: int) -> None:
    print(f"\n## CPU per audit entry: SQLite, appended on the loop's shared connection ({entries:,} entries per run)")
    print("| pattern | CPU µs per entry, runs | best | head reads per entry | statements per entry |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, concurrent in (
            ("back to back, one open transaction", 1),
            ("32 concurrent requests, durable() each", 32),
        ):
            runs = [
                (await entry_cpu(f"sqlite:///{tmp}/cpu-{concurrent}-{i}.db", entries, concurrent, False))[0]
                for i in range(3)
            ]
            _, statements = await entry_cpu(f"sqlite:///{tmp}/count-{concurrent}.db", entries, concurrent, True)
            per = ", ".join(f"{r:.1f}" for r in runs)
            reads = statements["SELECT audit_head"] / entries
            print(f"| {label} | {per} | {min(runs):.1f} | {reads:.2f} | {sum(statements.values()) / entries:.2f} |")


# -- 2. gateway throughput ----------------------------------------------------------------

LAUNCHER = textwrap.dedent(
    """
    import asyncio, dataclasses, json, sys
    from gateway.config import load_settings
    from gateway.agencies.sandboxes import sandbox_specs, with_sandbox_config
    from gateway.observability.logs import configure_logging
    from gateway.agencies.plugin_manager import plugin_manager
    from gateway.api.server import serve

    tmp, port, tax_url, audit_on = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "on"
    s = load_settings(environ={})
    unused = "http://127.0.0.1:9"  # the bench asks the tax bureau only; every agency needs an address to start
    urls = {"tax": tax_url, **{a: unused for a in ("social_security", "medical", "housing_fund", "property")}}
    s = with_sandbox_config(s, sandbox_specs(plugin_manager()), urls)  # demo credentials
    s = dataclasses.replace(
        s, port=port, sandboxes_start=False, store_url=f"sqlite:///{tmp}/gw-{audit_on}.db",
        pki_dir=f"{tmp}/pki", pki_passphrase_file=f"{tmp}/passphrase", pki_create_sample=True,
        log_level="warning", audit=dataclasses.replace(s.audit, enabled=audit_on, **json.loads(sys.argv[5])),
    )
    configure_logging("warning")
    asyncio.run(serve(s))
    """
)
ENVELOPE = {
    "item": "tax.payment-record",
    "applicant": {"kind": "person", "id_number": "370303199001011239", "name": "张伟"},
    "materials": {"period_start": "2025-01-01", "period_end": "2025-12-31"},
    "office": "370303105000",
    "operator": "fz-window-01",
    "channel": "window",
}


async def gateway_rate(
    tmp: str, tax_url: str, audit_on: bool, requests: int, seconds: float, port: int, clients: int
) -> tuple[float, float]:
    """Completed requests per second from a gateway process under ``clients`` concurrent clients,
    and the median latency (ms) of one client alone."""
    import aiohttp

    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, tmp, str(port), tax_url, "on" if audit_on else "off", AUDIT_OPTIONS],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # warnings only (log level warning): read when it fails to start
    )
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Bearer sample-fangzhen-window-key"}
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            for _ in range(200):
                try:
                    async with session.get(url + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            else:
                proc.kill()
                raise RuntimeError(f"the gateway did not start: {proc.communicate()[1].decode()[-2000:]}")
            ok = 0

            async def client(budget: list[int], stop: float) -> None:
                nonlocal ok
                while budget[0] > 0 and time.perf_counter() < stop:
                    budget[0] -= 1
                    async with session.post(url + "/v1/requests", json=ENVELOPE) as r:
                        await r.read()
                        ok += r.status == 201

            await asyncio.gather(*(client([40], time.perf_counter() + 10) for _ in range(8)))  # warm-up
            latencies = []
            for _ in range(60):
                t = time.perf_counter()
                await client([1], t + 10)
                latencies.append(time.perf_counter() - t)
            ok = 0
            started = time.perf_counter()
            budget = [requests]
            await asyncio.gather(*(client(budget, started + seconds) for _ in range(clients)))
            return ok / (time.perf_counter() - started), statistics.median(latencies) * 1000
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def bench_gateway(requests: int, seconds: float, clients: int) -> None:
    from gateway.agencies.plugin_manager import plugin_manager
    from gateway.agencies.sandboxes import sandbox_specs
    from gateway.sandbox import start_sandbox

    print(
        f"\n## gateway throughput, tax.payment-record over HTTP, {clients} clients, "
        f"≤{requests} requests or ≤{seconds:g} s per run; latency: one client alone"
    )
    spec = next(s for s in sandbox_specs(plugin_manager()) if s.agency == "tax")
    sandbox = await start_sandbox(spec, port=0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = 18400 + os.getpid() % 500
            runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            for audit_on in (False, True, False, True, False, True):
                runs[audit_on].append(await gateway_rate(tmp, sandbox.url, audit_on, requests, seconds, port, clients))
            print("| audit log | requests/s (runs) | best | median latency, 1 client (runs) |")
            print("|---|---|---:|---|")
            for flag, label in ((False, "off"), (True, "on")):
                rates = ", ".join(f"{r:,.0f}" for r, _ in runs[flag])
                latency = ", ".join(f"{lat:.1f} ms" for _, lat in runs[flag])
                print(f"| {label} | {rates} | {max(r for r, _ in runs[flag]):,.0f} | {latency} |")
            off = max(r for r, _ in runs[False])
            on = max(r for r, _ in runs[True])
            print(f"\naudit cost: {(1 - on / off) * 100:.1f} % of throughput (goal: under 10 %)")
    finally:
        await sandbox.stop()


# -- 3. verify of a big log ------------------------------------------------------------------


async def generate(url: str, entries: int, signer: SoftwareSigner, every: int) -> float:
    """Append ``entries`` realistic entries in batches of 10,000, signing a checkpoint every ``every``."""
    store = make_store(url)
    await store.open()
    audit = audit_store_for(store, CHAIN)
    template = prepare_entry("agency.attempt", fields(0), instance="bench-host-1234-abcdef")
    marker = b"01JBENCH" + b"0" * 18
    started = time.perf_counter()
    try:
        for start in range(0, entries, 10_000):
            batch = [
                PreparedEntry(
                    template.prefix.replace(marker, b"01JBENCH%018d" % i), "agency.attempt", f"01JBENCH{i:018d}"
                )
                for i in range(start, min(start + 10_000, entries))
            ]
            await audit.append(batch)
            if (start + 10_000) % every == 0:
                await audit.checkpoint(signer, LOG_ID)
        await audit.checkpoint(signer, LOG_ID)
    finally:
        await store.close()
    return time.perf_counter() - started


async def bench_verify(entries: int) -> None:
    print(f"\n## audit verify of {entries:,} entries (SQLite, temp dir)")
    signer = SoftwareSigner(Ed25519PrivateKey.generate())
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/big.db"
        made = await generate(url, entries, signer, every=50_000)
        size_mb = Path(tmp, "big.db").stat().st_size / 1e6
        store = make_store(url)
        await store.open()
        try:
            audit = audit_store_for(store, CHAIN)
            times = []
            for _ in range(2):
                started = time.perf_counter()
                report = await verify_store(audit, signer.public_key(), log_id=LOG_ID)
                times.append(time.perf_counter() - started)
                assert report.ok, report.render()
            checkpoints = await audit.checkpoints()
            last = checkpoints[-2].tree_size
            started = time.perf_counter()
            assert (await verify_store(audit, signer.public_key(), start_from=last)).ok
            incremental = time.perf_counter() - started
            latest = SignedCheckpoint.from_dict(checkpoints[-1].signed).checkpoint
            started = time.perf_counter()
            for index in range(0, entries, max(1, entries // 200)):
                row = await audit.entry(index)
                path = await prove_inclusion(audit, index, latest.tree_size)
                assert verify_inclusion(row[2], index, latest.tree_size, path, latest.root_hash)
            per_proof = (time.perf_counter() - started) / len(range(0, entries, max(1, entries // 200)))
            checks = await startup_checks(audit, signer)
        finally:
            await store.close()
    print("| measurement | result |")
    print("|---|---:|")
    print(f"| generate {entries:,} entries through append + checkpoint (10,000 per batch) | {made:.1f} s |")
    print(f"| database size | {size_mb:,.0f} MB |")
    print(f"| `audit verify` (full recompute, every check), runs | {', '.join(f'{t:.1f} s' for t in times)} |")
    print(f"| `audit verify` rate | {entries / min(times):,.0f} entries/s |")
    print(f"| `audit verify --from {last:,}` | {incremental:.2f} s |")
    print(f"| inclusion proof from the store + check, per proof | {per_proof * 1000:.1f} ms |")
    for unsigned, seconds in checks:
        print(
            f"| start-up check: latest checkpoint, {unsigned:,} unsigned entries re-hashed and re-MACed, "
            f"{entries + unsigned:,} entries counted | {seconds * 1000:.0f} ms |"
        )


async def startup_checks(audit: Any, signer: SoftwareSigner) -> list[tuple[int, float]]:
    """How long the check a gateway runs at start-up takes, with 0, 1,000 and 10,000 entries no checkpoint covers."""
    results = []
    for unsigned in (0, 1_000, 10_000):
        added = unsigned - (results[-1][0] if results else 0)
        for start in range(0, added, 500):
            batch = [prepare_entry("agency.attempt", fields(start + i), instance="bench") for i in range(500)]
            await audit.append(batch)
        started = time.perf_counter()
        soundness = await audit.inspect(signer.public_key(), LOG_ID)
        results.append((unsigned, time.perf_counter() - started))
        assert soundness.ok and soundness.checked == unsigned, soundness
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per append measurement")
    parser.add_argument(
        "--requests", type=int, default=3000, help="per gateway run (also bounded by --gateway-seconds)"
    )
    parser.add_argument("--gateway-seconds", type=float, default=8.0)
    parser.add_argument("--clients", default="16,64", help="concurrent HTTP clients, one table per value")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--entry-cpu", type=int, default=10_000, help="entries per CPU-per-entry run")
    parser.add_argument("--skip-gateway", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    args = parser.parse_args()
    configure_logging("warning")
    print(f"# audit log benchmark (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    asyncio.run(bench_appends(args.seconds))
    asyncio.run(bench_entry_cpu(args.entry_cpu))
    if not args.skip_gateway:
        for clients in (int(c) for c in args.clients.split(",")):
            asyncio.run(bench_gateway(args.requests, args.gateway_seconds, clients))
    if not args.skip_verify:
        asyncio.run(bench_verify(args.entries))


if __name__ == "__main__":
    main()
