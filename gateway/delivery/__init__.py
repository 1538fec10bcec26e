"""Delivery: a recorded request taken to its agency, settled, sealed, and its caller told.

* :mod:`~gateway.delivery.accepted` -- an accepted request: its envelope, stored form and plugin view
* :mod:`~gateway.delivery.delivery` -- submit and poll through the extranet, settle what comes back
* :mod:`~gateway.delivery.failures` -- defer, fail, retry later or give up when an agency cannot be used
* :mod:`~gateway.delivery.transitions` -- the one owner of guarded status changes
* :mod:`~gateway.delivery.results` -- result documents and request resources, as callers see them
* :mod:`~gateway.delivery.outbox` -- workers that redeliver, poll and call back
* :mod:`~gateway.delivery.callbacks` -- signed callbacks to intake systems

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["accepted", "callbacks", "delivery", "outbox", "results"]
