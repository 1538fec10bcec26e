"""The exception tree of the signing package.

Callers catch at the level they care about: ``SigningError`` for "anything
about seals went wrong", or a leaf such as ``PassphraseError`` to tell the
operator exactly what to fix.  Verification never raises for a bad
*document* (it returns a report); these are for bad *inputs and setup*.
"""

from __future__ import annotations


class SigningError(Exception):
    """Base of every error raised by ``signing``."""


class CanonicalizationError(SigningError, ValueError):
    """A value cannot be expressed in RFC 8785 canonical JSON."""


class PassphraseError(SigningError):
    """The key passphrase is missing, unreadable or wrong."""


class KeyStoreError(SigningError):
    """A private key cannot be stored, found or used (file or PKCS#11)."""


class RegistryError(SigningError):
    """The seal registry refused an operation or is unreadable."""


class SealNotFoundError(RegistryError, LookupError):
    """No seal with that number exists in the registry."""


class TrustBundleError(SigningError):
    """A trust bundle is malformed, or its signature does not verify."""


class SealingError(SigningError):
    """A document cannot be sealed (policy check failed or bad input)."""


class CertificateFormatError(SigningError):
    """A certificate lacks the seal extension or carries a malformed one."""
