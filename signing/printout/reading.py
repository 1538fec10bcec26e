"""Taking a printout apart: its signatures, its attachment, the words on its pages, the links.

Two libraries read the file, each for what it does well: pyHanko (strict
mode) for the signature and the attachment, pypdf for the page text.  A
file either reads as a printout -- one signature, exactly one attachment,
``sealed-result.json``, associated with the document as its source -- or
:class:`NotAPrintout` says why; the verifier turns that into
FORMAT_FAILURE.  A second attachment is refused rather than ignored: a
reader must never wonder which of two JSON files the paper stands for.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

from signing.printout.archive import ATTACHMENT_NAME
from signing.printout.libraries import require_pdf_libraries

#: A printout is a few pages; a file far larger is not one of ours (and would be slow to read).
MAX_PDF_BYTES = 8 * 1024 * 1024
MAX_PAGES = 50


class NotAPrintout(ValueError):
    """The bytes are not a readable printout (a FORMAT_FAILURE, not bad input)."""


@dataclass(frozen=True, slots=True)
class Printout:
    """What a printout holds, as read."""

    signature: Any  # pyHanko EmbeddedPdfSignature
    attachment: bytes  # the sealed JSON, as embedded
    page_texts: tuple[str, ...] | None  # None when a page cannot be read (a damaged content stream)
    link_uris: tuple[str, ...]
    pages: int
    unreadable: str = ""  # why the pages could not be read


def is_pdf(data: bytes) -> bool:
    """A PDF starts with ``%PDF-`` (we accept no junk before it: our printouts have none)."""
    return data[:5] == b"%PDF-"


def _attachment(reader: Any) -> bytes:
    from pyhanko.pdf_utils import generic

    root = reader.root
    try:
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError:
        raise NotAPrintout(f"the PDF carries no attachment ({ATTACHMENT_NAME} is missing)") from None
    if len(names) != 2:
        raise NotAPrintout(
            f"the PDF carries {len(names) // 2} attachments; a printout carries exactly one, {ATTACHMENT_NAME}"
        )
    name, spec = str(names[0]), names[1]
    if name != ATTACHMENT_NAME:
        raise NotAPrintout(f"the PDF's attachment is {name[:80]!r}, not {ATTACHMENT_NAME}")
    associated = [ref.get_object() for ref in root.get("/AF", generic.ArrayObject())]
    if spec not in associated or spec.get("/AFRelationship") != "/Source":
        raise NotAPrintout(f"{ATTACHMENT_NAME} is not the document's associated source file (/AF, /Source)")
    return bytes(spec["/EF"]["/F"].data)


def _links(page: Any) -> list[str]:
    found = []
    for annot in page.get("/Annots", []) or []:
        action = annot.get_object().get("/A")
        if action is not None and action.get_object().get("/S") == "/URI":
            found.append(str(action.get_object().get("/URI")))
    return found


def _texts(data: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about odd files are ours to judge
    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    if len(reader.pages) > MAX_PAGES:
        raise NotAPrintout(f"the PDF has {len(reader.pages)} pages; a printout has at most {MAX_PAGES}")
    texts = tuple(page.extract_text() or "" for page in reader.pages)
    links = tuple(uri for page in reader.pages for uri in _links(page))
    return texts, links


def read_printout(data: bytes) -> Printout:
    """Read ``data`` as a printout; :class:`NotAPrintout` when it is not one."""
    if not is_pdf(data):
        raise NotAPrintout("not a PDF (it does not start with %PDF-)")
    if len(data) > MAX_PDF_BYTES:
        raise NotAPrintout(f"the PDF is {len(data)} bytes; a printout is at most {MAX_PDF_BYTES}")
    require_pdf_libraries()
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
        signatures = reader.embedded_regular_signatures
        attachment = _attachment(reader)
        pages = int(reader.root["/Pages"]["/Count"])
    except NotAPrintout:
        raise
    except Exception as exc:  # a damaged file raises in many ways: it is not a readable printout
        raise NotAPrintout(f"the PDF cannot be read: {type(exc).__name__}: {str(exc)[:200]}") from None
    if len(signatures) != 1:
        raise NotAPrintout(f"the PDF carries {len(signatures)} signatures; a printout carries exactly one")
    try:
        texts, links = _texts(data)
    except NotAPrintout:
        raise
    except Exception as exc:  # a changed content stream: the signature check says what happened
        return Printout(signatures[0], attachment, None, (), pages, f"{type(exc).__name__}: {str(exc)[:200]}")
    return Printout(signatures[0], attachment, texts, links, pages)
