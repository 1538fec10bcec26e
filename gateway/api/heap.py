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

import gc


def settle_heap() -> int:
    """Collect, then freeze what start-up left out of the collector's walks; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
