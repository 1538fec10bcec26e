"""What the gateway tells its operators: events, log lines and metrics.

* :mod:`~gateway.observability.events` -- every step of every request, told to each sink (log, audit log)
* :mod:`~gateway.observability.logs` -- structured JSON logs with personal data masked on every line
* :mod:`~gateway.observability.metrics` -- Prometheus metrics fed by events and agency attempts
* :mod:`~gateway.observability.state_gauges` -- scrape-time gauges: seal expiry, the trust bundle, the audit log

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["events", "logs", "metrics", "state_gauges"]
