"""Gateway benchmark: the gateway against a bare forwarder, side by side, with wrk.

    .venv/bin/python bench/gateway.py [--rounds 3] [--seconds 6] [--skip-postgres] [--skip-slow] [--soak 600]

Starts, each in its own process on loopback: a stand-in tax bureau (the tax
plugin's sandbox, constant time), a bare aiohttp forwarder making the same
signed call, and the gateway with the sample district (``onewindow serve``;
SQLite, then PostgreSQL with one and two workers). wrk POSTs the README's
``tax.payment-record`` envelope, a fresh ``Idempotency-Key`` each time, in
alternating rounds (forwarder, gateway, forwarder, ...); each figure is the
median over the rounds. Reported per target: throughput and p50/p99 at 32
connections, p50 on one connection, CPU per request of the serving
process(es), and -- under ``strace -c`` over a bounded run -- fdatasync/fsync
(durable commits) and futex calls (thread hand-offs) per request.
Then a slow bureau (200 ms) under 500 connections, bounded by the agency pool
the benchmark sets, with the resident memory; ``--soak S`` runs S seconds at
half the measured maximum and reports errors, p99 and memory over time.

Every wrk run is bounded in time, every process is stopped at the end.
Figures go to stdout as Markdown, and ``--write`` puts them into
bench/README.md (``make bench`` does).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_procs import (
    API_KEY,
    Process,
    drain,
    start_agency,
    start_forwarder,
    start_gateway,
)

PG_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BODY = (
    '{"item": "tax.payment-record", '
    '"applicant": {"kind": "person", "id_number": "370303199001011239", "name": "张伟"}, '
    '"materials": {"period_start": "2025-01-01", "period_end": "2025-12-31"}, '
    '"office": "370303105000", "operator": "fz-window-01", "channel": "window"}'
)
# One fresh Idempotency-Key per request: "<run>-<thread>-<n>". ``delay`` paces a soak (ms between a
# connection's requests); 0 means as fast as the server answers.
LUA = """
wrk.method = "POST"
wrk.body = [[%(body)s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n, prefix, pause = 0, "", 0
function init(args)
  prefix = (args[1] or "run") .. "-" .. tostring(tid)
  pause = tonumber(args[2] or "0")
end
function request()
  n = n + 1
  wrk.headers["Idempotency-Key"] = prefix .. "-" .. n
  return wrk.format()
end
function delay()
  return pause
end
"""
TARGETS = {
    "throughput": 0.2,  # x the forwarder, SQLite, 32 connections
    "cpu_ms": 0.6,
    "added_p50_ms": 1.0,
    "commits": 2.0,  # durable commits per request, one connection
    "pg_throughput": 0.15,
    "workers2": 1.3,
    "rss_mb": 200.0,
}


@dataclass
class Run:
    """One wrk run against one target."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float = 0.0  # CPU of the serving process(es) per request
    loop_ms: float = 0.0  # CPU of their event-loop threads per request
    loop_busy: float = 0.0  # share of a core each event loop used during the run


@dataclass
class Target:
    name: str
    process: Process
    url: str
    loaded: list[Run] = field(default_factory=list)  # 32 connections
    alone: list[Run] = field(default_factory=list)  # 1 connection
    traced: dict[str, float] = field(default_factory=dict)

    def median(self, runs: str, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in getattr(self, runs))


def ensure_tools() -> None:
    """wrk and strace from the system packages: installed when missing and we are root, else refused."""
    missing = [tool for tool in ("wrk", "strace") if shutil.which(tool) is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env, capture_output=True).returncode:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env, capture_output=True)
        missing = [tool for tool in missing if shutil.which(tool) is None]
    if "wrk" in missing:
        raise SystemExit("bench/gateway.py: wrk is missing (apt-get install wrk)")


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, script: Path, *, connections: int, seconds: float, threads: int = 2, pause_ms: float = 0) -> Run:
    """One bounded wrk run: ``seconds`` long (wrk's own timer), a 10 s timeout per request."""
    threads = max(1, min(threads, connections))
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    args += ["-s", str(script), url + "/v1/requests", "--", uuid.uuid4().hex[:12], str(pause_ms)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if done is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    requests, elapsed = int(done.group(1)), _ms(done.group(2) + done.group(3)) / 1000
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    p50, p99 = (_ms(pct[k]) if k in pct else float("nan") for k in ("50", "99"))  # none when nothing completed
    return Run(requests, elapsed, requests / elapsed, p50, p99, errors)


def measured(target: Target, script: Path, *, connections: int, seconds: float) -> Run:
    """A wrk run with the CPU the serving process(es) spent on it, and their event loops' share of it."""
    before, loop_before = target.process.cpu_seconds(), target.process.loop_seconds()
    run = wrk(target.url, script, connections=connections, seconds=seconds)
    run.cpu_ms = (target.process.cpu_seconds() - before) * 1000 / max(run.requests, 1)
    loop = target.process.loop_seconds() - loop_before
    run.loop_ms = loop * 1000 / max(run.requests, 1)
    run.loop_busy = loop / max(run.seconds, 1e-9) / len(target.process.workers())
    return run


def traced(target: Target, script: Path, *, connections: int, seconds: float) -> dict[str, float]:
    """Per request, from ``strace -f -y`` over a bounded run: durable commits (the gateway's group flush:
    fdatasync of SQLite's ``-wal`` file through the descriptor the flush thread keeps), other syncs
    (SQLite's own, when a checkpoint copies the log into the database: the log through the checkpoint
    connection's descriptor, and the database file), and futex calls (thread hand-offs)."""
    if shutil.which("strace") is None:
        return {}
    counts: dict[str, float] = {"fsync": 0, "other_syncs": 0, "futex": 0}
    requests = 0
    with tempfile.TemporaryDirectory(prefix="onewindow-strace-") as tmp:
        outputs = [Path(tmp, f"{pid}.txt") for pid in target.process.workers()]
        tracers = [
            subprocess.Popen(
                ["strace", "-f", "-y", "-e", "trace=fdatasync,fsync,futex", "-o", str(out), "-p", out.stem],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for out in outputs
        ]
        try:
            time.sleep(1.0)  # attach to every thread
            requests = wrk(target.url, script, connections=connections, seconds=seconds).requests
        finally:
            for tracer in tracers:
                tracer.send_signal(signal.SIGINT)
                try:
                    tracer.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    tracer.kill()
        wal_syncs: dict[str, int] = {}  # per process and descriptor
        for out in outputs:
            with contextlib.suppress(OSError), out.open(errors="replace") as lines:
                for line in lines:
                    if "futex(" in line:
                        counts["futex"] += 1
                    elif "sync(" in line and "resumed" not in line:
                        wal = re.search(r"sync\((\d+)<[^>]*-wal>", line)
                        if wal is None:
                            counts["other_syncs"] += 1
                        else:
                            key = f"{out.stem}:{wal.group(1)}"
                            wal_syncs[key] = wal_syncs.get(key, 0) + 1
        for pid in {key.split(":")[0] for key in wal_syncs}:  # the busiest descriptor is the group flush's
            mine = sorted((n for key, n in wal_syncs.items() if key.startswith(pid + ":")), reverse=True)
            counts["fsync"] += mine[0]
            counts["other_syncs"] += sum(mine[1:])
    return {k: v / max(requests, 1) for k, v in counts.items()} | {"requests": requests}


def round_robin(targets: list[Target], script: Path, rounds: int, seconds: float, connections: int) -> None:
    """Alternate the targets round by round, so load from elsewhere on the machine hits each alike."""
    for target in targets:  # warm-up: connections, caches, the first seals
        wrk(target.url, script, connections=8, seconds=2)
    for number in range(rounds):
        for target in targets:
            target.loaded.append(measured(target, script, connections=connections, seconds=seconds))
            target.alone.append(measured(target, script, connections=1, seconds=max(2, seconds / 2)))
            last = target.loaded[-1]
            print(
                f"  round {number + 1} {target.name}: {last.rps:,.0f} req/s, p50 {last.p50_ms:.1f} ms, "
                f"{last.cpu_ms:.2f} ms CPU/req, 1 conn p50 {target.alone[-1].p50_ms:.2f} ms, errors {last.errors}",
                file=sys.stderr,
                flush=True,
            )


def table(targets: list[Target], base: Target, connections: int) -> list[str]:
    lines = [
        f"| | req/s, {connections} conn. | × forwarder | p50 / p99, {connections} conn. | p50, 1 conn. | "
        "added p50 | CPU / req | event loop: CPU / req (busy) | "
        "durable commits / req, 1 conn. / loaded (+ WAL checkpoint syncs) | "
        "futex / req, 1 conn. | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in targets:
        rps, p50, p99 = t.median("loaded", "rps"), t.median("loaded", "p50_ms"), t.median("loaded", "p99_ms")
        alone, cpu = t.median("alone", "p50_ms"), t.median("loaded", "cpu_ms")
        loop = f"{t.median('loaded', 'loop_ms'):.2f} ms ({t.median('loaded', 'loop_busy'):.0%})"
        ratio = rps / base.median("loaded", "rps")
        added = alone - base.median("alone", "p50_ms")
        commits = (
            f"{t.traced['fsync']:.2f} / {t.traced.get('fsync_loaded', 0):.2f} (+{t.traced['other_syncs']:.2f})"
            if "fsync" in t.traced
            else "—"
        )
        futex = f"{t.traced['futex']:.0f}" if "futex" in t.traced else "—"
        errors = sum(r.errors for r in t.loaded + t.alone)
        lines.append(
            f"| {t.name} | {rps:,.0f} | {ratio:.3f}× | {p50:.1f} / {p99:.1f} ms | {alone:.2f} ms | "
            f"{'—' if t is base else f'{added:.2f} ms'} | {cpu:.2f} ms | {loop} | {commits} | {futex} | {errors} |"
        )
    return lines


def verdict(ok: bool) -> str:
    return "**met**" if ok else "not met"


def drop_schema(schema: str) -> None:
    code = (
        "import asyncio, asyncpg, sys\n"
        "async def main():\n"
        "    c = await asyncpg.connect(sys.argv[1])\n"
        "    await c.execute(f'DROP SCHEMA IF EXISTS {sys.argv[2]} CASCADE')\n"
        "    await c.close()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code, PG_URL, schema], capture_output=True, timeout=60)


def postgres_reachable() -> bool:
    code = "import asyncio, asyncpg, sys\nasyncio.run(asyncpg.connect(sys.argv[1], timeout=3))\n"
    return subprocess.run([sys.executable, "-c", code, PG_URL], capture_output=True, timeout=30).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0, help="per wrk run at 32 connections")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pool", type=int, default=20, help="agency connection pool (gateway and forwarder)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-slow", action="store_true")
    parser.add_argument("--slow-clients", type=int, default=500)
    parser.add_argument(
        "--slow-pool",
        type=int,
        default=20,
        help="the agency pool sized for the slow bureau (20 calls of 200 ms: 100 req/s, below what the gateway's "
        "CPU allows on 2 cores, so the pool is the bound)",
    )
    parser.add_argument("--soak", type=float, default=0.0, help="seconds at half the maximum rate (0: no soak)")
    parser.add_argument("--out", type=Path, help="also write the Markdown figures to this file")
    args = parser.parse_args()
    ensure_tools()
    args.rounds = max(1, min(args.rounds, 20))
    args.seconds = max(1.0, min(args.seconds, 120.0))
    out: list[str] = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()
    processes: list[Process] = []
    schemas: list[str] = []
    with tempfile.TemporaryDirectory(prefix="onewindow-bench-") as tmp:
        script = Path(tmp, "post.lua")
        script.write_text(LUA % {"body": BODY, "key": API_KEY})
        try:
            agency, agency_url = start_agency()
            forwarder, forwarder_url = start_forwarder(agency_url, args.pool)
            gateway, gateway_url = start_gateway(
                Path(tmp, "sqlite"), agency_url, "sqlite:///var/onewindow.db", pool=args.pool
            )
            processes += [agency, forwarder, gateway]
            for p in processes:
                drain(p)
            base = Target("bare forwarder", forwarder, forwarder_url)
            sqlite = Target("gateway, SQLite, 1 process", gateway, gateway_url)
            targets = [base, sqlite]
            print("# gateway benchmark: SQLite against the forwarder", file=sys.stderr, flush=True)
            round_robin(targets, script, args.rounds, args.seconds, args.connections)
            for t in targets:
                t.traced = traced(t, script, connections=1, seconds=3)
                loaded = traced(t, script, connections=args.connections, seconds=3)
                if loaded:
                    t.traced["fsync_loaded"] = loaded["fsync"]
            if not args.skip_postgres and postgres_reachable():
                print("# PostgreSQL, 1 and 2 workers", file=sys.stderr, flush=True)
                gateway.stop()
                pg = []
                for workers in (1, 2):
                    schema = f"bench_{uuid.uuid4().hex[:10]}"
                    schemas.append(schema)
                    proc, url = start_gateway(
                        Path(tmp, f"pg{workers}"),
                        agency_url,
                        f"{PG_URL}?schema={schema}",
                        pool=args.pool,
                        workers=workers,
                    )
                    processes.append(proc)
                    drain(proc)
                    pg.append(Target(f"gateway, PostgreSQL, {workers} worker{'s' * (workers > 1)}", proc, url))
                more = [Target(base.name, forwarder, forwarder_url), *pg]
                round_robin(more, script, args.rounds, args.seconds, args.connections)
                base.loaded += more[0].loaded
                base.alone += more[0].alone
                targets += pg
                for target in pg:
                    target.process.stop()
                gateway, gateway_url = start_gateway(
                    Path(tmp, "sqlite"), agency_url, "sqlite:///var/onewindow.db", pool=args.pool
                )
                processes.append(gateway)
                drain(gateway)
                sqlite.process, sqlite.url = gateway, gateway_url
            host = f"{platform.node()}, {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"
            out += [
                f"### Gateway against a bare forwarder ({started})",
                "",
                f"Machine: {host}; load average at the start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. "
                f"wrk, {args.connections} connections, {args.rounds} alternating rounds of {args.seconds:g} s; "
                "medians. Commits (fdatasync of the write-ahead log) and futex calls: `strace -f -y` "
                "over 3 s runs (1 connection, then "
                f"{args.connections}); CPU: user + system of the serving process(es) per request; event loop: "
                "that of each process's main thread, and the share of a core it used (near 100 %: the loop "
                "is the bound).",
                "",
                *table(targets, base, args.connections),
                "",
            ]
            fwd_rps = base.median("loaded", "rps")
            ratio = sqlite.median("loaded", "rps") / fwd_rps
            cpu = sqlite.median("loaded", "cpu_ms")
            added = sqlite.median("alone", "p50_ms") - base.median("alone", "p50_ms")
            checks = [
                (f"SQLite throughput ≥ {TARGETS['throughput']}× forwarder", f"{ratio:.3f}×", ratio >= 0.2),
                (f"SQLite CPU / request ≤ {TARGETS['cpu_ms']} ms", f"{cpu:.2f} ms", cpu <= 0.6),
                (f"added p50, 1 connection ≤ {TARGETS['added_p50_ms']} ms", f"{added:.2f} ms", added <= 1.0),
            ]
            if "fsync" in sqlite.traced:
                one, many = sqlite.traced["fsync"], sqlite.traced.get("fsync_loaded", 99)
                # Two per request (accepted; answered); an audit checkpoint handed to the witness adds one now
                # and then (about one per few hundred requests), hence the rounding to one decimal.
                checks.append(("durable commits / request ≤ 2 (1 connection)", f"{one:.2f}", round(one, 1) <= 2.0))
                checks.append(("durable commits / request < 1 under load", f"{many:.2f}", many < 1.0))
            pg_targets = [t for t in targets if "PostgreSQL" in t.name]
            if len(pg_targets) == 2:
                pg1, pg2 = (t.median("loaded", "rps") for t in pg_targets)
                checks.append(
                    ("PostgreSQL 1 process ≥ 0.15× forwarder", f"{pg1 / fwd_rps:.3f}×", pg1 / fwd_rps >= 0.15)
                )
                checks.append(("`--workers 2` ≥ 1.3× one worker", f"{pg2 / pg1:.2f}×", pg2 / pg1 >= 1.3))
            if args.soak > 0:
                print(f"# soak, {args.soak:g} s", file=sys.stderr, flush=True)
                checks += soak(sqlite, script, args, out, sqlite.median("loaded", "rps"))
            if not args.skip_slow:
                print("# slow bureau", file=sys.stderr, flush=True)
                checks += slow_agency(agency_url, sqlite, script, args, out)
            out += ["| target | measured | |", "|---|---:|---|"]
            out += [f"| {name} | {value} | {verdict(ok)} |" for name, value, ok in checks]
        finally:
            for p in processes:
                p.stop()
            for schema in schemas:
                drop_schema(schema)
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


def slow_agency(agency_url: str, target: Target, script: Path, args: argparse.Namespace, out: list[str]) -> list:
    """A bureau answering in 200 ms, 500 connections: bounded by the pool the gateway is given, no errors."""
    import json
    import urllib.request

    def knobs(latency: float) -> None:
        request = urllib.request.Request(
            agency_url + "/_sandbox/faults", data=json.dumps({"latency_ms": latency}).encode(), method="PUT"
        )
        urllib.request.urlopen(request, timeout=10).read()

    target.process.stop()
    process, url = start_gateway(
        Path(tempfile.mkdtemp(prefix="onewindow-bench-slow-")),
        agency_url,
        "sqlite:///var/onewindow.db",
        pool=args.slow_pool,
        extra={"ONEWINDOW_SERVER__MAX_CONNECTIONS_PER_ADDRESS": "0"},  # 500 clients on one address, as behind a proxy
    )
    drain(process)
    slow = Target("slow", process, url)
    try:
        knobs(200)
        wrk(url, script, connections=50, seconds=3)
        rss_before = process.rss_mb()
        run = measured(slow, script, connections=args.slow_clients, seconds=max(10, args.seconds * 2))
        rss = process.rss_mb()
    finally:
        knobs(0)
        process.stop()
    bound = args.slow_pool / 0.2
    out += [
        f"**Slow bureau** (200 ms a call), {args.slow_clients} connections, agency pool "
        f"`[agencies.tax] pool_size = {args.slow_pool}` (bound: {bound:,.0f} req/s): "
        f"{run.rps:,.0f} req/s ({run.rps / bound:.0%} of the bound), p50 {run.p50_ms:.0f} ms, p99 "
        f"{run.p99_ms:.0f} ms, {run.errors} errors, {run.cpu_ms:.2f} ms CPU/request; resident memory "
        f"{rss_before:.0f} MB before, {rss:.0f} MB after.",
        "",
    ]
    return [
        ("slow bureau, 500 connections: errors", str(run.errors), run.errors == 0),
        ("slow bureau: throughput ≥ 90 % of pool / latency", f"{run.rps / bound:.0%}", run.rps >= 0.9 * bound),
        ("resident memory of one process ≤ 200 MB", f"{rss:.0f} MB", rss <= TARGETS["rss_mb"]),
    ]


def soak(target: Target, script: Path, args: argparse.Namespace, out: list[str], max_rps: float) -> list:
    """``--soak`` seconds at half ``max_rps``, in chunks: errors, p99 and memory over time.

    Each connection waits between an answer and its next request; the wait is set so that
    wait + response time gives half the maximum rate over all connections, from a short
    calibration run and then from each chunk's own rate (a wait alone would also count
    the response time, and run slower than asked).
    """
    connections, wanted = args.connections, max_rps / 2
    first = connections * 1000 / wanted  # the wait if answers took no time
    calibration = wrk(target.url, script, connections=connections, seconds=5, pause_ms=first)
    pause_ms = _paced(first, calibration, connections, wanted)
    chunk = min(60.0, args.soak)
    runs, rss = [], [target.process.rss_mb()]
    deadline = time.monotonic() + args.soak
    while time.monotonic() < deadline - 1:
        run = wrk(
            target.url,
            script,
            connections=connections,
            seconds=min(chunk, deadline - time.monotonic()),
            pause_ms=pause_ms,
        )
        runs.append(run)
        rss.append(target.process.rss_mb())
        pause_ms = _paced(pause_ms, run, connections, wanted)
    errors = sum(r.errors for r in runs)
    p99s = [r.p99_ms for r in runs]
    growth = rss[-1] / rss[1] - 1 if len(rss) > 2 else 0.0
    requests = sum(r.requests for r in runs)
    rate = requests / max(sum(r.seconds for r in runs), 1e-9)
    out += [
        f"**Soak**, {args.soak:g} s at {rate:,.0f} req/s ({rate / max_rps:.0%} of the maximum, {max_rps:,.0f}; "
        f"asked: half), {connections} paced connections, in {len(runs)} chunks: {requests:,} requests, "
        f"{errors} errors; req/s per chunk {', '.join(f'{r.rps:,.0f}' for r in runs)}; p99 per chunk "
        f"{', '.join(f'{p:.1f}' for p in p99s)} ms; resident memory {', '.join(f'{m:.0f}' for m in rss)} MB.",
        "",
    ]
    flat = max(p99s) <= 2 * statistics.median(p99s) if p99s else False
    return [
        (
            "soak: rate within 15 % of half the maximum",
            f"{rate / max_rps:.0%} of the maximum",
            abs(rate / wanted - 1) <= 0.15,
        ),
        ("soak: errors", str(errors), errors == 0),
        (
            "soak: memory at the end within 10 % of the start (after the first chunk)",
            f"{growth:+.0%}",
            abs(growth) <= 0.1,
        ),
        ("soak: p99 flat (no chunk above twice the median)", f"max {max(p99s):.1f} ms", flat),
    ]


def _paced(pause_ms: float, run: Run, connections: int, wanted: float) -> float:
    """The wait that brings ``run``'s rate to ``wanted``: each connection's cycle less its response time."""
    if run.requests == 0:
        return pause_ms
    response_ms = max(connections * 1000 / run.rps - pause_ms, 0.0)  # a cycle is the wait and the response
    return max(connections * 1000 / wanted - response_ms, 0.0)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
