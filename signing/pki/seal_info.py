"""DER for the one private X.509 extension seals carry.

``cryptography`` writes unknown extensions as raw bytes, so we encode the
extension value ourselves.  Only the four ASN.1 types the extension uses
are supported, and the decoder is strict (definite, minimal lengths; no
trailing bytes) so that a malformed certificate is refused, not guessed at.

    SealInfo ::= SEQUENCE {
        version       INTEGER (1),
        sealNumber    UTF8String,
        kind          UTF8String,   -- "service_centre" | "delegated_approval"
        holderOffice  UTF8String,   -- 12-digit administrative division code
        holderName    UTF8String,
        scope         SEQUENCE OF UTF8String   -- empty: every item of the kind
    }
"""

from __future__ import annotations

from dataclasses import dataclass

from signing.errors import CertificateFormatError

# Private arc derived from a UUID (ITU-T X.667): no registration needed.
# UUID ffe226e5-1050-4196-8387-5768e861024c
OID_ARC = "2.25.340127386895045357117549440524861112908"
SEAL_INFO_OID = OID_ARC + ".1"
SEAL_INFO_VERSION = 1

_INTEGER, _UTF8, _SEQUENCE = 0x02, 0x0C, 0x30


@dataclass(frozen=True)
class SealInfo:
    """What a seal certificate says about the seal (the extension's content)."""

    number: str
    kind: str
    office: str
    holder_name: str
    scope: tuple[str, ...]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _utf8(text: str) -> bytes:
    return _tlv(_UTF8, text.encode("utf-8"))


def encode_seal_info(info: SealInfo) -> bytes:
    """DER-encode ``info`` as the ``SealInfo`` structure above."""
    scope = _tlv(_SEQUENCE, b"".join(_utf8(item) for item in info.scope))
    body = (
        _tlv(_INTEGER, bytes([SEAL_INFO_VERSION]))
        + _utf8(info.number)
        + _utf8(info.kind)
        + _utf8(info.office)
        + _utf8(info.holder_name)
        + scope
    )
    return _tlv(_SEQUENCE, body)


def _read(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """Read one TLV with the expected tag at ``pos``; return content, next pos."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise CertificateFormatError(f"seal extension: expected tag 0x{tag:02x} at byte {pos}")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        size = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise CertificateFormatError("seal extension: bad length")
        size = int.from_bytes(data[pos : pos + count], "big")
        if size < 0x80 or data[pos] == 0:
            raise CertificateFormatError("seal extension: length not in minimal DER form")
        pos += count
    end = pos + size
    if end > len(data):
        raise CertificateFormatError("seal extension: truncated")
    return data[pos:end], end


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise CertificateFormatError("seal extension: invalid UTF-8") from None


def decode_seal_info(der: bytes) -> SealInfo:
    """Parse the extension value; raise :class:`CertificateFormatError` if malformed."""
    body, end = _read(der, 0, _SEQUENCE)
    if end != len(der):
        raise CertificateFormatError("seal extension: trailing bytes")
    version, pos = _read(body, 0, _INTEGER)
    if version != bytes([SEAL_INFO_VERSION]):
        raise CertificateFormatError("seal extension: unsupported version")
    fields = []
    for _ in range(4):
        content, pos = _read(body, pos, _UTF8)
        fields.append(_text(content))
    scope_body, pos = _read(body, pos, _SEQUENCE)
    if pos != len(body):
        raise CertificateFormatError("seal extension: unexpected fields")
    scope = []
    inner = 0
    while inner < len(scope_body):
        content, inner = _read(scope_body, inner, _UTF8)
        scope.append(_text(content))
    return SealInfo(fields[0], fields[1], fields[2], fields[3], tuple(scope))
