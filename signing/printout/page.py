"""Drawing a :class:`~signing.printout.layout.Sheet` on A4 pages with reportlab.

Title, the document's facts in a ruled grid, the agency's content as
labelled fields and tables (long tables run on, their header row repeated),
then the signing place: the issuing authority and the date, the numbered
seal drawn as the red stamp over them, and the QR code that opens the
verification page.  Every string is drawn in the one embedded CJK font;
the output is deterministic (``invariant``) so the same document gives the
same bytes.  Returns where the stamp landed: the PAdES signature field is
put exactly there, so clicking the stamp in a PDF reader shows the
signature.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import partial
from typing import Any

from signing.model import KIND_WORDS, SealKind
from signing.printout.fonts import CjkFont
from signing.printout.layout import PrintedTable, Sheet

RED = (0.843, 0.149, 0.118)
STAMP_SIZE = 42 * 2.834645669  # 42 mm, the size of a round official seal
QR_SIZE = 30 * 2.834645669
TITLE_SIZE = 20  # points: a full-width CJK character is this wide


@dataclass(frozen=True, slots=True)
class Placed:
    """A rectangle on a page (0-based page index, PDF points from the lower left)."""

    page: int
    box: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Drawn:
    pdf: bytes
    stamp: Placed
    pages: int


@dataclass(frozen=True, slots=True)
class StampFace:
    """What is cut into the seal."""

    holder_name: str
    number: str
    kind: str


def stamp_texts(face: StampFace) -> tuple[str, ...]:
    return (face.holder_name, KIND_WORDS[SealKind(face.kind)][0], face.number)


def draw_stamp(canvas: Any, cx: float, cy: float, face: StampFace, font: str) -> None:
    """The round red official stamp: double rim, holder name on the upper arc, star, kind words, number."""
    radius = STAMP_SIZE / 2
    canvas.saveState()
    canvas.setStrokeColorRGB(*RED)
    canvas.setFillColorRGB(*RED)
    canvas.setLineWidth(2.6)
    canvas.circle(cx, cy, radius - 1.3)
    canvas.setLineWidth(0.7)
    canvas.circle(cx, cy, radius - 4.5)
    _arc_text(canvas, cx, cy, radius - 15, face.holder_name, font)
    _star(canvas, cx, cy + 3, 14, 5.4)
    words = KIND_WORDS[SealKind(face.kind)][0]
    canvas.setFont(font, 9.5)
    canvas.drawCentredString(cx, cy - 24, words)
    canvas.setFont(font, 6.5)
    canvas.drawCentredString(cx, cy - 34, face.number)
    canvas.restoreState()


def _arc_text(canvas: Any, cx: float, cy: float, radius: float, text: str, font: str) -> None:
    """Characters upright along the upper arc, left to right, spread over up to 240 degrees."""
    count = max(len(text), 1)
    size = max(6.5, min(10.5, math.radians(230) * radius / count / 1.2))
    sweep = min(235.0, max(200.0 if count >= 6 else 0.0, math.degrees(count * size * 1.2 / radius)))
    canvas.setFont(font, size)
    for index, char in enumerate(text):
        angle = 90 + sweep / 2 - (index + 0.5) * sweep / count
        x = cx + radius * math.cos(math.radians(angle))
        y = cy + radius * math.sin(math.radians(angle))
        canvas.saveState()
        canvas.translate(x, y)
        canvas.rotate(angle - 90)
        canvas.drawCentredString(0, -size / 2.8, char)
        canvas.restoreState()


def _star(canvas: Any, cx: float, cy: float, outer: float, inner: float) -> None:
    path = canvas.beginPath()
    for index in range(10):
        radius = outer if index % 2 == 0 else inner
        angle = math.radians(90 + index * 36)
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        path.moveTo(x, y) if index == 0 else path.lineTo(x, y)
    path.close()
    canvas.drawPath(path, stroke=0, fill=1)


def qr_modules(text: str) -> list[list[bool]]:
    """The QR code of ``text`` (error correction M) as rows of dark/light modules."""
    from reportlab.graphics.barcode import qrencoder

    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(text)
    code.make()
    count = code.getModuleCount()
    return [[bool(code.isDark(row, col)) for col in range(count)] for row in range(count)]


def draw_qr(canvas: Any, text: str, x: float, y: float, size: float) -> None:
    """The QR code as filled squares (no font, no image: nothing a PDF/A checker could object to)."""
    modules = qr_modules(text)
    step = size / len(modules)
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    for row, dark in enumerate(modules):
        for col, on in enumerate(dark):
            if on:
                canvas.rect(x + col * step, y + size - (row + 1) * step, step, step, stroke=0, fill=1)
    canvas.restoreState()


def _styles(font: str) -> dict[str, Any]:
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("ow", fontName=font, bulletFontName=font, fontSize=10, leading=14, wordWrap="CJK")
    return {
        "title": ParagraphStyle(
            "ow-title", parent=base, fontSize=TITLE_SIZE, leading=TITLE_SIZE * 1.4, alignment=TA_CENTER, spaceAfter=10
        ),
        "heading": ParagraphStyle("ow-heading", parent=base, fontSize=11.5, leading=18, spaceBefore=8, spaceAfter=3),
        "cell": ParagraphStyle("ow-cell", parent=base, fontSize=9, leading=12),
        "label": ParagraphStyle("ow-label", parent=base, fontSize=9, leading=12, textColor=(0.25, 0.25, 0.25)),
        "body": base,
    }


def _p(text: str, style: Any) -> Any:
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(escape(text), style)


def _grid(pairs: tuple[tuple[str, str], ...], styles: dict[str, Any], width: float) -> Any:
    """Label/value pairs, two per row, ruled."""
    from reportlab.platypus import Table, TableStyle

    cells = [[_p(label, styles["label"]), _p(value, styles["cell"])] for label, value in pairs]
    rows = [
        cells[i] + (cells[i + 1] if i + 1 < len(cells) else [_p("", styles["cell"])] * 2)
        for i in range(0, len(cells), 2)
    ]
    label_w = width * 0.14
    table = Table(rows, colWidths=[label_w, width / 2 - label_w] * 2)
    grey = (0.95, 0.95, 0.95)
    table.setStyle(TableStyle([*_RULED, ("BACKGROUND", (0, 0), (0, -1), grey), ("BACKGROUND", (2, 0), (2, -1), grey)]))
    return table


_RULED: list[tuple[Any, ...]] = [
    ("GRID", (0, 0), (-1, -1), 0.5, (0.45, 0.45, 0.45)),
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ("FONTNAME", (0, 0), (-1, -1), "OnewindowCJK"),
    ("TOPPADDING", (0, 0), (-1, -1), 3),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
]


#: A table wider than this is printed one record per block (label and value side by side), not in columns.
MAX_COLUMNS = 7


def _table(printed: PrintedTable, styles: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import Spacer, Table, TableStyle

    heading = _p(printed.title, styles["heading"])
    if not printed.rows:
        return [heading, _p("（无）", styles["cell"])]
    if len(printed.headers) > MAX_COLUMNS:
        blocks: list[Any] = [heading]
        for number, row in enumerate(printed.rows, 1):
            pairs = (("序号", str(number)), *zip(printed.headers, row, strict=True))
            blocks.extend([_grid(pairs, styles, width), Spacer(1, 5)])
        return blocks
    header = [_p(h, styles["label"]) for h in printed.headers]
    body = [[_p(cell, styles["cell"]) for cell in row] for row in printed.rows]
    table = Table([header, *body], colWidths=[width / len(header)] * len(header), repeatRows=1)
    table.setStyle(TableStyle([*_RULED, ("BACKGROUND", (0, 0), (-1, 0), (0.93, 0.93, 0.93))]))
    return [heading, table]


def _signing_place(sheet: Sheet, face: StampFace, url: str, font: str, width: float, placed: list[Placed]) -> Any:
    """A flowable: issuer and date on the right, the stamp over them, the QR code on the left.

    Where the stamp lands is appended to ``placed`` when it is drawn: the
    signature field goes there.
    """
    from reportlab.platypus import Flowable

    class SigningPlace(Flowable):  # type: ignore[misc,unused-ignore]  # reportlab has no types
        def wrap(self, *_: Any) -> tuple[float, float]:
            return width, STAMP_SIZE + 24

        def draw(self) -> None:
            canvas = self.canv
            right, centre_y = width - STAMP_SIZE / 2 - 10, STAMP_SIZE / 2 + 4
            canvas.setFont(font, 11)
            canvas.drawCentredString(right, STAMP_SIZE / 2 + 8, sheet.issuer)
            canvas.drawCentredString(right, STAMP_SIZE / 2 - 10, sheet.date)
            draw_stamp(canvas, right, centre_y, face, font)
            draw_qr(canvas, url, 0, 20, QR_SIZE)
            canvas.setFont(font, 7.5)
            canvas.drawString(0, 8, "扫码核验 Scan to verify")
            canvas.linkURL(url, (0, 20, QR_SIZE, 20 + QR_SIZE), relative=1)
            x, y = canvas.absolutePosition(right - STAMP_SIZE / 2, centre_y - STAMP_SIZE / 2)
            placed.append(Placed(canvas.getPageNumber() - 1, (x, y, x + STAMP_SIZE, y + STAMP_SIZE)))

    return SigningPlace()


def _footer(code: str, font: str, canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont(font, 7.5)
    canvas.setFillColorRGB(0.35, 0.35, 0.35)
    width, _ = doc.pagesize
    canvas.drawString(doc.leftMargin, 28, f"验证码 Verification code: {code}")
    canvas.drawRightString(width - doc.rightMargin, 28, f"第 {canvas.getPageNumber()} 页")
    canvas.drawString(
        doc.leftMargin, 18, "本文书附有电子印章签名与盖章的 JSON 原件，可用 PDF 阅读器或 onewindow verify 核验。"
    )
    canvas.restoreState()


def draw_sheet(sheet: Sheet, face: StampFace, *, url: str, code: str, font: CjkFont, title: str) -> Drawn:
    """The printout pages as an (unsigned, not yet archival) PDF, and where the stamp is."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, SimpleDocTemplate, Spacer

    styles = _styles(font.name)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=title,
        author=sheet.issuer,
        subject=sheet.header[1][1],
        creator="Onewindow",
        invariant=1,
        initialFontName=font.name,
        lang="zh-CN",
    )
    width = doc.width
    story: list[Any] = [_p(sheet.title, styles["title"]), _grid(sheet.header, styles, width), Spacer(1, 6)]
    if sheet.fields:
        story.append(_grid(sheet.fields, styles, width))
    for printed in sheet.tables:
        story.extend(_table(printed, styles, width))
    if sheet.extra_fields or sheet.extra_tables:
        story.append(_p("其他内容", styles["heading"]))
        if sheet.extra_fields:
            story.append(_grid(sheet.extra_fields, styles, width))
        for printed in sheet.extra_tables:
            story.extend(_table(printed, styles, width))
    if sheet.note:
        story.extend([Spacer(1, 6), _p(sheet.note, styles["body"])])
    placed: list[Placed] = []
    story.append(KeepTogether([Spacer(1, 14), _signing_place(sheet, face, url, font.name, width, placed)]))
    footer = partial(_footer, code, font.name)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    (stamp,) = placed
    return Drawn(out.getvalue(), stamp, stamp.page + 1)  # the signing place ends the last page
