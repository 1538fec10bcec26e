"""JSON formats: I-JSON parsing (RFC 7493), canonical JSON (RFC 8785), JWS with a detached payload (RFC 7515).

* :mod:`~signing.jose.ijson` -- strict parsing (RFC 7493 I-JSON): what every document is read with
* :mod:`~signing.jose.jcs` -- the canonical bytes a seal signs
* :mod:`~signing.jose.jws` -- detached compact JWS: sign, split, base64url
* :mod:`~signing.jose.header_cache` -- a verifier's cache of the static parts of seal headers

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["header_cache", "ijson", "jcs", "jws"]
