"""Group commit's sharing: one run for everyone waiting, its failure told to each, a cancel that stays local."""

from __future__ import annotations

import asyncio

import pytest

from gateway.store.shared_run import SharedRun


async def test_everyone_waiting_meanwhile_shares_one_run_and_a_later_caller_starts_the_next() -> None:
    runs = 0
    gate = asyncio.Event()

    async def work() -> None:
        nonlocal runs
        runs += 1
        await gate.wait()

    shared = SharedRun(work)
    waiters = [asyncio.create_task(shared.join()) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*waiters)
    assert runs == 1
    await shared.join()
    assert runs == 2


async def test_a_failed_run_raises_to_every_waiter_and_the_next_join_tries_again() -> None:
    failing = True

    async def work() -> None:
        await asyncio.sleep(0)
        if failing:
            raise OSError("disk")

    shared = SharedRun(work)
    results = await asyncio.gather(*(shared.join() for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    failing = False
    await shared.join()


async def test_a_cancelled_waiter_leaves_the_run_to_the_others() -> None:
    gate = asyncio.Event()

    async def work() -> None:
        await gate.wait()

    shared = SharedRun(work)
    first, second = asyncio.create_task(shared.join()), asyncio.create_task(shared.join())
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.set()
    await second  # not cancelled with the first
