"""The infoblad's "Uitkomsten Ervaringswijzer" section and the quotes box, ready to paste.

Built from what may leave the system only: the disclosure-controlled results table per group and
approved quotes, attributed as "ouder" or "jongere" with the source line naming every provider
whose families the figures count ("(Bron: Ervaringswijzer MetMaya)"; a regional section names
them all, and each quote its own provider). Formats: Markdown, HTML (one self-contained file,
the chart inlined as PNG) and Word (python-docx, the chart as PNG); quotes alone also as CSV.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.formatting import GROUP_LABELS, format_mark, infoblad_cells, infoblad_table
from analysis.publication import PublicationPeriod
from survey.documents import add_caption, add_picture, add_table, new_document, saved_docx
from survey.models import Episode, Provider
from survey.paths import resource_dir
from survey.quotes import operations as quotes
from survey.quotes.exports import (
    QUOTES_TITLE,
    add_quotes_box,
    closing_line,
    quote_lines,
    quotes_markdown,
)
from survey.reporting.cohorts import cohort_rows
from survey.reporting.dimensions import Period

SECTION_TITLE = "Uitkomsten Ervaringswijzer"
CHART_WIDTH = 400
"""The chart's plot width in CSS pixels: with axis and legend it prints within the A4 text
width at its natural size (survey.documents.add_picture), where 1 px is 0.75 pt."""
CHART_FONT_PX = 13
PRINT_FONTS = {
    "axis": {"labelFontSize": CHART_FONT_PX, "titleFontSize": CHART_FONT_PX},
    "legend": {"labelFontSize": CHART_FONT_PX, "titleFontSize": CHART_FONT_PX},
    "header": {"labelFontSize": CHART_FONT_PX, "titleFontSize": CHART_FONT_PX},
    "title": {"fontSize": CHART_FONT_PX + 2},
}
"""Chart text sizes for print: 13 px is 9.75 pt at the natural size (at least 9 pt)."""
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


def intro(period: PublicationPeriod, scope: str = "") -> str:
    """The sentence that opens the section and names the period (and the scope) it covers."""
    return (
        f"Van {dutch_date(period.start)} tot en met {dutch_date(period.end)} kregen jongeren en "
        f"ouders/verzorgers{scope} aan het einde van een hulptraject een vragenlijst om de "
        "cliënttevredenheid te meten. De uitkomsten over deze periode zijn:"
    )


@dataclass(frozen=True)
class Section:
    """Everything the section shows."""

    period: PublicationPeriod
    results: list[dict[str, Any]]  # report rows by group, suppression applied
    quotes: list[dict[str, str]]  # approved quotes: group, text and provider
    providers: list[str]  # whom the figures count: the source line names every one
    chart_png: bytes | None = None
    scope: str = ""  # " uit gemeente Soest", " van Jeugdzorg Kompas": whose figures these are


# -- the whole section ------------------------------------------------------------------------


def section_markdown(section: Section) -> str:
    """The section in Markdown (the chart is left to the HTML and Word versions)."""
    table = infoblad_table(section.results)
    parts = [f"## {SECTION_TITLE}", "", intro(section.period, section.scope), "", table, ""]
    return "\n".join(parts) + "\n" + quotes_markdown(section.quotes, section.providers)


def section_html(section: Section) -> str:
    """The section as one self-contained HTML file (templates/infoblad/section.html)."""
    header, *body = infoblad_cells(section.results)
    chart = base64.b64encode(section.chart_png).decode("ascii") if section.chart_png else None
    return (
        _templates()
        .get_template("infoblad/section.html")
        .render(
            title=SECTION_TITLE,
            intro=intro(section.period, section.scope),
            header=header,
            body=body,
            chart=chart,
            chart_title=CHART_TITLE,
            quotes_title=QUOTES_TITLE,
            quotes=quote_lines(section.quotes),
            closing=closing_line(section.quotes, section.providers),
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


TABLE_WIDTHS_CM = (7.6, 4.7, 4.7)
"""The results table in Word: the labels' column, then one per group (the A4 text width)."""
CHART_CAPTION = (
    "Elke staaf is een gemiddeld rapportcijfer. Het zwarte lijntje is het 95%-"
    "betrouwbaarheidsinterval: het gemiddelde van alle gezinnen ligt met 95% zekerheid "
    "tussen de uiteinden. Hoe minder reacties, hoe langer het lijntje."
)


