"""The exception tree of the signing package.

Callers catch at the level they care about::

    SigningError                    anything about seals or audit proofs went wrong
    ├── CanonicalizationError       a value has no RFC 8785 canonical form
    ├── IJsonError                  a text is not I-JSON (RFC 7493): duplicate names, lone surrogates, too deep
    │   └── NotJsonError            not even JSON: bad syntax or not UTF-8
    ├── PassphraseError             a key passphrase is missing, unreadable or wrong
    ├── KeyStoreError               a private key cannot be stored, found or used
    ├── RegistryError               the seal registry refused an operation or is unreadable
    │   └── SealNotFoundError       no seal with that number
    ├── TrustBundleError            a trust bundle is malformed or its signature fails
    ├── SealingError                a document cannot be sealed
    ├── CertificateFormatError      a certificate lacks or garbles the seal extension
    ├── JwsFormatError              not a well-formed detached compact JWS
    ├── CheckpointFormatError       not a well-formed audit checkpoint or proof file
    ├── ProofError                  a Merkle proof cannot be checked
    ├── BundleFormatError           not a well-formed audit export bundle
    ├── EntryFormatError            not a well-formed audit entry
    └── PrintoutError               a printout cannot be rendered or signed (no font, no PDF extra, bad layout)
        └── LayoutError             a printout layout declaration is malformed

Verification never raises for a bad *document* (it returns a report); these
are for bad *inputs and setup*. The format errors are also ``ValueError``,
as they were before they joined the tree.
"""

from __future__ import annotations


class SigningError(Exception):
    """Base of every error raised by ``signing``."""


class CanonicalizationError(SigningError, ValueError):
    """A value cannot be expressed in RFC 8785 canonical JSON."""


class IJsonError(SigningError, ValueError):
    """A text is not I-JSON (RFC 7493): not JSON, a member name twice, a lone surrogate, nested too deeply.

    ``limit`` names the parser's limit it went over (``"max_depth"`` or ``"max_members"``), else None.
    """

    def __init__(self, message: str, *, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class NotJsonError(IJsonError):
    """A text is not JSON at all (syntax, encoding), as opposed to JSON that I-JSON forbids.

    Verifiers tell the two apart: a file that is not JSON is bad input, while
    JSON with a duplicate member name is a sealed document that fails (FORMAT_FAILURE).
    """


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


class JwsFormatError(SigningError, ValueError):
    """The token is not a well-formed detached compact JWS."""


class CheckpointFormatError(SigningError, ValueError):
    """Bytes or JSON that are not a well-formed checkpoint or proof file."""


class ProofError(SigningError, ValueError):
    """A proof cannot be checked: wrong shape, sizes out of range, or a mismatch."""


class BundleFormatError(SigningError, ValueError):
    """Not a well-formed audit bundle."""


class EntryFormatError(SigningError, ValueError):
    """Bytes that are not a well-formed audit entry."""


class PrintoutError(SigningError):
    """A sealed document cannot be rendered as a signed PDF printout."""


class LayoutError(PrintoutError, ValueError):
    """A printout layout (an item's ``[items.printout]``, a layout file) is malformed."""
