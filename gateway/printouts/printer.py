"""The printout of one completed request: the item's layout, the seal that sealed it, this gateway's URL.

Drawing and signing take some 60 ms of CPU per page set (and a
time-stamping authority's round trip for B-T), so they run in a worker
thread, never on the event loop.  Each call renders afresh (the
pages are the same for the same document; the PAdES signature carries
the time it was made) and records ``printout.issued`` in the audit log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.catalogue.items import Catalogue
from gateway.config import Settings
from gateway.errors import PrintoutUnavailable, SealUnavailable
from signing.errors import SigningError
from signing.printout.layout import GENERIC, Layout
from signing.printout.render import PrintoutOptions, render_printout

PDF_MEDIA_TYPE = "application/pdf"


@dataclass(frozen=True, slots=True)
class Printed:
    """A signed printout, ready to send."""

    pdf: bytes
    filename: str
    pades_level: str  # "B-B", or "B-T" with a time-stamping authority


def layout_for(catalogue: Catalogue, item: str) -> Layout:
    """The item's declared layout, or the generic one (also for an item no longer in the catalogue)."""
    found = catalogue.get(item)
    return found.printout if found is not None and found.printout is not None else GENERIC


def timestamp_roots(settings: Settings) -> tuple[bytes, ...]:
    """DER certificates of the time-stamping authority roots in ``[printouts] timestamp_roots_file``."""
    path = settings.printouts.timestamp_roots_file
    if not path:
        return ()
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        certificates = x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise PrintoutUnavailable(f"printouts.timestamp_roots_file {path}: {exc}") from None
    return tuple(cert.public_bytes(Encoding.DER) for cert in certificates)


def _render(gateway: Any, document: dict[str, Any], layout: Layout | None) -> bytes:
    seal_block = document.get("seal")
    number = seal_block.get("number") if isinstance(seal_block, dict) else None
    if not isinstance(number, str):
        raise PrintoutUnavailable("the stored result carries no seal block")
    settings: Settings = gateway.settings
    options = PrintoutOptions(
        public_url=settings.public_url,
        timestamp_url=settings.printouts.timestamp_url or None,
        font=settings.printouts.font or None,
    )
    try:
        seal, signer = gateway.sealer.printout_signer(number)
        layout = layout or layout_for(gateway.registry.catalogue, str(document.get("item")))
        return render_printout(document, signer, seal, gateway.sealer.trust_view(), options, layout=layout)
    except (SealUnavailable, SigningError) as exc:
        raise PrintoutUnavailable(str(exc)) from exc


async def print_result(gateway: Any, document: dict[str, Any], *, layout: Layout | None = None) -> Printed:
    """Render and sign the printout of a sealed document (in a worker thread); audited as ``printout.issued``.

    ``layout`` prints a document of another type than a result (a receipt, a
    notice) through its own layout; by default the item's result layout.
    """
    pdf = await asyncio.to_thread(_render, gateway, document, layout)
    level = "B-T" if gateway.settings.printouts.timestamp_url else "B-B"
    request_id = str(document.get("request_id"))
    await gateway.events.emit(
        "printout.issued",
        request_id=request_id,
        item=document.get("item"),
        seal_number=document["seal"]["number"],
        document_digest=gateway.events.digest(pdf, request_id=request_id),
        pades_level=level,
        pdf_bytes=len(pdf),
        document_type=document.get("document_type"),
    )
    return Printed(pdf, f"{request_id}{_file_suffix(document) if layout is not None else ''}.pdf", level)


def _file_suffix(document: dict[str, Any]) -> str:
    """``-receipt-v2``, ``-notice``: a file name that tells a receipt or a notice from the result of the request."""
    kind = str(document.get("document_type", "")).split(".")
    content = document.get("content")
    version = content.get("version") if isinstance(content, dict) else None
    return (f"-{kind[1]}" if len(kind) == 3 and kind[1].isalpha() else "") + (
        f"-v{version}" if isinstance(version, int) else ""
    )
