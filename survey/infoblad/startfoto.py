"""The startfoto of one municipality: the baseline a programme starts from (issue 19).

For one publication period: the response and marks per respondent group of the families of the
municipality (every provider together) with the region's figures beside them as the reference,
how representative the responses are (each care type and each team against the municipality's
overall response rate), and the approved quotes from the municipality's trajectories. Without a
municipality it is the region's own startfoto.

Every figure is a node of the one protected publication (`survey.reporting.publication`): the
municipality's rows are the region's municipality × group and municipality × care type / team
nodes, suppressed alike, and a quote of the municipality is shown only when the municipality's
count of its group and period is published (`survey.quotes.operations.approved`). Formats:
Markdown, HTML (one self-contained file) and Word (A4, Dutch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from analysis.disclosure import TOTAL
from analysis.formatting import GROUP_LABELS, format_count, format_mark, format_rate
from analysis.publication import PublicationPeriod
from survey.documents import add_table, new_document, saved_docx
from survey.infoblad.render import _templates, dutch_date
from survey.quotes import operations as quotes
from survey.quotes.exports import (
    QUOTES_TITLE,
    add_quotes_box,
    closing_line,
    markdown_text,
    quote_lines,
)
from survey.reporting.cohorts import beside, cohort_rows, representativeness_of
from survey.reporting.dimensions import Period

SUPPRESSED = "te weinig reacties"
REPRESENTATION = {
    "under": "minder dan gemiddeld",
    "over": "meer dan gemiddeld",
    "as_expected": "zoals verwacht",
}
BREAKDOWNS = {"care_type": "Zorgsoort", "team": "Team"}
GROUP_HEADER = [
    "Groep",
    "Verstuurd",
    "Reacties",
    "Respons",
    "Eigen regie",
    "Nuttig",
    "Regio: respons",
    "Regio: eigen regie",
    "Regio: nuttig",
]
# Column widths on A4 landscape (about 25 cm of text width): no word broken over two lines.
GROUP_WIDTHS_CM = (3.0, 2.6, 2.5, 2.4, 2.6, 2.4, 3.0, 3.2, 3.0)
REGION_WIDTHS_CM = (3.4, 2.8, 2.8, 2.8, 2.8, 2.8)
REPRESENTATION_WIDTHS_CM = (6.0, 2.8, 5.0, 3.4, 5.6)
REPRESENTATION_HEADER = [
    "Verstuurd",
    "Respons (95%-interval)",
    "Deel van de reacties",
    "Antwoordt vergeleken met het geheel",
]


@dataclass
class Startfoto:
    """Everything a startfoto shows; `municipality` None is the whole region."""

    municipality: str | None
    period: PublicationPeriod
    groups: list[dict[str, Any]]  # per group and total, each with its "region" row
    representation: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    quotes: list[dict[str, str]] = field(default_factory=list)

    @property
    def title(self) -> str:
        where = f"gemeente {self.municipality}" if self.municipality else "de regio"
        return f"Startfoto {where}: {self.period.label('nl')}"


def build_startfoto(
    session: Session,
    config: Mapping[str, Any],
    period: PublicationPeriod,
    municipality: str | None = None,
) -> Startfoto:
    """The startfoto of `municipality` (a name on the list; None: the region) for `period`."""
    k = config["MIN_CELL_SIZE"]
    span = Period.of(period)
    where = {"municipality": municipality} if municipality else {}
    groups = cohort_rows(session, ("group",), span, k, margins=True, where=where)
    if where:
        beside(groups, cohort_rows(session, ("group",), span, k, margins=True), ("group",))
    representation = {}
    for dim in BREAKDOWNS:
        rows = cohort_rows(session, (dim,), span, k, margins=True, where=where)
        representation[dim] = representativeness_of(rows, dim, (dim,))
    approved = quotes.approved(session, k, period, municipality=municipality)
    return Startfoto(municipality, period, groups, representation, approved)


def intro(startfoto: Startfoto) -> str:
    """The opening sentences: whose families, which period, and what the reference is."""
    period = startfoto.period
    span = f"van {dutch_date(period.start)} tot en met {dutch_date(period.end)}"
    if startfoto.municipality is None:
        return (
            f"Jongeren en ouders/verzorgers van wie de hulp {span} eindigde, kregen een "
            "vragenlijst. Dit zijn de uitkomsten voor de hele regio, alle zorgaanbieders samen."
        )
    return (
        f"Jongeren en ouders/verzorgers uit gemeente {startfoto.municipality} van wie de hulp "
        f"{span} eindigde, kregen een vragenlijst. Dit zijn hun uitkomsten, alle "
        "zorgaanbieders samen, met de cijfers van de hele regio ernaast om te vergelijken."
    )


NOTE = (
    "Groepen met minder reacties dan {k} tonen we niet, en ook geen cijfers waaruit ze te "
    "berekenen zijn."
)


def group_cells(startfoto: Startfoto) -> list[list[str]]:
    """The table of groups: header, then youths, parents and both, with the region beside."""
    regional = startfoto.municipality is not None
    header = GROUP_HEADER if regional else GROUP_HEADER[:6]
    body = []
    for row in startfoto.groups:
        label = GROUP_LABELS.get(row["group"], "Totaal") if row["group"] != TOTAL else "Totaal"
        cells = [label, format_count(row["invited"]), *_figures(row, 4)]
        if regional:
            cells += _region(row.get("region"))
        body.append(cells)
    return [header, *body]


def _figures(row: Mapping[str, Any], width: int) -> list[str]:
    if row["suppressed"]:
        return [SUPPRESSED] + [""] * (width - 1)
    return [
        format_count(row["responded"]),
        format_rate(row["response_rate"]),
        format_mark(row["self_direction_mean"]),
        format_mark(row["usefulness_mean"]),
    ]


def _region(row: Mapping[str, Any] | None) -> list[str]:
    if row is None:
        return ["–", "–", "–"]
    if row["suppressed"]:
        return [SUPPRESSED, "", ""]
    return [
        format_rate(row["response_rate"]),
        format_mark(row["self_direction_mean"]),
        format_mark(row["usefulness_mean"]),
    ]


def representation_cells(rows: Sequence[Mapping[str, Any]], dim: str) -> list[list[str]]:
    """One breakdown's representativeness: sent, rate with interval, share of the responses
    and whether it answers less, more or as the whole municipality."""
    body = []
    for row in rows:
        if row["suppressed"]:
            body.append([str(row[dim]), format_count(row["invited"]), SUPPRESSED, "", ""])
            continue
        interval = (
            f"{format_rate(row['response_rate'])} ({format_rate(row['response_rate_ci_low'])}"
            f" – {format_rate(row['response_rate_ci_high'])})"
        )
        body.append(
            [
                str(row[dim]),
                format_count(row["invited"]),
                interval,
                format_rate(row["response_share"]),
                REPRESENTATION.get(row["representation"] or "", ""),
            ]
        )
    return [[BREAKDOWNS[dim], *REPRESENTATION_HEADER], *body]


def _markdown_table(cells: Sequence[Sequence[str]]) -> str:
    header, *body = cells
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in body)])


def startfoto_markdown(startfoto: Startfoto, k: int) -> str:
    """The startfoto in Markdown."""
    parts = [f"# {startfoto.title}", "", intro(startfoto), "", NOTE.format(k=k), ""]
    parts += ["## Respons en rapportcijfers", "", _markdown_table(group_cells(startfoto)), ""]
    parts += ["## Hoe representatief zijn de reacties?", ""]
    for dim, rows in startfoto.representation.items():
        if rows:
            parts += [_markdown_table(representation_cells(rows, dim)), ""]
    parts += [f"## {QUOTES_TITLE}", ""]
    for line in quote_lines(startfoto.quotes):
        parts += [f"> {markdown_text(line)}", ""]
    parts.append(closing_line(startfoto.quotes, None))
    return "\n".join(parts) + "\n"


def startfoto_html(startfoto: Startfoto, k: int) -> str:
    """The startfoto as one self-contained HTML file (templates/infoblad/startfoto.html)."""
    tables = [
        representation_cells(rows, dim) for dim, rows in startfoto.representation.items() if rows
    ]
    return (
        _templates()
        .get_template("infoblad/startfoto.html")
        .render(
            title=startfoto.title,
            intro=intro(startfoto),
            note=NOTE.format(k=k),
            groups=group_cells(startfoto),
            representation=tables,
            quotes_title=QUOTES_TITLE,
            quotes=quote_lines(startfoto.quotes),
            closing=closing_line(startfoto.quotes, None),
        )
    )


def startfoto_docx(startfoto: Startfoto, k: int) -> bytes:
    """The startfoto as a Word document (A4 landscape, Dutch: nine columns of figures with
    the region's beside them, sized so that no word breaks)."""
    document = new_document("nl", landscape=True)
    document.add_heading(startfoto.title, level=1)
    document.add_paragraph(intro(startfoto))
    document.add_paragraph(NOTE.format(k=k))
    document.add_heading("Respons en rapportcijfers", level=2)
    cells = group_cells(startfoto)
    add_table(document, cells, GROUP_WIDTHS_CM if len(cells[0]) > 6 else REGION_WIDTHS_CM)
    document.add_heading("Hoe representatief zijn de reacties?", level=2)
    for dim, rows in startfoto.representation.items():
        if rows:
            add_table(document, representation_cells(rows, dim), REPRESENTATION_WIDTHS_CM)
            document.add_paragraph("")
    add_quotes_box(document, startfoto.quotes)
    return saved_docx(document)


STARTFOTO_FORMATS: dict[str, Callable[[Startfoto, int], str | bytes]] = {
    "md": startfoto_markdown,
    "html": startfoto_html,
    "docx": startfoto_docx,
}
