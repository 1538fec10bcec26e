"""The event loop a serving process runs on: uvloop by default, asyncio's own on request.

The gateway's event loop is the bound on its throughput (one thread runs
every request's Python). uvloop -- libuv's loop for asyncio, written in
Cython -- runs the same coroutines with less of that thread's time spent in
the loop itself: scheduling callbacks, timers, sockets. Measured in
alternating rounds against asyncio's loop (bench/README.md, "Seventh
round"), the gateway served about 6 % more requests a second, each for
about 6 % less CPU. ``[server] event_loop = "asyncio"`` runs the
standard library's loop instead (to debug with ``PYTHONASYNCIODEBUG``, or
on a platform without uvloop). Only serving processes choose: the
commands that run once use ``asyncio.run`` as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from gateway.errors import StartupError

T = TypeVar("T")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the named loop (None: asyncio's default); a missing uvloop is a one-line start-up error."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        raise StartupError(
            'server.event_loop is "uvloop" but uvloop is not installed: install it, or set '
            'server.event_loop = "asyncio"'
        ) from None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], *, event_loop: str) -> T:
    """``asyncio.run(main)`` on the named event loop."""
    try:
        factory = loop_factory(event_loop)
    except StartupError:
        main.close()  # never awaited: said so here rather than warned about at exit
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: the loop a process runs on, as ``server.event_loop`` names it."""
    return "uvloop" if type(loop).__module__.partition(".")[0] == "uvloop" else "asyncio"
