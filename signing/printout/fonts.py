"""The CJK font every printout embeds, and the check that it can draw every character.

PDF/A forbids fonts that are not embedded, and a reader without a CJK font
would show Chinese as empty boxes, so the printout embeds (a subset of) one
TrueType font for all its text, Latin included.  It must have TrueType
outlines: reportlab embeds those, not the CFF outlines of ``.otf`` fonts
(Noto Sans CJK), so the default is WenQuanYi Zen Hei (Debian
``fonts-wqy-zenhei``) and ``$ONEWINDOW_PRINTOUT_FONT`` (``PATH`` or
``PATH#INDEX`` for a collection) names another.  A character the font lacks
is refused before anything is drawn: an empty box on an official document
is worse than no document.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from signing.errors import PrintoutError

FONT_VARIABLE = "ONEWINDOW_PRINTOUT_FONT"
FONT_NAME = "OnewindowCJK"
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc#0",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc#0",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc#0",
)


@dataclass(frozen=True, slots=True)
class CjkFont:
    """A registered TrueType font: its reportlab name and the characters it maps."""

    name: str
    path: str
    index: int
    characters: frozenset[int]

    def missing(self, texts: Iterable[str]) -> list[str]:
        """Characters of ``texts`` the font cannot draw (white space aside)."""
        seen = {ch for text in texts for ch in text if not ch.isspace()}
        return sorted(ch for ch in seen if ord(ch) not in self.characters)


def _spec(text: str) -> tuple[str, int]:
    path, _, index = text.partition("#")
    try:
        return path, int(index or 0)
    except ValueError:
        raise PrintoutError(f"{FONT_VARIABLE}={text!r}: the part after '#' must be a font index") from None


@lru_cache(maxsize=4)
def _register(path: str, index: int) -> CjkFont:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    try:
        font = TTFont(FONT_NAME, path, subfontIndex=index)
    except (TTFError, OSError) as exc:
        raise PrintoutError(f"cannot use the font {path} (index {index}) for printouts: {exc}") from None
    pdfmetrics.registerFont(font)
    return CjkFont(FONT_NAME, path, index, frozenset(font.face.charToGlyph))


def cjk_font(spec: str | None = None) -> CjkFont:
    """The printout font: ``spec`` (``PATH[#INDEX]``), else ``$ONEWINDOW_PRINTOUT_FONT``, else the first installed."""
    chosen = spec or os.environ.get(FONT_VARIABLE)
    if chosen:
        return _register(*_spec(chosen))
    for candidate in CANDIDATES:
        path, index = _spec(candidate)
        if Path(path).is_file():
            return _register(path, index)
    raise PrintoutError(
        "no CJK TrueType font for printouts: install fonts-wqy-zenhei (apt-get install fonts-wqy-zenhei) "
        f"or name one in {FONT_VARIABLE}=PATH[#INDEX]"
    )
