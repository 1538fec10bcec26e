"""The PAdES signature of a printout, made with the numbered seal's own key (pyHanko).

ETSI EN 319 142-1 baseline: PAdES-B-B (a CMS signature, ``ETSI.CAdES.detached``,
with the signing certificate attribute and the seal certificate and district
root embedded), PAdES-B-T when a time-stamping authority (RFC 3161) is
given.  pyHanko writes the PDF signature; the key stays where it is: the
seal's :class:`~signing.keys.signers.Signer` (a key file or a PKCS#11
token) signs the CMS signed attributes, and its raw ``R || S`` becomes the
DER ``ECDSA-Sig-Value`` CMS expects.  The signature field lies over the
drawn stamp, with an empty appearance: the stamp stays the one printed
page content, and clicking it in a reader opens the signature.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from signing.errors import PrintoutError
from signing.keys.algorithms import key_type_for_alg
from signing.keys.signers import Signer
from signing.model import Seal
from signing.printout.libraries import require_pdf_libraries

SIGNATURE_FIELD = "OnewindowSeal"


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    """What the signature dictionary says in words: who, where, why."""

    name: str  # the holder of the seal
    location: str  # the accepting office
    reason: str
    signed_at: datetime


def _cms_signer_class() -> type:
    require_pdf_libraries()
    from asn1crypto import algos
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.signers.pdf_cms import Signer as CmsSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    class SealCmsSigner(CmsSigner):
        """pyHanko's signer interface over our Signer: the CMS is pyHanko's, the key ours."""

        def __init__(self, signer: Signer, seal: Seal) -> None:
            key_type = key_type_for_alg(signer.algorithm)
            if key_type is None or key_type != seal.key_type:
                raise PrintoutError(f"the signer's {signer.algorithm} key does not match seal {seal.number}")
            self._signer, self._key_type = signer, key_type
            chain = [asn1_x509.Certificate.load(der) for der in seal.chain]
            super().__init__(
                signing_cert=asn1_x509.Certificate.load(seal.certificate_der),
                cert_registry=SimpleCertificateStore.from_certs(chain),
                signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": f"{key_type.hash_name}_ecdsa"}),
                embed_roots=True,
            )

        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
            if digest_algorithm != self._key_type.hash_name:
                raise PrintoutError(f"a {self._key_type.alg} seal signs with {self._key_type.hash_name} only")
            size = self._key_type.signature_size // 2
            if dry_run:  # the largest DER ECDSA-Sig-Value: pyHanko sizes the placeholder with it
                return bytes(8 + 2 * (size + 1))
            raw = self._signer.sign(data)
            r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
            return encode_dss_signature(r, s)

    return SealCmsSigner


def _blank_style() -> Any:
    from pyhanko.stamp.base import BaseStamp, BaseStampStyle

    @dataclass(frozen=True)
    class BlankStyle(BaseStampStyle):
        """No border, no text, no font: the stamp under the field is the appearance people see."""

        border_width: int = 0

        def create_stamp(self, writer: Any, box: Any, text_params: dict[str, Any]) -> Any:
            return BlankStamp(writer, self, box)

    class BlankStamp(BaseStamp):
        def _render_inner_content(self) -> list[bytes]:
            return []

    return BlankStyle()


def _whole_points(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """The field's rectangle in whole points, never smaller than the stamp it lies over."""
    x1, y1, x2, y2 = box
    return math.floor(x1), math.floor(y1), math.ceil(x2), math.ceil(y2)


def sign_pdf(
    pdf: bytes,
    signer: Signer,
    seal: Seal,
    info: SignatureInfo,
    *,
    page: int,
    box: tuple[float, float, float, float],
    timestamp_url: str | None = None,
) -> bytes:
    """Sign ``pdf`` (PAdES-B-B; B-T with ``timestamp_url``) as an incremental update; returns the signed file."""
    require_pdf_libraries()
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers, timestamps

    if not seal.chain:
        raise PrintoutError(f"seal {seal.number} carries no issuer chain; load it from the registry")
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm=seal.key_type.hash_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        name=info.name,
        location=info.location,
        reason=info.reason,
    )
    timestamper = timestamps.HTTPTimeStamper(timestamp_url) if timestamp_url else None
    pdf_signer = signers.PdfSigner(
        meta,
        signer=_cms_signer_class()(signer, seal),
        timestamper=timestamper,
        new_field_spec=fields.SigFieldSpec(SIGNATURE_FIELD, on_page=page, box=_whole_points(box)),
        stamp_style=_blank_style(),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.document_meta.last_modified = info.signed_at
    out = io.BytesIO()
    try:
        pdf_signer.sign_pdf(writer, output=out)
    except Exception as exc:  # pyHanko's errors carry no common base we could name; say what failed
        if isinstance(exc, PrintoutError):
            raise
        raise PrintoutError(f"cannot sign the printout with seal {seal.number}: {exc}") from exc
    return out.getvalue()
