"""How long a call held the event loop, in a way a busy machine does not fool.

Wall time counts the moments the loop's thread was ready to run but waited
for a CPU (other processes, other threads): on a loaded host every call
looks slow, and a plugin would be named for the machine's load. Linux
counts that wait per thread (``/proc/thread-self/schedstat``, its second
field), so a call that looks long is timed for what it did or waited on
itself -- its CPU, a blocking sleep or read -- and not for that wait.
Where the kernel does not say, it is the wall clock.

Reading the counter is a system call, and a plugin call is timed at every
step: so :func:`mark` takes the wall clock only, with the counter as last
read (read again when that is older than :data:`REFRESH_S`), and
:func:`held_s` reads it only for a call that reached the threshold. The
wait it subtracts is the least the counters prove was inside the call: a
call may be put down for up to ``REFRESH_S`` of the machine's load, never
let off for its own time.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

_SCHEDSTAT = "/proc/thread-self/schedstat"
REFRESH_S = 0.01

#: ``(wall clock at the start, CPU wait as last read, wall clock when it was read)``
Mark = tuple[float, float, float]


class _Handle:
    """This thread's schedstat file, kept open; closed with the thread."""

    __slots__ = ("fd",)

    def __init__(self) -> None:
        try:
            self.fd: int | None = os.open(_SCHEDSTAT, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.fd = None

    def __del__(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)


class _PerThread(threading.local):
    handle: _Handle | None = None
    waited: float = 0.0  # the counter as last read ...
    read_at: float = float("-inf")  # ... and the wall clock just before that read


_local = _PerThread()


def waited_for_cpu_s() -> float:
    """Seconds this thread has spent runnable but not running, since it began (0.0 where unknown)."""
    handle = _local.handle
    if handle is None:
        handle = _local.handle = _Handle()
    if handle.fd is None:
        return 0.0
    try:
        return int(os.pread(handle.fd, 64, 0).split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def mark() -> Mark:
    """The start of a timed call: the wall clock, and the CPU wait as read at most ``REFRESH_S`` before."""
    now = time.perf_counter()
    local = _local
    if now - local.read_at > REFRESH_S:
        local.read_at = now
        local.waited = waited_for_cpu_s()
    return now, local.waited, local.read_at


def held_s(since: Mark, threshold_s: float) -> float:
    """Seconds since ``since`` (from :func:`mark`); from ``threshold_s`` on, less the CPU wait proved inside.

    Below the threshold it is the wall clock, and nothing is read. At or
    over it, the wait since the counter was read, less the stretch between
    that read and the call's start (the most of it that can lie before the
    call), is taken off.
    """
    started, waited, read_at = since
    held = time.perf_counter() - started
    if held < threshold_s:
        return held
    inside = waited_for_cpu_s() - waited - (started - read_at)
    return held - max(0.0, inside)
