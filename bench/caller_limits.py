"""Per-caller limits benchmark: what one limit decision costs in the store, alone and under contention.

    .venv/bin/python bench/caller_limits.py [--decisions 2000] [--seconds 5] [--pg-url URL]

For each store (SQLite in a temp dir; PostgreSQL when reachable, in a schema
of its own that is dropped afterwards):

1. one client: ``--decisions`` rate decisions (``take``) and as many
   concurrency decisions (``enter`` + ``leave``) one after another; median
   and 95th percentile;
2. 32 concurrent clients on one caller (the worst case: every decision waits
   for the caller's lock) and on 32 callers, decisions per second.

Every loop is bounded by count and by ``--seconds``; figures go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from gateway.limits.counters import counters_for  # noqa: E402
from gateway.store import make_store  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


async def one_client(counters: Any, decisions: int, seconds: float) -> tuple[list[float], list[float]]:
    takes: list[float] = []
    places: list[float] = []
    deadline = time.monotonic() + seconds
    for i in range(decisions):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        await counters.take("bench-caller", 10**9, 60)
        takes.append(time.perf_counter() - started)
        started = time.perf_counter()
        await counters.enter("bench-caller", 10**9, f"h{i}", "bench", 600)
        await counters.leave(f"h{i}")
        places.append(time.perf_counter() - started)
    return takes, places


async def contended(counters: Any, clients: int, callers: int, seconds: float, cap: int) -> float:
    done = 0
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        nonlocal done
        caller = f"bench-{n % callers}"
        while time.monotonic() < deadline and done < cap:
            await counters.take(caller, 10**9, 60)
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return done / (time.monotonic() - started)


def ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.2f}"


async def bench(url: str, name: str, args: argparse.Namespace) -> None:
    store = make_store(url)
    await store.open()
    try:
        counters = counters_for(store)
        takes, places = await one_client(counters, args.decisions, args.seconds)
        print(
            f"{name:<10} one client: take median {statistics.median(takes) * 1000:.2f} ms (p95 {ms(takes, 0.95)}), "
            f"enter+leave median {statistics.median(places) * 1000:.2f} ms (p95 {ms(places, 0.95)}), "
            f"{len(takes)} each"
        )
        one = await contended(counters, 32, 1, args.seconds, args.decisions * 10)
        many = await contended(counters, 32, 32, args.seconds, args.decisions * 10)
        print(f"{name:<10} 32 clients: {one:,.0f} decisions/s on one caller, {many:,.0f}/s on 32 callers")
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await bench(f"sqlite:///{tmp}/bench.db", "SQLite", args)
    schema = "bench_" + uuid.uuid4().hex[:10]
    try:
        await bench(f"{args.pg_url}?schema={schema}", "PostgreSQL", args)
    except Exception as exc:  # not reachable: say so, the SQLite figures stand
        print(f"PostgreSQL skipped: {exc}")
    finally:
        try:
            conn = await asyncpg.connect(args.pg_url, timeout=5)
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()
        except Exception:
            pass


if __name__ == "__main__":
    asyncio.run(main())
