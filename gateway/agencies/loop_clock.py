"""A clock for "how long did this call hold the event loop" that a busy machine does not fool.

Wall time counts the moments the loop's thread was ready to run but waited
for a CPU (other processes, other threads): on a loaded host every call
looks slow, and a plugin would be named for the machine's load. Linux
counts that wait per thread (``/proc/thread-self/schedstat``, its second
field): :func:`loop_clock` is the wall clock less it, so a plugin is timed
only for what it did or waited on itself -- its CPU, a blocking sleep or
read. Where the kernel does not say, it is the wall clock.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

_SCHEDSTAT = "/proc/thread-self/schedstat"


class _Handle:
    """This thread's schedstat file, kept open (a read costs about a microsecond); closed with the thread."""

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


def loop_clock() -> float:
    """``time.perf_counter()`` less the time this thread waited for a CPU: differences time the thread's own work."""
    return time.perf_counter() - waited_for_cpu_s()
