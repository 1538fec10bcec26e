"""Sealed documents as signed PDF printouts (PDF/A-3b, PAdES), and their verification.

* :mod:`~signing.printout.libraries` -- reportlab, pyHanko and pypdf, or a one-line refusal naming the extra
* :mod:`~signing.printout.layout` -- which parts of a document are printed, under which labels; the sheet
* :mod:`~signing.printout.fonts` -- the CJK TrueType font embedded in every printout
* :mod:`~signing.printout.page` -- drawing the sheet, the stamp and the QR code (reportlab)
* :mod:`~signing.printout.archive` -- PDF/A-3b: XMP, output intent, the sealed JSON as associated file
* :mod:`~signing.printout.pades` -- the PAdES signature with the seal's own key (pyHanko)
* :mod:`~signing.printout.render` -- :func:`render_printout`: a sealed document to a signed PDF
* :mod:`~signing.printout.reading` -- taking a printout apart: signature, attachment, page text
* :mod:`~signing.printout.verify_pdf` -- :func:`verify_printout`: the verdict on a PDF

Needs the ``pdf`` extra of ``onewindow-signing`` (reportlab, pyHanko, pypdf); the
modules import them lazily, so the rest of ``signing`` works without it.

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["layout", "reading", "render", "verify_pdf"]
