"""What an intake call costs on PostgreSQL: CPU of the gateway and of the server, statements, WAL, audit head.

    .venv/bin/python bench/postgres_cost.py [--tree NAME=PATH ...] [--workers 1,2] [--rounds 5] [--seconds 5]

On this machine the bound with PostgreSQL is the CPU the gateway and the
server's backends spend together, not the event loop alone; this benchmark
reports both per request, side by side for code trees given with ``--tree``
(a checkout of another commit, e.g. ``git archive <commit> | tar -x -C
/tmp/before``; the default is this tree), alternating the targets round by
round so that load from elsewhere on the machine hits each alike. Every
target is ``onewindow serve`` with the sample district (as bench/gateway.py
starts it) on a fresh schema, in front of the constant-time stand-in tax
bureau, driven by wrk at 32 connections, a fresh ``Idempotency-Key`` each.

Per request, medians over the rounds (and the least, the figure a busy
machine disturbs least):

- CPU of the gateway's processes and of every ``postgres`` process (the
  backends, the WAL writer; from ``/proc``);
- CPU of the whole machine (every core's working time from ``/proc/stat``:
  the gateway, the server, wrk, the bureau and anything else), and the
  ceiling it sets: the requests a second the machine's cores would serve,
  all of them busy, at the median of that cost per request;
- transactions the server committed (``pg_stat_database.xact_commit``:
  each single statement is one, so this counts the statements of the
  intake path), WAL records and bytes, WAL flushes (``pg_stat_wal``);
- audit head: statements that touched the head row (each compare-and-set
  reads it twice: ``audit_head`` scans / 2) and batches written (its
  updates), so the compare-and-set misses of several workers are
  ``head statements - batches``.

The server's counters are shared by every database user: run it on a
server nobody else writes to. Every wrk run is bounded in time; every
process is stopped and every schema dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
from gateway_procs import API_KEY, ROOT, TICKS, bench_script, drain, free_port, gateway_env, start_agency

PG_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CORES = os.cpu_count() or 1
FIGURES = ("req/s", "gateway CPU ms", "PostgreSQL CPU ms", "CPU ms", "machine CPU ms", "statements",
           "WAL records", "WAL kB", "WAL flushes", "head statements", "audit batches")  # fmt: skip


def _cpu(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    return 0.0


def _processes() -> dict[int, tuple[int, str]]:
    """Every process: its parent and its command name."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                found[int(entry.name)] = (int(stat[stat.rindex(")") + 2 :].split()[1]), stat[stat.index("(") + 1 :])
    return found


def postgres_cpu() -> float:
    return sum(_cpu(pid) for pid, (_, name) in _processes().items() if name.startswith("postgres)"))


def machine_busy() -> float:
    """CPU seconds every core of the machine spent working (``/proc/stat``: user, nice, system, irq, softirq).

    Time the hypervisor gave to other guests (steal) and idle time are left out.
    """
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / TICKS


class Gateway:
    """``onewindow serve`` from one code tree, its own schema and working directory."""

    def __init__(self, name: str, tree: Path, agency_url: str, workers: int, workdir: Path) -> None:
        self.name, self.schema = f"{name}, {workers} worker{'s' * (workers > 1)}", f"bench_{uuid.uuid4().hex[:10]}"
        port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **gateway_env(agency_url, f"{PG_URL}?schema={self.schema}", pool=20)}
        env["PYTHONPATH"] = str(tree)
        args = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--workers", str(workers)]
        self.popen = subprocess.Popen(
            args, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        self.url = f"http://127.0.0.1:{port}"
        self.runs: list[dict[str, float]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} did not start: {self.popen.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    drain(self)  # type: ignore[arg-type]
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer /healthz within 120 s")

    def cpu(self) -> float:
        processes = _processes()
        tree, frontier = [self.popen.pid], [self.popen.pid]
        while frontier:
            frontier = [pid for pid, (parent, _) in processes.items() if parent in frontier]
            tree += frontier
        return sum(_cpu(pid) for pid in tree)

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


async def counters(schema: str) -> dict[str, float]:
    conn = await asyncpg.connect(PG_URL, timeout=10)
    try:
        db = await conn.fetchrow("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        wal = await conn.fetchrow("SELECT wal_records, wal_bytes, wal_sync FROM pg_stat_wal")
        head = await conn.fetchrow(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS scans, n_tup_upd FROM pg_stat_user_tables "
            "WHERE schemaname = $1 AND relname = 'audit_head'",
            schema,
        )
        return {
            "statements": float(db["xact_commit"]),
            "WAL records": float(wal["wal_records"]),
            "WAL kB": float(wal["wal_bytes"]) / 1000,
            "WAL flushes": float(wal["wal_sync"]),
            "head statements": float(head["scans"]) / 2 if head else 0.0,
            "audit batches": float(head["n_tup_upd"]) if head else 0.0,
        }
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", default=[], help="NAME=PATH of a code tree (default: this one)")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    trees = [(name, Path(path)) for name, _, path in (t.partition("=") for t in args.tree)] or [("this tree", ROOT)]
    rounds, seconds = max(1, min(args.rounds, 20)), max(1.0, min(args.seconds, 60.0))
    bench = bench_script("gateway")
    targets: list[Gateway] = []
    agency = None
    with tempfile.TemporaryDirectory(prefix="onewindow-pgcost-") as tmp:
        script = Path(tmp, "post.lua")
        script.write_text(bench.LUA % {"body": bench.BODY, "key": API_KEY})  # type: ignore[attr-defined]
        try:
            agency, agency_url = start_agency()
            drain(agency)
            for name, tree in trees:
                for workers in (int(w) for w in args.workers.split(",")):
                    targets.append(Gateway(name, tree, agency_url, workers, Path(tmp, uuid.uuid4().hex[:8])))
            for target in targets:  # warm-up: connections, caches, the first seals
                bench.wrk(target.url, script, connections=8, seconds=2)  # type: ignore[attr-defined]
            for number in range(rounds):
                for target in targets:
                    time.sleep(1.5)  # the server publishes its counters at most once a second
                    before, gateway, server = asyncio.run(counters(target.schema)), target.cpu(), postgres_cpu()
                    machine = machine_busy()
                    run = bench.wrk(target.url, script, connections=args.connections, seconds=seconds)  # type: ignore[attr-defined]
                    gateway, server, machine = target.cpu() - gateway, postgres_cpu() - server, machine_busy() - machine
                    time.sleep(1.5)
                    after, n = asyncio.run(counters(target.schema)), max(run.requests, 1)
                    figures = {k: (after[k] - before[k]) / n for k in after}
                    figures |= {"req/s": run.rps, "gateway CPU ms": gateway * 1000 / n}
                    figures |= {"PostgreSQL CPU ms": server * 1000 / n, "CPU ms": (gateway + server) * 1000 / n}
                    figures |= {"machine CPU ms": machine * 1000 / n}
                    target.runs.append(figures)
                    print(
                        f"  round {number + 1} {target.name}: {run.rps:,.0f} req/s, "
                        f"{figures['CPU ms']:.2f} ms CPU/req, {figures['statements']:.2f} statements/req, "
                        f"errors {run.errors}",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            for target in targets:
                target.stop()
            if agency is not None:
                agency.stop()
            asyncio.run(_drop([t.schema for t in targets]))
    print(f"wrk, {args.connections} connections, {rounds} alternating rounds of {seconds:g} s; per request: "
          "median (least)")  # fmt: skip
    print()
    print("| | " + " | ".join(FIGURES) + " | ceiling req/s |")
    print("|---|" + "---:|" * (len(FIGURES) + 1))
    for target in targets:
        cells = [
            f"{statistics.median(r[k] for r in target.runs):.3g} ({min(r[k] for r in target.runs):.3g})"
            for k in FIGURES
        ]
        machine_ms = statistics.median(r["machine CPU ms"] for r in target.runs)
        ceiling = CORES * 1000 / max(machine_ms, 1e-9)  # every core busy at the median cost per request
        print(f"| {target.name} | " + " | ".join(cells) + f" | {ceiling:.3g} |")


async def _drop(schemas: list[str]) -> None:
    conn = await asyncpg.connect(PG_URL, timeout=10)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
