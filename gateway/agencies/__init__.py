"""The agencies: plugins found and loaded, and every call to an agency system.

* :mod:`~gateway.agencies.plugin_manager` -- finding plugins (entry points) and calling their hooks
* :mod:`~gateway.agencies.installed` -- the installed agencies and their catalogues, checked at start-up
* :mod:`~gateway.agencies.guard` -- the hook boundary: each plugin call guarded, timed for loop blocking, named
* :mod:`~gateway.agencies.extranet` -- the one egress: sessions, deadlines, retries, the dedupe key
* :mod:`~gateway.agencies.breaker` -- a circuit breaker per agency
* :mod:`~gateway.agencies.sandboxes` -- the installed plugins' sandboxes, and settings routed to them

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["breaker", "extranet", "guard", "installed", "plugin_manager", "sandboxes"]
