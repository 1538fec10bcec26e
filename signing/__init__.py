"""Onewindow seals: district PKI, numbered seal registry, sealing and offline verification.

This package imports nothing from ``gateway``: security staff install it
alone (distribution ``onewindow-signing``).  The names below are the API the
gateway uses; ``docs/seals.md`` specifies the sealed-document format.
"""

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
from signing.jose.jcs import canonicalize
from signing.keys.algorithms import DEFAULT_KEY_TYPE, ES256, ES384, KEY_TYPES, KeyType
from signing.keys.passphrase import load_passphrase
from signing.keys.signers import FileSigner, Signer
from signing.model import Seal, SealKind, SealStatus
from signing.registry.sample import SAMPLE_OFFICES, create_sample_district
from signing.registry.seal_registry import SealRegistry
from signing.sealing import SealedDocument, seal_and_digest, seal_document, sign_and_digest, sign_document
from signing.stamp import render_stamp_svg
from signing.verify.report import Check, Indication, SubIndication, VerificationReport
from signing.verify.trust import TrustBundle, load_trust_bundle
from signing.verify.verifier import verify_document

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
    "SealedDocument",
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
    "seal_and_digest",
    "seal_document",
    "sign_and_digest",
    "sign_document",
    "verify_document",
]
