"""The printout as an archival PDF (PDF/A-3b) that carries its sealed JSON.

PDF/A-3 (ISO 19005-3), not PDF/A-2: only part 3 allows an attachment that
is not itself a PDF/A file, and the sealed JSON travels inside the printout
as its **associated file** (``/AF`` of the catalogue, ``AFRelationship
/Source``: the printout is made from it).  What this module adds to the
pages reportlab drew:

* XMP metadata with ``pdfaid:part 3``, ``pdfaid:conformance B``, title,
  author, dates, equal to the Info dictionary (pyHanko keeps both in step,
  also when it signs);
* an output intent ``GTS_PDFA1`` with an sRGB ICC profile (``srgb.icc``,
  made once with LittleCMS, its header date fixed);
* the print flag on every annotation (the QR code's link);
* a document ID derived from the sealed JSON, and the sealed document's
  issue time as creation and modification date: the same document always
  gives the same bytes before signing.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

ATTACHMENT_NAME = "sealed-result.json"
ATTACHMENT_TYPE = "application/json"
ICC_PROFILE = resources.files("signing.printout").joinpath("srgb.icc")


@dataclass(frozen=True, slots=True)
class Description:
    """What the metadata says about the printout."""

    title: str
    author: str  # the issuing authority
    subject: str  # the item
    created: datetime


def _xmp_pdfa() -> object:
    from pyhanko.pdf_utils.metadata.model import NS, ExpandedName, XmpStructure, XmpValue

    return XmpStructure.of(
        (ExpandedName(NS["pdfaid"], "part"), XmpValue("3")),
        (ExpandedName(NS["pdfaid"], "conformance"), XmpValue("B")),
    )


def _output_intent(writer: object) -> object:
    from pyhanko.pdf_utils import generic

    profile = generic.StreamObject(
        {generic.pdf_name("/N"): generic.NumberObject(3)}, stream_data=ICC_PROFILE.read_bytes()
    )
    profile.compress()
    return generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/OutputIntent"),
            generic.pdf_name("/S"): generic.pdf_name("/GTS_PDFA1"),
            generic.pdf_name("/OutputConditionIdentifier"): generic.pdf_string("sRGB IEC61966-2.1"),
            generic.pdf_name("/Info"): generic.pdf_string("sRGB IEC61966-2.1"),
            generic.pdf_name("/DestOutputProfile"): writer.add_object(profile),  # type: ignore[attr-defined]
        }
    )


def _attach(writer: object, sealed_json: bytes, created: datetime) -> None:
    """The sealed JSON as the catalogue's associated file (AFRelationship /Source)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec, embed_file

    data = EmbeddedFileObject.from_file_data(
        writer,  # type: ignore[arg-type]
        sealed_json,
        mime_type=ATTACHMENT_TYPE,
        params=EmbeddedFileParams(creation_date=created, modification_date=created),
    )
    spec = FileSpec(
        file_spec_string=ATTACHMENT_NAME,
        file_name=ATTACHMENT_NAME,
        embedded_data=data,
        description="盖章的结果文书（JSON 原件）The sealed result document (JSON)",
    )
    embed_file(writer, spec)  # type: ignore[arg-type]
    root = writer.root  # type: ignore[attr-defined]
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    reference = names.raw_get(1)
    reference.get_object()[generic.pdf_name("/AFRelationship")] = generic.pdf_name("/Source")
    root[generic.pdf_name("/AF")] = generic.ArrayObject([reference])


def _print_annotations(writer: object) -> None:
    """PDF/A: every annotation is printed (flag 4), none hidden."""
    from pyhanko.pdf_utils import generic

    for page_ref in writer.root["/Pages"]["/Kids"]:  # type: ignore[attr-defined]
        page = page_ref.get_object()
        for annot in page.get("/Annots", generic.ArrayObject()):
            annot.get_object()[generic.pdf_name("/F")] = generic.NumberObject(4)


def make_archival(pdf: bytes, sealed_json: bytes, about: Description) -> bytes:
    """Turn reportlab's pages into PDF/A-3b carrying ``sealed_json``; deterministic for the same input."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.metadata.model import DocumentMetadata
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    class _Dated(DocumentMetadata):
        """Metadata whose modification date stays the document's issue time (pyHanko sets "now" on write)."""

        def __setattr__(self, name: str, value: object) -> None:
            if name == "last_modified" and value == "now":
                value = about.created
            super().__setattr__(name, value)

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pdf)), writer_kwargs={"info": generic.DictionaryObject()})
    writer._meta = _Dated(
        title=about.title,
        author=about.author,
        subject=about.subject,
        creator="Onewindow",
        created=about.created,
        last_modified=about.created,
        xmp_extra=[_xmp_pdfa()],  # type: ignore[list-item]
    )
    writer.root[generic.pdf_name("/OutputIntents")] = generic.ArrayObject([writer.add_object(_output_intent(writer))])
    writer.root[generic.pdf_name("/Lang")] = generic.pdf_string("zh-CN")
    _attach(writer, sealed_json, about.created)
    _print_annotations(writer)
    identity = hashlib.sha256(sealed_json).digest()[:16]
    writer._document_id = generic.ArrayObject([generic.ByteStringObject(identity), generic.ByteStringObject(identity)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
