"""Callers: the intake systems allowed to use the gateway, and how each proves who it is.

* :mod:`~gateway.callers.model` -- :class:`~gateway.callers.model.Caller`, an authenticated intake system
* :mod:`~gateway.callers.authenticator` -- the seam: ``await authenticate(request, body)``, trying each
  method a caller may use, every refusal audited and counted
* :mod:`~gateway.callers.api_keys` -- bearer API keys (where the district allows them)
* :mod:`~gateway.callers.signatures` -- signed requests: HTTP Message Signatures (RFC 9421) with Content-Digest
  (RFC 9530), nonces remembered in the store
* :mod:`~gateway.callers.keys` -- callers' signing keys: HMAC secrets sealed under the seal passphrase,
  Ed25519 public keys in the clear, two at most per caller during a rotation
* :mod:`~gateway.callers.signing_client` -- signing a request as a caller does (``onewindow call``, tests)
* :mod:`~gateway.callers.sample_key` -- the sample district's window gets a signing key (``make run``)

A method is a small class with a ``name`` and ``async def authenticate(request, body) -> Caller | None``
(None: the request carries no credential of this kind); adding one (mutual TLS) touches no route.

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["api_keys", "authenticator", "keys", "model", "sample_key", "signatures", "signing_client"]
