"""The district seal registry: a directory holding the root, every seal and its history.

* :mod:`~signing.registry.seal_registry` -- :class:`SealRegistry`: init, issue, revoke, suspend, reinstate
* :mod:`~signing.registry.state_file` -- ``registry.json``, written atomically
* :mod:`~signing.registry.seal_keys` -- where each seal's key lives (file or token), and opening a signer for it
* :mod:`~signing.registry.status_changes` -- revoke, suspend, reinstate
* :mod:`~signing.registry.acts` -- the act log: every change, signed by the root, checked by anyone with the root
* :mod:`~signing.registry.publishing` -- the signed trust bundle and the local trust view
* :mod:`~signing.registry.sample` -- a sample district for demos and tests
* :mod:`~signing.registry.tls_register` -- the TLS client and server certificates the root issued, and revoked

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["acts", "sample", "seal_keys", "seal_registry", "state_file", "tls_register"]
