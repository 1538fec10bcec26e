"""How long ``onewindow report`` takes for a busy month: figures from the store, HTML and CSV rendered.

Writes ``--requests`` requests of one month (every sample office and channel,
every status) with a rating for every third and a refusal for every tenth
into a fresh store, then times :func:`gather` and the two renderings.

    .venv/bin/python bench/report.py --requests 100000 --store sqlite
    .venv/bin/python bench/report.py --requests 100000 --store postgres   # needs 127.0.0.1:5432, db test
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from gateway.config import load_settings
from gateway.intake.request_ids import new_ulid
from gateway.ratings.grades import Grade
from gateway.report.figures import gather
from gateway.report.html import render_html
from gateway.report.month import Month
from gateway.report.table import render_csv
from gateway.store import make_store
from gateway.store.plain_sql import Tables

START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
SPAN_S = 30 * 86400 - 60
CALLERS = (
    ("fangzhen-window", "370303105000", "window"),
    ("fangzhen-kiosk", "370303105000", "kiosk"),
    ("bank-outlet", "370303105000", "partner_outlet"),
    ("mashang-window", "370303007000", "window"),
    ("dongcun-station", "370303105201", "village_station"),
)
STATUSES = ("completed", "completed", "completed", "rejected", "failed", "dead_letter", "pending", "deferred")
BATCH = 1000
MAX_SECONDS = 900.0


async def fill(store: object, requests: int) -> None:
    tables = Tables(store)
    rng = random.Random(14)
    deadline = time.monotonic() + MAX_SECONDS
    for first in range(0, requests, BATCH):
        if time.monotonic() > deadline:
            raise SystemExit("filling took longer than the bound; use fewer --requests")
        batch = []
        for n in range(first, min(first + BATCH, requests)):
            caller, office, channel = rng.choice(CALLERS)
            created = START + timedelta(seconds=rng.uniform(0, SPAN_S))
            status = rng.choice(STATUSES)
            request_id = new_ulid()
            batch.append(
                (
                    "INSERT INTO requests (id, caller_id, item, agency, office, operator, channel, status, envelope, "
                    "created_at, updated_at, finished_at) VALUES (?, ?, ?, 'tax', ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        request_id,
                        caller,
                        f"tax.item-{n % 12}",
                        office,
                        f"op-{n % 7}",
                        channel,
                        status,
                        {"applicant": {"name": "张伟"}},
                        created,
                        created,
                        created + timedelta(hours=2) if status not in ("pending", "deferred") else None,
                    ],
                )
            )
            if n % 3 == 0 and status not in ("pending", "deferred"):
                grade = rng.choice(list(Grade))
                batch.append(
                    (
                        "INSERT INTO ratings (id, request_id, caller_id, office, channel, item, grade, tags, rated_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            new_ulid(),
                            request_id,
                            caller,
                            office,
                            channel,
                            "tax.item",
                            str(grade),
                            ["fast"],
                            created + timedelta(hours=3),
                        ],
                    )
                )
            if n % 10 == 0:
                batch.append(
                    (
                        "INSERT INTO refusals (request_id, caller_id, office, channel, item, problems, refused_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [new_ulid(), caller, office, channel, "tax.item", ["materials/x:required"], created],
                    )
                )
        await tables.write(batch)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        schema = "bench_" + uuid.uuid4().hex[:8]
        url = (
            f"sqlite:///{folder}/bench.db"
            if args.store == "sqlite"
            else f"postgresql://postgres@127.0.0.1:5432/test?schema={schema}"
        )
        store = make_store(url)
        await store.open()
        try:
            began = time.perf_counter()
            await fill(store, args.requests)
            print(f"filled {args.requests} requests in {time.perf_counter() - began:.1f} s")
            offices = list(load_settings(environ={}).offices.values())
            began = time.perf_counter()
            district = await gather(store, Month.parse("2026-11"), offices)
            gathered = time.perf_counter() - began
            began = time.perf_counter()
            page = render_html(district)
            html_s = time.perf_counter() - began
            began = time.perf_counter()
            table = render_csv(district)
            csv_s = time.perf_counter() - began
            print(
                f"{args.store}: figures {gathered:.2f} s ({args.requests / gathered:,.0f} requests/s), "
                f"HTML {html_s * 1000:.0f} ms ({len(page) // 1024} KiB), CSV {csv_s * 1000:.0f} ms "
                f"({table.count(chr(10))} rows)"
            )
        finally:
            if args.store == "postgres":
                await store.pool.execute(f'DROP SCHEMA "{schema}" CASCADE')  # type: ignore[attr-defined]
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
