"""The sandboxes keep bounded state: a benchmark or a soak never makes them slow or large."""

from __future__ import annotations

import time

import aiohttp

from gateway.sandbox import ReplayWindow, SubmissionLedger, start_sandbox
from plugins.social_security.sandbox import _Authenticator
from plugins.tax import sandbox as tax_sandbox
from plugins.tax.client import signature


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_nonce_seen_within_the_window_is_a_replay_and_one_seen_before_it_is_not() -> None:
    clock = Clock()
    window = ReplayWindow(300, clock=clock)
    assert not window.replayed("n1")
    clock.now += 299
    assert window.replayed("n1")
    clock.now += 2  # 301 s after it was first seen
    assert not window.replayed("n1")


def test_expired_nonces_are_dropped_so_the_window_holds_only_the_recent_ones() -> None:
    clock = Clock()
    window = ReplayWindow(10, clock=clock)
    for i in range(1000):
        window.replayed(f"old-{i}")
    clock.now += 11
    window.replayed("fresh")
    assert len(window) == 1


def test_the_window_never_keeps_more_than_its_cap_even_at_a_high_rate() -> None:
    window = ReplayWindow(300, max_entries=500, clock=Clock())
    for i in range(5000):
        assert not window.replayed(f"n{i}")
    assert len(window) == 500
    assert window.replayed("n4999")  # the most recent are still refused
    assert not window.replayed("n0")  # the oldest were forgotten to stay within the cap


def test_checking_a_nonce_costs_the_same_after_a_hundred_thousand_calls() -> None:
    window = ReplayWindow(300)
    started = time.perf_counter()
    for i in range(1000):
        window.replayed(f"a{i}")
    first = time.perf_counter() - started
    for i in range(100_000):
        window.replayed(f"b{i}")
    started = time.perf_counter()
    for i in range(1000):
        window.replayed(f"c{i}")
    later = time.perf_counter() - started
    assert later < first * 20 + 0.05  # a scan of every kept nonce per call would be ~1000x slower


async def test_the_tax_sandbox_still_refuses_a_replayed_nonce_and_keeps_one_entry_per_fresh_call() -> None:
    spec = tax_sandbox.spec()
    running = await start_sandbox(spec)
    secrets = spec.config["secrets"]
    try:
        async with aiohttp.ClientSession() as session:

            async def call(nonce: str) -> str:
                stamp, path = str(int(time.time() * 1000)), "/api/v2/ping"
                headers = {
                    "X-App-Key": secrets["app_key"],
                    "X-Timestamp": stamp,
                    "X-Nonce": nonce,
                    "X-Signature": signature(secrets["app_secret"], "GET", path, stamp, nonce, b""),
                }
                async with session.get(running.url.rstrip("/") + path, headers=headers) as answer:
                    return str((await answer.json())["code"])

            assert await call("nonce-1") == "0000"
            assert await call("nonce-1") == "1003"
            for i in range(50):
                assert await call(f"fresh-{i}") == "0000"
    finally:
        await running.stop()
    assert isinstance(_Authenticator().nonces, ReplayWindow)


async def test_the_ledger_remembers_only_its_most_recent_keys_but_counts_every_one() -> None:
    ledger = SubmissionLedger(max_keys=100)
    acted: list[str] = []
    for i in range(1000):
        await ledger.submit(f"k{i}", lambda i=i: acted.append(f"k{i}") or {"n": i})
    assert len(ledger.effective) == 100 and ledger.answer("k0") is None and ledger.answer("k999") == {"n": 999}
    assert ledger._locks == {}  # no lock is left behind for a key that is done
    assert await ledger.submit("k999", lambda: acted.append("again")) == {"n": 999}
    stats = ledger.stats()
    assert stats["effective_submissions"] == 1000 and stats["distinct_keys"] == 1000
    assert stats["duplicate_submissions"] == 1 and stats["remembered_keys"] == 100
    assert stats["acted_more_than_once"] == [] and "again" not in acted


async def test_a_key_acted_on_twice_while_remembered_is_reported() -> None:
    ledger = SubmissionLedger(max_keys=5)
    ledger.effective["x"] = 1  # as if acted on before, its answer lost (a sandbox bug the stats must show)
    await ledger.submit("x", lambda: 5)
    assert ledger.stats()["acted_more_than_once"] == ["x"]
