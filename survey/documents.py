"""Word documents as the house writes them: A4, the document's language, styled tables,
pictures with alternative text and a shaded box (python-docx).

Used by the quotes export, the infoblad section and the startfoto. Whoever receives them opens
them in Word (or LibreOffice) with Dutch settings: the page is A4 with 2 cm margins, every
style carries the language (nl-NL for Dutch documents, so the spelling checker reads Dutch),
and tables, pictures and boxes look the same in every document.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from typing import Any

LANGUAGE_TAGS = {"nl": "nl-NL", "en": "en-GB"}
PAGE_WIDTH_CM, PAGE_HEIGHT_CM, MARGIN_CM = 21.0, 29.7, 2.0
TEXT_WIDTH_CM = PAGE_WIDTH_CM - 2 * MARGIN_CM
HEADER_FILL = "D9E2F3"  # the header row of a table
BOX_FILL = "F2F2F2"  # a shaded box (the quotes)
CSS_PX_PT = 0.75
"""Points per CSS pixel (96 per inch): a chart drawn in CSS pixels, printed at this scale, has
text of its font size × 0.75 pt."""


def new_document(language: str = "nl", *, landscape: bool = False) -> Any:
    """An empty A4 document in `language` ("nl" or "en"), portrait or `landscape`."""
    from docx import Document  # heavy (python-docx, ~0.06 s): only for Word exports
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, Pt

    document = Document()
    for section in document.sections:
        width, height = Cm(PAGE_WIDTH_CM), Cm(PAGE_HEIGHT_CM)
        if landscape:
            section.orientation = WD_ORIENT.LANDSCAPE
            width, height = height, width
        section.page_width, section.page_height = width, height
        section.left_margin = section.right_margin = Cm(MARGIN_CM)
        section.top_margin = section.bottom_margin = Cm(MARGIN_CM)
    tag = LANGUAGE_TAGS[language]
    _set_language(document, tag)
    document.core_properties.language = tag
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    return document


def _set_language(document: Any, tag: str) -> None:
    """`tag` as the language of the document's defaults and of every style that names one."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    if defaults.find(qn("w:lang")) is None:
        defaults.append(OxmlElement("w:lang"))
    for lang in styles.iter(qn("w:lang")):
        lang.set(qn("w:val"), tag)
        lang.set(qn("w:eastAsia"), tag)


def add_table(document: Any, cells: Sequence[Sequence[str]], widths_cm: Sequence[float]) -> Any:
    """A table of `cells` (the first row its header): grid lines, the header row bold on a
    light fill and repeated on a new page, the first column bold, the columns `widths_cm`
    wide, and no row broken over two pages."""
    from docx.shared import Cm

    table = document.add_table(rows=len(cells), cols=len(cells[0]))
    table.style = "Table Grid"
    table.autofit = False
    for index, width in enumerate(widths_cm):
        table.columns[index].width = Cm(width)
    for row_index, (row, values) in enumerate(zip(table.rows, cells, strict=True)):
        _keep_row_together(row, header=row_index == 0)
        for column, (cell, value) in enumerate(zip(row.cells, values, strict=True)):
            cell.width = Cm(widths_cm[column])
            cell.text = ""
            run = cell.paragraphs[0].add_run(value)
            run.bold = row_index == 0 or column == 0
            if row_index == 0:
                _shade(cell, HEADER_FILL)
    return table


def _keep_row_together(row: Any, *, header: bool) -> None:
    from docx.oxml import OxmlElement

    properties = row._tr.get_or_add_trPr()
    properties.append(OxmlElement("w:cantSplit"))
    if header:
        properties.append(OxmlElement("w:tblHeader"))


def _shade(cell: Any, fill: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shading)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of a PNG image (from its header)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def add_picture(
    document: Any, png: bytes, *, alt: str, title: str, scale: int = 2, space_before: float = 12
) -> Any:
    """A PNG drawn at `scale` device pixels per CSS pixel, printed at its natural size (1 CSS
    pixel = 0.75 pt, so its text keeps the point size it was drawn with; narrowed to the text
    width when wider), with `alt` as its alternative text, after `space_before` points."""
    from docx.shared import Cm, Pt

    width_px, _ = png_size(png)
    width = min(Pt(width_px / scale * CSS_PX_PT), Cm(TEXT_WIDTH_CM))
    paragraph = document.add_paragraph()
    paragraph.paragraph_format.space_before = Pt(space_before)
    paragraph.paragraph_format.keep_with_next = True
    picture = paragraph.add_run().add_picture(io.BytesIO(png), width=width)
    picture._inline.docPr.set("descr", alt)
    picture._inline.docPr.set("title", title)
    return picture


def add_caption(document: Any, text: str) -> Any:
    """A caption under a picture or table (the "Caption" style)."""
    return document.add_paragraph(text, style="Caption")


def add_box(
    document: Any, title: str, paragraphs: Sequence[str], closing: str, *, space_before: float = 12
) -> Any:
    """A shaded box (a one-cell table): a bold title, one italic paragraph each of
    `paragraphs`, and `closing` (a source line) under them."""
    from docx.shared import Cm, Pt

    spacer = document.add_paragraph()
    spacer.paragraph_format.space_before = Pt(space_before)
    box = document.add_table(rows=1, cols=1)
    box.style = "Table Grid"
    box.autofit = False
    cell = box.cell(0, 0)
    cell.width = Cm(TEXT_WIDTH_CM)
    _shade(cell, BOX_FILL)
    heading = cell.paragraphs[0]
    heading.add_run(title).bold = True
    for text in paragraphs:
        quote = cell.add_paragraph()
        quote.paragraph_format.space_before = Pt(6)
        quote.add_run(text).italic = True
    source = cell.add_paragraph(closing)
    source.paragraph_format.space_before = Pt(6)
    return box


def saved_docx(document: Any) -> bytes:
    """The document as the bytes of a .docx file."""
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
