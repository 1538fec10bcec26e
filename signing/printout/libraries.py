"""The PDF libraries printouts need, imported once, quietly, or a one-line refusal naming the extra.

reportlab draws the pages, pyHanko writes PDF/A and the PAdES signature and
validates it, pypdf reads the page text back.  They come with the ``pdf``
extra of ``onewindow-signing`` (the gateway always has them); without them
``onewindow render`` and ``onewindow verify FILE.pdf`` say so in one line
and everything else in ``signing`` still works.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

from signing.errors import PrintoutError


@lru_cache(maxsize=1)
def require_pdf_libraries() -> None:
    """Import reportlab, pyHanko and pypdf, or raise :class:`PrintoutError` naming the missing one."""
    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        # pyHanko imports DSA classes for verifying old signatures; we never use DSA
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            import pyhanko.sign
            import pyhanko.sign.validation  # noqa: F401
            import pypdf  # noqa: F401
            import reportlab  # noqa: F401
        except ImportError as exc:
            raise PrintoutError(
                f"PDF printouts need the pdf extra: pip install 'onewindow-signing[pdf]' ({exc.name} is missing)"
            ) from None
