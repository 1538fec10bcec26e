"""The command line of the seal package, one module per command.

* :mod:`~signing.cli.arguments` -- the registry directory (``--pki``, ``$ONEWINDOW_PKI_DIR``), times, JSON output
* :mod:`~signing.cli.main` -- ``register`` (for the gateway's ``onewindow``) and ``main`` (standalone)
* :mod:`~signing.cli.seal` -- ``seal init-district|issue|list|show|revoke|suspend|reinstate|export-trust``
* :mod:`~signing.cli.verify` -- ``verify FILE --trust BUNDLE`` (a sealed result or a PDF printout)
* :mod:`~signing.cli.render` -- ``render RESULT.json --out FILE.pdf``: the signed printout, offline
* :mod:`~signing.cli.trust` -- ``trust pin|unpin|list``: pinned district roots
* :mod:`~signing.cli.audit` -- ``audit check-proof``, offline

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["arguments", "audit", "main", "seal"]
