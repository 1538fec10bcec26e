"""Offline verification of sealed documents, with an ETSI EN 319 102-1 verdict.

* :mod:`~signing.verify.reading` -- :func:`verify_text`: strict parsing (I-JSON), request resources unwrapped
* :mod:`~signing.verify.verifier` -- :func:`verify_document`, step by step
* :mod:`~signing.verify.report` -- the verdict: indications, sub-indications, checks, plain words
* :mod:`~signing.verify.revocation` -- status at the signing time, and proof of existence (printouts use it too)
* :mod:`~signing.verify.trust` -- the trust bundle everything is judged against
* :mod:`~signing.verify.pinning` -- which roots are trusted: pinned fingerprints, the trust store, first use

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["pinning", "reading", "report", "revocation", "trust", "verifier"]
