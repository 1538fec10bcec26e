"""The district PKI in X.509: the root CA, seal certificates and their extension, the CRL.

* :mod:`~signing.pki.certificates` -- building and reading the certificates and the CRL
* :mod:`~signing.pki.seal_info` -- DER of the one private extension seal certificates carry
"""
