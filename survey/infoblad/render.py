"""The infoblad's "Uitkomsten Ervaringswijzer" section and the quotes box, ready to paste.

Built from what may leave the system only: the disclosure-controlled results table per group and
approved quotes, attributed as "ouder" or "jongere" with the source line
"(Bron: Ervaringswijzer {PROVIDER_NAME})". Formats: Markdown, HTML (one self-contained file,
the chart inlined as PNG) and Word (python-docx, the chart as PNG); quotes alone also as CSV.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import jinja2

from analysis.formatting import GROUP_LABELS, infoblad_cells, infoblad_table
from analysis.publication import PublicationPeriod
from survey.paths import resource_dir
from survey.quotes import operations as quotes
from survey.quotes.exports import (
    NO_QUOTES,
    QUOTES_TITLE,
    add_quotes_box,
    new_document,
    quote_line,
    quotes_markdown,
    saved_docx,
    source_line,
)
from survey.reporting.cohorts import cohort_rows
from survey.reporting.dimensions import Period

SECTION_TITLE = "Uitkomsten Ervaringswijzer"
CHART_TITLE = "Rapportcijfers per groep"
MONTHS = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
]


def dutch_date(day: date) -> str:
    """``date(2026, 3, 1)`` → ``"1 maart 2026"``."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def intro(start: date | None, end: date | None) -> str:
    """The sentence that opens the section and says which period it covers."""
    if start and end:
        period = f"Van {dutch_date(start)} tot en met {dutch_date(end)}"
    elif start:
        period = f"Sinds {dutch_date(start)}"
    elif end:
        period = f"Tot en met {dutch_date(end)}"
    else:
        period = "Sinds de start"
    return (
        f"{period} kregen jongeren en ouders/verzorgers aan het einde van een hulptraject een "
        "vragenlijst om de cliënttevredenheid te meten. De uitkomsten over deze periode zijn:"
    )


@dataclass(frozen=True)
class Section:
    """Everything the section shows."""

    start: date | None
    end: date | None
    results: list[dict[str, Any]]  # report rows by group, suppression applied
    quotes: list[dict[str, str]]  # approved quotes: group and text
    provider: str
    chart_png: bytes | None = None


# -- the whole section ------------------------------------------------------------------------


def section_markdown(section: Section) -> str:
    """The section in Markdown (the chart is left to the HTML and Word versions)."""
    table = infoblad_table(section.results)
    parts = [f"## {SECTION_TITLE}", "", intro(section.start, section.end), "", table, ""]
    return "\n".join(parts) + "\n" + quotes_markdown(section.quotes, section.provider)


def section_html(section: Section) -> str:
    """The section as one self-contained HTML file (templates/infoblad/section.html)."""
    header, *body = infoblad_cells(section.results)
    chart = base64.b64encode(section.chart_png).decode("ascii") if section.chart_png else None
    return (
        _templates()
        .get_template("infoblad/section.html")
        .render(
            title=SECTION_TITLE,
            intro=intro(section.start, section.end),
            header=header,
            body=body,
            chart=chart,
            chart_title=CHART_TITLE,
            quotes_title=QUOTES_TITLE,
            quotes=[quote_line(quote) for quote in section.quotes],
            closing=source_line(section.provider) if section.quotes else NO_QUOTES,
        )
    )


@functools.cache
def _templates() -> jinja2.Environment:
    """The templates folder, without a Flask app: the command line renders the section too."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir("templates")),
        autoescape=True,
        keep_trailing_newline=True,
    )


def section_docx(section: Section) -> bytes:
    """The section as a Word document: heading, intro, table, chart, quotes box."""
    from docx.shared import Cm  # heavy (python-docx, ~0.06 s): only for Word output

    document = new_document()
    document.add_heading(SECTION_TITLE, level=2)
    document.add_paragraph(intro(section.start, section.end))
    cells = infoblad_cells(section.results)
    table = document.add_table(rows=len(cells), cols=len(cells[0]))
    table.style = "Table Grid"
    for row, values in zip(table.rows, cells, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    if section.chart_png:
        document.add_picture(io.BytesIO(section.chart_png), width=Cm(15))
    add_quotes_box(document, section.quotes, section.provider)
    return saved_docx(document)


SECTION_FORMATS: dict[str, Callable[[Section], str | bytes]] = {
    "md": section_markdown,
    "html": section_html,
    "docx": section_docx,
}
"""`infoblad --format` and the web download: format → renderer(section)."""


def build_section(session: Any, config: Mapping[str, Any], period: PublicationPeriod) -> Section:
    """The section for one publication period, with its chart drawn by vl-convert."""
    # heavy (vl-convert, an 87 MB native library; altair via analysis.charts, ~1.2 s): only
    # when an infoblad section is built
    import vl_convert

    from analysis.charts import marks_chart

    k = config["MIN_CELL_SIZE"]
    rows = cohort_rows(session, ("group",), Period.of(period), k)
    items = {
        "self_direction": "Ervaren eigen regie",
        "usefulness": "Hoe nuttig was de hulp?",
    }
    text = {"title": CHART_TITLE, "question": "Vraag", "mark": "Rapportcijfer", "group": "Groep"}
    spec = marks_chart(rows, items, text=text, labels=GROUP_LABELS, width=520)
    shown = any(not row["suppressed"] for row in rows)
    chart = vl_convert.vegalite_to_png(spec, scale=2, format_locale="nl-NL") if shown else None
    return Section(
        start=period.start,
        end=period.end,
        results=rows,
        quotes=quotes.approved(session, k, period),
        provider=config["PROVIDER_NAME"],
        chart_png=chart,
    )
