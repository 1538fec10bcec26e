"""Chained items (一链办理): several catalogue items run in one flow, in order, each feeding the next.

* :mod:`~gateway.bundles.chains` -- chains as catalogue data (``chains.toml``): steps and their input mappings
* :mod:`~gateway.bundles.guide` -- a chain's service guide
* :mod:`~gateway.bundles.checking` -- a bundle body checked whole, every step at once, before any runs
* :mod:`~gateway.bundles.runner` -- advancing a bundle: its steps as requests, resumed, picked up after a restart
* :mod:`~gateway.bundles.receipt` -- the sealed bundle receipt naming every step's sealed result
* :mod:`~gateway.bundles.service` -- accepting, answering, resuming and showing bundles

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["chains", "guide", "runner", "service"]
