"""Per-caller limits: how many requests an intake system may make in a window, and how many at once.

* :mod:`~gateway.limits.admission` -- admitting a caller's request under its limits, or 429
* :mod:`~gateway.limits.counters` -- the counts, in the store, shared by every instance

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["admission"]
