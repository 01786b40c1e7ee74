"""The Word exports as Word opens them: A4, Dutch, a styled table, the chart legible and
described, the quotes in a shaded box, and the period named (python-docx reads them back)."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from docx import Document
from docx.oxml.ns import qn

from survey.documents import png_size
from survey.infoblad.render import CHART_FONT_PX
from tests.quote_helpers import PROVIDER
from tests.staff_helpers import get, signed_in_client
from tests.test_quote_exports import published_region  # noqa: F401 (a fixture)


def open_docx(data: bytes):
    return Document(io.BytesIO(data))


def assert_a4_and_dutch(document) -> None:
    section = document.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    assert round(section.left_margin.cm, 1) == round(section.right_margin.cm, 1) == 2.0
    languages = {lang.get(qn("w:val")) for lang in document.styles.element.iter(qn("w:lang"))}
    assert languages == {"nl-NL"}, languages
    assert document.core_properties.language == "nl-NL"


def bold(cell) -> bool:
    runs = [run for paragraph in cell.paragraphs for run in paragraph.runs if run.text.strip()]
    return bool(runs) and all(run.bold for run in runs)


def fill_of(cell) -> str | None:
    shading = cell._tc.tcPr.find(qn("w:shd")) if cell._tc.tcPr is not None else None
    return None if shading is None else shading.get(qn("w:fill"))


def test_the_infoblad_section_in_word_reads_like_the_seed(app, db, published_region):  # noqa: F811
    client, _ = signed_in_client(app, db, "communications")
    document = open_docx(get(client, "/staff/quotes/infoblad.docx").get_data())
    assert_a4_and_dutch(document)

    year = (date.today() - timedelta(days=1)).year  # the default period: the newest year
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "Uitkomsten Ervaringswijzer"
    assert paragraphs[1].startswith(f"Van 1 januari {year} tot en met 31 december {year} kregen")

    results, box = document.tables
    header, *rows = results.rows
    assert [cell.text for cell in header.cells] == ["", "Jongeren", "Ouders"]
    assert all(bold(cell) for cell in header.cells[1:]) and fill_of(header.cells[1])
    assert header._tr.trPr.find(qn("w:tblHeader")) is not None  # repeated on a new page
    assert all(bold(row.cells[0]) and not bold(row.cells[1]) for row in rows)
    labels = [row.cells[0].text for row in rows]
    assert labels[1] == "Ervaren eigen regie (rapportcijfer\u00a01\u201110)"  # never broken there
    assert re.fullmatch(r"\d+ uitgezet / \d+ respons \(\d+%\)", rows[0].cells[1].text)
    widths = [round(cell.width.cm, 1) for cell in header.cells]
    assert sum(widths) <= 17.0 and widths[0] > widths[1]  # within the A4 text width

    (chart,) = document.inline_shapes
    description = chart._inline.docPr.get("descr")
    assert description.startswith("Staafdiagram van de gemiddelde rapportcijfers per groep.")
    figures = r"Jongeren: ervaren eigen regie \d,\d\d, hoe nuttig was de hulp \d,\d\d"
    assert re.search(figures, description), description
    image = chart._inline.graphic.graphicData.pic.blipFill.blip.embed
    png_width, _ = png_size(document.part.related_parts[image].blob)
    points_per_css_px = chart.width.pt / (png_width / 2)  # drawn at scale 2
    assert CHART_FONT_PX * points_per_css_px >= 9, "chart text under 9 pt when printed"
    paragraphs = document.paragraphs
    position = next(i for i, p in enumerate(paragraphs) if p._p.xpath(".//pic:pic"))
    picture_paragraph, caption = paragraphs[position], paragraphs[position + 1]
    assert picture_paragraph.paragraph_format.space_before.pt >= 6  # not touching the table
    assert caption.style.name == "Caption" and "95%-betrouwbaarheidsinterval" in caption.text

    (cell,) = box._cells
    assert fill_of(cell) == "F2F2F2"
    title, *quotes, source = [p for p in cell.paragraphs]
    assert title.text == "Wat zeggen kinderen, jongeren en gezinnen zelf?" and bold(cell) is False
    assert all(run.bold for run in title.runs)
    assert "“Er werd naar ons én het kind geluisterd.” (ouder)" in [q.text for q in quotes]
    assert all(run.italic for quote in quotes for run in quote.runs)
    assert source.text == f"(Bron: Ervaringswijzer {PROVIDER})"


def test_the_quotes_in_word_are_a4_dutch_and_boxed(app, db, published_region):  # noqa: F811
    client, _ = signed_in_client(app, db, "communications")
    document = open_docx(get(client, "/staff/quotes/export.docx").get_data())
    assert_a4_and_dutch(document)
    (box,) = document.tables
    texts = [p.text for p in box.cell(0, 0).paragraphs]
    assert texts[0] == "Wat zeggen kinderen, jongeren en gezinnen zelf?"
    assert "“Ik heb betere handvaten om met moeilijke periodes om te gaan.” (jongere)" in texts
    assert texts[-1] == f"(Bron: Ervaringswijzer {PROVIDER})"
    assert "Nog niet beoordeeld" not in " ".join(texts)
