"""JWS (RFC 7515) compact serialization with a detached payload (Appendix F).

A sealed document carries ``BASE64URL(header) + ".." + BASE64URL(signature)``;
the payload is re-created by the verifier from the document itself, and
the signing input is the usual ``BASE64URL(header) "." BASE64URL(payload)``.

Base64 maps every 3 input bytes to 4 characters independently, so when a
header starts with a part that is the same for every document of a seal
and is a multiple of 3 bytes long, its base64url text is a fixed prefix of
every such header's text.  The sealer encodes that part once per seal and
``signing.jose.header_cache`` parses it once per verifier.
"""

from __future__ import annotations

import binascii
from typing import Any, Protocol

from signing.errors import IJsonError, JwsFormatError, NotJsonError
from signing.jose import ijson
from signing.keys.signers import Signer


class HeaderParser(Protocol):
    """Parses protected headers, e.g. :class:`signing.jose.header_cache.HeaderCache`."""

    def parse(self, header_b64: str) -> dict[str, Any]:
        """The header as a JSON object; :class:`JwsFormatError` when it is not one."""
        ...


_TO_URL = bytes.maketrans(b"+/", b"-_")
_FROM_URL = bytes.maketrans(b"-_", b"+/")
_URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64url_bytes(data: bytes) -> bytes:
    """Unpadded base64url as ASCII bytes (what goes into a signing input)."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=")


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return b64url_bytes(data).decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url`: no padding, no foreign characters."""
    if not isinstance(text, str) or len(text) % 4 == 1 or not text.isascii():
        raise JwsFormatError("not unpadded base64url")
    raw = text.encode("ascii")
    if raw.translate(None, _URL_ALPHABET):  # anything left is not base64url
        raise JwsFormatError("not unpadded base64url")
    try:
        return binascii.a2b_base64(raw.translate(_FROM_URL) + b"=" * (-len(raw) % 4))
    except binascii.Error:  # pragma: no cover - the alphabet check guards this
        raise JwsFormatError("not unpadded base64url") from None


def signing_input(header_b64: str, payload: bytes) -> bytes:
    """``ASCII(BASE64URL(header) || '.' || BASE64URL(payload))``."""
    return header_b64.encode("ascii") + b"." + b64url_bytes(payload)


def sign_detached(header_json: bytes, payload: bytes, signer: Signer) -> str:
    """Sign and return the compact form with the payload part left empty."""
    header_b64 = b64url_bytes(header_json)
    signature = signer.sign(header_b64 + b"." + b64url_bytes(payload))
    return f"{header_b64.decode('ascii')}..{b64url(signature)}"


def parse_detached(token: str, cache: HeaderParser | None = None) -> tuple[str, dict[str, Any], bytes]:
    """Split a detached compact JWS into (header_b64, header, signature).

    With ``cache``, the header is parsed through it: same result, same
    errors, less work for headers whose static part it has seen.
    """
    if not isinstance(token, str):
        raise JwsFormatError("JWS must be a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise JwsFormatError("compact JWS must have three parts")
    header_b64, payload_part, signature_b64 = parts
    if payload_part:
        raise JwsFormatError("payload part must be empty (detached payload)")
    header = cache.parse(header_b64) if cache is not None else parse_header(header_b64)
    return header_b64, header, b64url_decode(signature_b64)


def parse_header(header_b64: str) -> dict[str, Any]:
    """Decode and parse a protected header; :class:`JwsFormatError` if it is not a JSON object."""
    return load_header_json(b64url_decode(header_b64))


def load_header_json(raw: bytes) -> dict[str, Any]:
    """Decoded header bytes parsed as I-JSON (RFC 7515 section 5.2 step 4), which must be a JSON object.

    A member name twice is refused, naming it: RFC 7515 lets a JWS parser
    reject duplicates or keep the last, and two verifiers that differ there
    read two different headers from one token.
    """
    try:
        header = ijson.loads(raw)
    except NotJsonError:
        raise JwsFormatError("protected header is not JSON") from None
    except IJsonError as exc:
        raise JwsFormatError(f"protected header is not I-JSON: {exc}") from None
    if not isinstance(header, dict):
        raise JwsFormatError("protected header is not a JSON object")
    return header
