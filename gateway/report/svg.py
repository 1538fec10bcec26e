"""Hand-written SVG charts for the report: drawn on the server, no script, readable without colour.

Each chart is an ``<svg>`` element with a ``<title>`` and every value also
written as text beside its bar, so a reader (or a screen reader) gets the
number, not only the length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#1f6fb2", "#e08a1e", "#3a9a5b", "#b8413a", "#7a5aa6", "#8c6d3f", "#c25b9f", "#5f6b73")
GRADE_COLOURS = {
    "very_satisfied": "#2e7d32",
    "satisfied": "#66a84c",
    "basically_satisfied": "#c9b037",
    "dissatisfied": "#e07b39",
    "very_dissatisfied": "#c62828",
}
_ROW = 24
_LABEL_WIDTH = 260


def bars(
    title: str,
    rows: Sequence[tuple[str, int]],
    *,
    width: int = 720,
    colours: Mapping[str, str] | None = None,
    keys: Sequence[str] | None = None,
) -> str:
    """A horizontal bar chart: one labelled bar per row, its value written after it."""
    if not rows:
        return ""
    top = max(value for _, value in rows) or 1
    span = width - _LABEL_WIDTH - 70
    height = _ROW * len(rows) + 10
    parts = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    for index, (label, value) in enumerate(rows):
        y = 5 + index * _ROW
        length = round(span * value / top) if value else 0
        key = keys[index] if keys else label
        colour = (colours or {}).get(key, PALETTE[0])
        parts.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end" font-size="13">{escape(label)}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y + 3}" width="{length}" height="{_ROW - 8}" fill="{colour}">'
            f"<title>{escape(label)}: {value}</title></rect>"
            f'<text x="{_LABEL_WIDTH + length + 6}" y="{y + 16}" font-size="13">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def stacked(
    title: str, rows: Sequence[tuple[str, Mapping[str, int]]], series: Sequence[str], *, width: int = 720
) -> str:
    """Horizontal stacked bars (one per row, one segment per series) with a legend; totals written at the end."""
    if not rows:
        return ""
    top = max(sum(parts.values()) for _, parts in rows) or 1
    span = width - _LABEL_WIDTH - 70
    legend_height = 26
    height = legend_height + _ROW * len(rows) + 10
    out = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    legend_x = 10
    for index, name in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        out.append(
            f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="17" font-size="12">{escape(name)}</text>'
        )
        legend_x += 30 + 8 * len(name)
    for row_index, (label, parts) in enumerate(rows):
        y = legend_height + 5 + row_index * _ROW
        out.append(f'<text x="{_LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end" font-size="13">{escape(label)}</text>')
        x = float(_LABEL_WIDTH)
        for index, name in enumerate(series):
            value = parts.get(name, 0)
            if not value:
                continue
            length = span * value / top
            out.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{length:.1f}" height="{_ROW - 8}" '
                f'fill="{PALETTE[index % len(PALETTE)]}">'
                f"<title>{escape(label)} · {escape(name)}: {value}</title></rect>"
            )
            x += length
        out.append(f'<text x="{x + 6:.1f}" y="{y + 16}" font-size="13">{sum(parts.values())}</text>')
    out.append("</svg>")
    return "".join(out)
