"""JSON signing formats: RFC 8785 canonical JSON and RFC 7515 JWS with a detached payload.

* :mod:`~signing.jose.jcs` -- the canonical bytes a seal signs
* :mod:`~signing.jose.jws` -- detached compact JWS: sign, split, base64url
* :mod:`~signing.jose.header_cache` -- a verifier's cache of the static parts of seal headers

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["header_cache", "jcs", "jws"]
