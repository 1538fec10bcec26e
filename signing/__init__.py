"""Onewindow seals: district PKI, numbered seal registry, sealing and offline verification.

This package imports nothing from ``gateway``: security staff install it
alone (distribution ``onewindow-signing``).  The names below are the API the
gateway uses; ``docs/seals.md`` specifies the sealed-document format.
"""

from signing.algorithms import DEFAULT_KEY_TYPE, ES256, ES384, KEY_TYPES, KeyType
from signing.errors import (
    CanonicalizationError,
    CertificateFormatError,
    KeyStoreError,
    PassphraseError,
    RegistryError,
    SealingError,
    SealNotFoundError,
    SigningError,
    TrustBundleError,
)
from signing.jcs import canonicalize
from signing.keys import FileSigner, Signer, load_passphrase
from signing.model import Seal, SealKind, SealStatus
from signing.registry import SealRegistry
from signing.report import Check, Indication, SubIndication, VerificationReport
from signing.sample import SAMPLE_OFFICES, create_sample_district
from signing.sealing import seal_document, sign_document
from signing.stamp import render_stamp_svg
from signing.trust import TrustBundle, load_trust_bundle
from signing.verify import verify_document

__all__ = [
    "DEFAULT_KEY_TYPE",
    "ES256",
    "ES384",
    "KEY_TYPES",
    "SAMPLE_OFFICES",
    "CanonicalizationError",
    "CertificateFormatError",
    "Check",
    "FileSigner",
    "Indication",
    "KeyStoreError",
    "KeyType",
    "PassphraseError",
    "RegistryError",
    "Seal",
    "SealKind",
    "SealNotFoundError",
    "SealRegistry",
    "SealStatus",
    "SealingError",
    "Signer",
    "SigningError",
    "SubIndication",
    "TrustBundle",
    "TrustBundleError",
    "VerificationReport",
    "canonicalize",
    "create_sample_district",
    "load_passphrase",
    "load_trust_bundle",
    "render_stamp_svg",
    "seal_document",
    "sign_document",
    "verify_document",
]
