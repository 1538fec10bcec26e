"""The serving process's heap, settled once start-up is done.

What start-up builds -- modules, the catalogue, configuration, keys, some
80,000 objects -- lives as long as the process, yet every full collection
of Python's cyclic garbage collector walks all of it again: 30 to 45 ms
with the event loop stopped, measured under load on the 2-core machine, a
pause that every request then in flight waits out (and that a plugin call
under way would be timed for). :func:`settle_heap` collects once, then
freezes what is left (``gc.freeze()``): those objects are never walked
again, and a full collection walks only what was made since.

The youngest generation is collected after :data:`YOUNG_GENERATION`
allocations instead of 700: a request makes thousands of short-lived
objects, and collecting them that much more seldom cut the collector's
time from 0.11 to 0.02 ms per request (bench/README.md), for at most that
many more objects waiting to be freed.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION = 10_000


def settle_heap() -> int:
    """Collect, freeze what start-up left, collect the young generation less often; the objects frozen."""
    gc.collect()
    gc.freeze()
    older = gc.get_threshold()[1:]
    gc.set_threshold(YOUNG_GENERATION, *older)
    return gc.get_freeze_count()
