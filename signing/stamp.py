"""The seal picture: a red round Chinese official stamp as standalone SVG.

Drawn the way people recognise an official seal: a red double rim, the
holder's name along the upper arc, a five-pointed star in the centre, the
seal's purpose (便民服务专用章 / 行政审批专用章) under the star and the seal
number below.  Shown on verification pages and printed results; it is a
picture only, the JWS is what proves anything.

A seal that did not pass verification is never drawn red, as if valid:
``void=True`` draws it grey, struck through, with the words 未通过验证 /
NOT VALID across it.
"""

from __future__ import annotations

import math
import re
from xml.sax.saxutils import escape, quoteattr

from signing.model import KIND_WORDS, SealKind

RED = "#d7261e"
VOID_GREY = "#8c959f"
_SIZE = 200
_CENTRE = _SIZE / 2
_TEXT_RADIUS = 67.0
_FONT = "'Noto Serif CJK SC', 'Source Han Serif SC', SimSun, 'Songti SC', serif"


def _star_points(cx: float, cy: float, outer: float, inner: float) -> str:
    """Ten vertices alternating outer/inner radius, first point straight up."""
    points = []
    for index in range(10):
        radius = outer if index % 2 == 0 else inner
        angle = math.radians(-90 + index * 36)
        points.append(f"{cx + radius * math.cos(angle):.2f},{cy + radius * math.sin(angle):.2f}")
    return " ".join(points)


def _arc_path() -> tuple[str, float]:
    """An arc over the top, 240 degrees, left to right; returns (path, length)."""
    sweep = 240.0
    # SVG angles run clockwise from +x (y points down), so the top is 270 degrees.
    start = math.radians(270 - sweep / 2)  # lower left
    end = math.radians(270 + sweep / 2)  # lower right
    x1 = _CENTRE + _TEXT_RADIUS * math.cos(start)
    y1 = _CENTRE + _TEXT_RADIUS * math.sin(start)
    x2 = _CENTRE + _TEXT_RADIUS * math.cos(end)
    y2 = _CENTRE + _TEXT_RADIUS * math.sin(end)
    path = f"M {x1:.2f},{y1:.2f} A {_TEXT_RADIUS},{_TEXT_RADIUS} 0 1,1 {x2:.2f},{y2:.2f}"
    return path, math.radians(sweep) * _TEXT_RADIUS


def _void_mark() -> str:
    """Two strokes across the stamp and the words that say it is not valid (no red anywhere)."""
    return (
        f'  <g stroke="{VOID_GREY}" stroke-width="4" stroke-linecap="round">\n'
        '    <line x1="30" y1="30" x2="170" y2="170"/><line x1="170" y1="30" x2="30" y2="170"/>\n'
        "  </g>\n"
        '  <rect x="10" y="84" width="180" height="34" rx="4" fill="#ffffff" fill-opacity="0.9" '
        'stroke="#57606a" stroke-width="1.5"/>\n'
        f'  <text x="{_CENTRE}" y="{_CENTRE + 7}" font-size="17" font-weight="bold" text-anchor="middle" '
        'fill="#24292f" font-family="sans-serif">未通过验证 NOT VALID</text>\n'
    )


def render_stamp_svg(holder_name: str, seal_number: str, kind: str, *, void: bool = False) -> str:
    """Return a standalone SVG document of the stamp (all text XML-escaped); ``void``: grey and struck through."""
    colour = VOID_GREY if void else RED
    words = KIND_WORDS[SealKind(kind)][0]
    path, arc_length = _arc_path()
    chars = max(len(holder_name), 1)
    font_size = max(9.0, min(19.0, arc_length * 0.82 / chars))
    text_length = min(arc_length * 0.92, chars * font_size * 1.25)
    arc_id = "arc-" + re.sub(r"[^A-Za-z0-9_-]", "-", seal_number)
    title = f"{holder_name} {words} {seal_number}" + (" (未通过验证 not valid)" if void else "")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{_SIZE}" height="{_SIZE}" viewBox="0 0 {_SIZE} {_SIZE}" role="img">\n'
        f"  <title>{escape(title)}</title>\n"
        f'  <defs><path id={quoteattr(arc_id)} d="{path}"/></defs>\n'
        f'  <g fill="none" stroke="{colour}">\n'
        f'    <circle cx="{_CENTRE}" cy="{_CENTRE}" r="95" stroke-width="5"/>\n'
        f'    <circle cx="{_CENTRE}" cy="{_CENTRE}" r="89" stroke-width="1.2"/>\n'
        "  </g>\n"
        f'  <g fill="{colour}" font-family="{_FONT}" text-anchor="middle">\n'
        f'    <text font-size="{font_size:.1f}" font-weight="bold">'
        f'<textPath href="#{arc_id}" xlink:href="#{arc_id}" startOffset="50%" '
        f'textLength="{text_length:.1f}" lengthAdjust="spacing">{escape(holder_name)}</textPath>'
        "</text>\n"
        f'    <polygon points="{_star_points(_CENTRE, _CENTRE, 26, 10)}"/>\n'
        f'    <text x="{_CENTRE}" y="{_CENTRE + 45}" font-size="15" font-weight="bold">'
        f"{escape(words)}</text>\n"
        f'    <text x="{_CENTRE}" y="{_CENTRE + 64}" font-size="10" '
        f'font-family="monospace">{escape(seal_number)}</text>\n'
        "  </g>\n" + (_void_mark() if void else "") + "</svg>\n"
    )