def section_docx(section: Section) -> bytes:
    """The section as a Word document (A4, Dutch): heading, intro naming the period, the
    results table, the chart with its caption and alternative text, the quotes box."""
    document = new_document("nl")
    document.add_heading(SECTION_TITLE, level=2)
    document.add_paragraph(intro(section.period, section.scope))
    cells = [[_unbroken(text) for text in row] for row in infoblad_cells(section.results)]
    # A period with answers of one group only has one figure column.
    add_table(document, cells, TABLE_WIDTHS_CM[: len(cells[0])])
    if section.chart_png:
        add_picture(document, section.chart_png, alt=chart_alt_text(section), title=CHART_TITLE)
        add_caption(document, CHART_CAPTION)
    add_quotes_box(document, section.quotes, section.providers)
    return saved_docx(document)


def _unbroken(text: str) -> str:
    """ "rapportcijfer 1-10" kept on one line (a no-break space and a non-breaking hyphen)."""
    return text.replace("rapportcijfer 1-10", "rapportcijfer\u00a01\u201110")


def chart_alt_text(section: Section) -> str:
    """What the chart shows, in words, for whoever cannot see it."""
    parts = [
        f"{GROUP_LABELS[row['group']]}: ervaren eigen regie "
        f"{format_mark(row['self_direction_mean'])}, hoe nuttig was de hulp "
        f"{format_mark(row['usefulness_mean'])}"
        for row in section.results
        if not row["suppressed"] and row["group"] in GROUP_LABELS
    ]
    return f"Staafdiagram van de gemiddelde rapportcijfers per groep. {'; '.join(parts)}."


SECTION_FORMATS: dict[str, Callable[[Section], str | bytes]] = {
    "md": section_markdown,
    "html": section_html,
    "docx": section_docx,
}
"""`infoblad --format` and the web download: format → renderer(section)."""


def providers_counted(
    session: Session, period: PublicationPeriod, where: Mapping[str, str] | None = None
) -> list[str]:
    """The providers whose trajectories ended in `period` (and so count in its table), within
    `where` (a provider's slug, a municipality)."""
    query = (
        select(Provider.name)
        .join(Episode, Episode.provider_id == Provider.id)
        .where(Episode.end_date.between(period.start, period.end))
        .distinct()
        .order_by(Provider.name)
    )
    scope = dict(where or {})
    if "provider" in scope:
        query = query.where(Provider.slug == scope["provider"])
    if "municipality" in scope:
        query = query.where(Episode.municipality == scope["municipality"])
    return list(session.scalars(query))


def build_section(
    session: Any,
    config: Mapping[str, Any],
    period: PublicationPeriod,
    where: Mapping[str, str] | None = None,
) -> Section:
    """The section for one publication period, with its chart drawn by vl-convert; `where`:
    the figures and quotes of one provider (its slug) or municipality only."""
    # heavy (vl-convert, an 87 MB native library; altair via analysis.charts, ~1.2 s): only
    # when an infoblad section is built
    import vl_convert

    from analysis.charts import marks_chart

    k = config["MIN_CELL_SIZE"]
    where = dict(where or {})
    rows = cohort_rows(session, ("group",), Period.of(period), k, where=where)
    items = {
        "self_direction": "Ervaren eigen regie",
        "usefulness": "Hoe nuttig was de hulp?",
    }
    text = {"title": CHART_TITLE, "question": "Vraag", "mark": "Rapportcijfer", "group": "Groep"}
    spec = marks_chart(rows, items, text=text, labels=GROUP_LABELS, width=CHART_WIDTH)
    spec.setdefault("config", {}).update(PRINT_FONTS)
    shown = any(not row["suppressed"] for row in rows)
    chart = vl_convert.vegalite_to_png(spec, scale=2, format_locale="nl-NL") if shown else None
    return Section(
        period=period,
        results=rows,
        quotes=quotes.approved(
            session,
            k,
            period,
            municipality=where.get("municipality"),
            provider=where.get("provider"),
        ),
        providers=providers_counted(session, period, where) or [config["PROVIDER_NAME"]],
        chart_png=chart,
        scope=_scope_words(session, where),
    )


def _scope_words(session: Session, where: Mapping[str, str]) -> str:
    """Whose families the section is about, as the intro says it."""
    words = ""
    if "municipality" in where:
        words += f" uit gemeente {where['municipality']}"
    if "provider" in where:
        name = session.scalar(select(Provider.name).where(Provider.slug == where["provider"]))
        words += f" van {name}"
    return words
