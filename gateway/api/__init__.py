"""The HTTP API (aiohttp): routes, middlewares, the OpenAPI document, and the server that runs them.

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["app", "event_loop", "server"]
