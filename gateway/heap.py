"""The serving process's heap, settled once start-up is done.

What start-up builds -- modules, the catalogue, configuration, keys, some
80,000 objects -- lives as long as the process, yet every full collection
of Python's cyclic garbage collector walks all of it again: 30 to 45 ms
with the event loop stopped, measured under load on the 2-core machine, a
pause that every request then in flight waits out (and that a plugin call
under way would be timed for). :func:`settle_heap` collects once, then
freezes what is left (``gc.freeze()``): those objects are never walked
again, and a full collection walks only what was made since (about 3 ms).

The young generations keep Python's thresholds: collecting them ten times
as seldom cut the collector's own time per request from 0.11 to 0.02 ms,
but the process spent no less CPU per request in alternating rounds
(bench/README.md).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


def settle_heap() -> int:
    """Collect, then freeze what start-up left out of the collector's walks; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextlib.contextmanager
def settled_heap() -> Iterator[None]:
    """:func:`settle_heap` for a while, then the frozen objects handed back to the collector.

    For the contract kit's hold test: a long pytest run builds a large heap,
    and a full collection that falls inside a plugin's call would walk all
    of it (up to 90 ms seen) and be timed against the plugin.
    """
    settle_heap()
    try:
        yield
    finally:
        gc.unfreeze()
