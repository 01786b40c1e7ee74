"""The infoblad's "Uitkomsten Ervaringswijzer" section and the quotes box, ready to paste.

Built from what may leave the system only: the disclosure-controlled results table per group and
approved quotes, attributed as "ouder" or "jongere" with the source line
"(Bron: Ervaringswijzer {PROVIDER_NAME})". Formats: Markdown, HTML (one self-contained file,
the chart inlined as PNG) and Word (python-docx, the chart as PNG); quotes alone also as CSV.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from analysis.formatting import infoblad_cells, infoblad_table
from analysis.publication import PublicationPeriod
from survey.quotes import GROUP_ATTRIBUTION
from survey.report_output import formula_safe

SECTION_TITLE = "Uitkomsten Ervaringswijzer"
QUOTES_TITLE = "Wat zeggen kinderen, jongeren en gezinnen zelf?"
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


def source_line(provider: str) -> str:
    """The attribution under the quotes box."""
    return f"(Bron: Ervaringswijzer {provider})"


def quote_line(quote: Mapping[str, str]) -> str:
    """One quote as printed, on one line: “text” (ouder)."""
    text = " ".join(quote["text"].split())
    return f"“{text}” ({GROUP_ATTRIBUTION[quote['group']]})"


def _markdown_text(text: str) -> str:
    """A one-line quote that Markdown shows as typed: no HTML, no emphasis or code.

    Placeholders such as "[naam]" stay readable: without "(…)" after them they are no link.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_])", r"\\\1", text)


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


# -- quotes only ------------------------------------------------------------------------------


HTML_STYLE = (
    "body{font-family:sans-serif;max-width:48rem}"
    "table{border-collapse:collapse}"
    "th,td{border:1px solid #999;padding:.3rem .6rem;text-align:left}"
    "blockquote{font-style:italic}"
)
NO_QUOTES = "(Nog geen goedgekeurde citaten voor deze periode.)"


def quotes_markdown(quotes: Sequence[Mapping[str, str]], provider: str) -> str:
    """The quotes box in Markdown."""
    lines = [f"### {QUOTES_TITLE}", ""]
    for quote in quotes:
        lines += [f"> {_markdown_text(quote_line(quote))}", ""]
    lines.append(source_line(provider) if quotes else NO_QUOTES)
    return "\n".join(lines) + "\n"


def quotes_csv(quotes: Sequence[Mapping[str, str]], provider: str) -> str:
    """Approved quotes as CSV (formula-safe): attribution, text and source."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["attribution", "text", "source"])
    for quote in quotes:
        writer.writerow(
            [GROUP_ATTRIBUTION[quote["group"]], formula_safe(quote["text"]), source_line(provider)]
        )
    return out.getvalue()


def quotes_docx(quotes: Sequence[Mapping[str, str]], provider: str) -> bytes:
    """The quotes box as a Word document."""
    document = _new_document()
    _docx_quotes(document, quotes, provider)
    return _saved(document)


# -- the whole section ------------------------------------------------------------------------


def section_markdown(section: Section) -> str:
    """The section in Markdown (the chart is left to the HTML and Word versions)."""
    table = infoblad_table(section.results)
    parts = [f"## {SECTION_TITLE}", "", intro(section.start, section.end), "", table, ""]
    return "\n".join(parts) + "\n" + quotes_markdown(section.quotes, section.provider)


def section_html(section: Section) -> str:
    """The section as one self-contained HTML file (styles inline, chart as a data URI)."""
    header, *body = infoblad_cells(section.results)
    e = html.escape
    rows = "".join(
        "<tr>"
        + f'<th scope="row">{e(cells[0])}</th>'
        + "".join(f"<td>{e(c)}</td>" for c in cells[1:])
        + "</tr>"
        for cells in body
    )
    head = "".join(f'<th scope="col">{e(c)}</th>' for c in header)
    chart = ""
    if section.chart_png:
        data = base64.b64encode(section.chart_png).decode("ascii")
        chart = (
            f'<p><img src="data:image/png;base64,{data}" alt="{e(CHART_TITLE)}" width="640"></p>'
        )
    quotes = "".join(f"<blockquote><p>{e(quote_line(q))}</p></blockquote>" for q in section.quotes)
    closing = source_line(section.provider) if section.quotes else NO_QUOTES
    return (
        '<!doctype html>\n<html lang="nl">\n<head><meta charset="utf-8">'
        f"<title>{e(SECTION_TITLE)}</title>\n<style>{HTML_STYLE}</style></head>\n<body>\n"
        f"<h2>{e(SECTION_TITLE)}</h2>\n<p>{e(intro(section.start, section.end))}</p>\n"
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{rows}</tbody>\n</table>\n{chart}\n"
        f"<h3>{e(QUOTES_TITLE)}</h3>\n{quotes}\n<p>{e(closing)}</p>\n"
        "</body>\n</html>\n"
    )


def section_docx(section: Section) -> bytes:
    """The section as a Word document: heading, intro, table, chart, quotes box."""
    from docx.shared import Cm

    document = _new_document()
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
    _docx_quotes(document, section.quotes, section.provider)
    return _saved(document)


def _new_document() -> Any:
    from docx import Document

    return Document()


def _docx_quotes(document: Any, quotes: Sequence[Mapping[str, str]], provider: str) -> None:
    document.add_heading(QUOTES_TITLE, level=3)
    for quote in quotes:
        document.add_paragraph(quote_line(quote), style="Quote")
    document.add_paragraph(source_line(provider) if quotes else NO_QUOTES)


def _saved(document: Any) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


QUOTE_FORMATS = {"md": quotes_markdown, "csv": quotes_csv, "docx": quotes_docx}
"""`quotes export --format` and the web download: format → renderer(quotes, provider)."""
SECTION_FORMATS = {"md": section_markdown, "html": section_html, "docx": section_docx}
"""`infoblad --format` and the web download: format → renderer(section)."""


def build_section(session: Any, config: Mapping[str, Any], period: PublicationPeriod) -> Section:
    """The section for one publication period, with its chart drawn by vl-convert."""
    import vl_convert

    from analysis.charts import marks_chart
    from analysis.formatting import GROUP_LABELS
    from survey import quotes
    from survey.reports import Period, cohort_rows

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
