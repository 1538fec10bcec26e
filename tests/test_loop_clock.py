"""A plugin is timed for what it did, not for the moments the machine kept the loop's thread off the CPU.

Both tests share one CPU between the test's thread and a spinning process
(``sched_setaffinity``, Linux): the thread then waits for the CPU about half
the time, which wall time would count against the plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from gateway.agencies import loop_clock
from gateway.agencies.guard import LoopHold, PluginWatch
from gateway.agencies.loop_clock import REFRESH_S, held_s, mark, waited_for_cpu_s

pytestmark = pytest.mark.skipif(
    not (hasattr(os, "sched_setaffinity") and os.path.exists("/proc/thread-self/schedstat")),
    reason="needs Linux's per-thread scheduler statistics",
)


@pytest.fixture
def shared_cpu() -> Iterator[None]:
    """This thread and a spinning process on the same CPU, for the test's length (bounded: 30 s)."""
    cpu = min(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    spinner = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"]
    )
    try:
        os.sched_setaffinity(spinner.pid, {cpu})
        os.sched_setaffinity(0, {cpu})
        time.sleep(0.05)
        yield
    finally:
        os.sched_setaffinity(0, before)
        spinner.kill()
        spinner.wait(10)


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_time_spent_waiting_for_the_cpu_is_counted_apart(shared_cpu) -> None:
    waited, wall, since = waited_for_cpu_s(), time.perf_counter(), mark()
    _spin(0.3)
    waited = waited_for_cpu_s() - waited
    wall = time.perf_counter() - wall
    assert waited > 0.05, f"waited {waited:.3f} s for the CPU in {wall:.3f} s"
    held = held_s(since, threshold_s=0.0)
    assert wall - waited - 0.02 < held < wall - waited + REFRESH_S + 0.02


def test_below_the_threshold_it_is_the_wall_clock(shared_cpu) -> None:
    since, wall = mark(), time.perf_counter()
    _spin(0.3)
    assert held_s(since, threshold_s=10.0) >= time.perf_counter() - wall - 0.001


def test_a_wait_before_the_call_is_not_taken_off_it(shared_cpu, monkeypatch) -> None:
    """The counter read at the start may be old: what the thread waited before the call began stays out."""
    monkeypatch.setattr(loop_clock, "REFRESH_S", 1.0)
    monkeypatch.setattr(loop_clock._local, "read_at", float("-inf"))
    waited = waited_for_cpu_s()
    mark()  # the counter is read here ...
    _spin(0.4)  # ... the thread waits for the CPU about half of this ...
    since = mark()  # ... and the call starts with that reading, not a fresh one
    assert waited_for_cpu_s() - waited > 0.1, "the thread hardly waited for the CPU: the test proves nothing"
    time.sleep(0.2)
    assert held_s(since, threshold_s=0.1) > 0.19


async def test_a_hook_is_not_named_for_the_machines_load(shared_cpu) -> None:
    """Calls of 60 ms CPU each, stretched past the threshold by a competitor, are not holds; a sleep still is."""
    holds: list[LoopHold] = []
    watch = PluginWatch(threshold_s=0.1)
    watch.on_hold.append(holds.append)
    longest = 0.0
    for _ in range(3):
        started, cpu = time.perf_counter(), time.thread_time()

        def work(cpu: float = cpu) -> None:
            while time.thread_time() - cpu < 0.06:
                pass

        await watch.call("spinner", "onewindow_validate", work)
        longest = max(longest, time.perf_counter() - started)
    assert longest > 0.1, f"the calls were not stretched by the competitor ({longest:.3f} s): the test proves nothing"
    assert holds == []
    await watch.call("sleeper", "onewindow_validate", lambda: time.sleep(0.3))
    assert [(h.plugin, h.seconds > 0.1) for h in holds] == [("sleeper", True)]
