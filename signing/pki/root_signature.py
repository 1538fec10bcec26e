"""Documents the district root signs: a detached JWS over their JCS bytes, made and checked one way.

The trust bundle and the registry's acts are JSON objects the root vouches
for. Each carries, in ``signature``, a compact JWS with a detached payload
(RFC 7515 Appendix F) whose payload is JCS (RFC 8785) of the object without
``signature``, and whose header names the root by its thumbprint
(``x5t#S256``) and the document kind (``typ``). The key decides the
algorithm, never the header: ES384 for a P-384 root, ES256 for P-256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from signing.errors import JwsFormatError
from signing.jose.jcs import canonicalize
from signing.jose.jws import b64url, parse_detached, sign_detached, signing_input
from signing.keys.algorithms import key_type_of
from signing.keys.signers import FileSigner


def sign_by_root(body: Mapping[str, Any], root_key: ec.EllipticCurvePrivateKey, root_der: bytes, typ: str) -> str:
    """The ``signature`` member for ``body`` (which must not hold one yet)."""
    signer = FileSigner(root_key)
    header = {"alg": signer.algorithm, "typ": typ, "x5t#S256": b64url(hashlib.sha256(root_der).digest())}
    return sign_detached(json.dumps(header, separators=(",", ":")).encode(), canonicalize(dict(body)), signer)


def root_signature_problem(doc: Mapping[str, Any], root: x509.Certificate, typ: str, what: str) -> str | None:
    """Why ``doc["signature"]`` is not the root's signature over the rest of ``doc``; None when it is.

    The answer reads after the document's name: ``f"trust bundle {problem}"``;
    ``what`` names the document inside it (``"the bundle"``).
    """
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        header_b64, header, signature = parse_detached(doc.get("signature"))  # type: ignore[arg-type]
    except JwsFormatError as exc:
        return f"signature is malformed: {exc}"
    root_der = root.public_bytes(Encoding.DER)
    if header.get("x5t#S256") != b64url(hashlib.sha256(root_der).digest()):
        return "signature was not made by the district root"
    if header.get("typ") != typ:
        return f"signature is for a {header.get('typ')!r}, not a {typ!r}"
    public_key = root.public_key()
    key_type = key_type_of(public_key)
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or key_type is None:
        return "the root key is not ECDSA P-384 or P-256"
    if header.get("alg") != key_type.alg:
        return f"signature says alg {header.get('alg')!r}, but the root's {key_type.nist_name} key signs {key_type.alg}"
    try:
        payload = canonicalize(body)
    except ValueError as exc:
        return f"content is not canonicalizable: {exc}"
    if not key_type.verify(public_key, signature, signing_input(header_b64, payload)):
        return f"signature does not verify: {what} was altered after the root signed it"
    return None
