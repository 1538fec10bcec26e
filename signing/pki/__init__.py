"""The district PKI in X.509: the root CA, seal certificates and their extension, the CRL.

* :mod:`~signing.pki.certificates` -- building and reading the certificates and the CRL
* :mod:`~signing.pki.seal_info` -- DER of the one private extension seal certificates carry
* :mod:`~signing.pki.tls_certificates` -- the TLS profiles: a client certificate naming an intake caller, a server one
* :mod:`~signing.pki.root_signature` -- documents the root signs (trust bundle, registry acts): sign and check

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["certificates", "root_signature", "seal_info", "tls_certificates"]
