"""TLS on the gateway's listener, and callers who prove who they are with a district client certificate.

* :mod:`~gateway.tls.context` -- the server's SSL context: its certificate, the client CA, the mode
* :mod:`~gateway.tls.identity` -- the caller a connection's client certificate names (mutual TLS)

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["context", "identity"]
