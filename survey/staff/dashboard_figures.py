"""What the dashboard shows, assembled from disclosure-controlled cohort tables.

Every page shows one publication period: a calendar month, quarter, half year or year
(`analysis.publication`), never free dates, so that two periods cannot be subtracted to give
the figures of a smaller one. Three cubes per page, summed from one fetch of the cells
(`survey.reporting.cohorts.Cells`: one funnel query and one mark query, on the sums the
database keeps per month, `survey.cells`) and suppressed with the one pattern of the period's year:
groups (the infoblad table, the funnel, the marks and their 1-10 distribution), group × month
or quarter within the period (the trend), and the chosen breakdown of one or two dimensions
(at most two of team, municipality and care type) with its margins.
The representativeness view is read off the breakdown's own margins, so it publishes no figure
that the breakdown table does not already account for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.disclosure import TOTAL
from analysis.publication import PublicationPeriod
from survey.cells import MARK_ITEMS
from survey.models import Provider
from survey.reporting.cohorts import Cells, beside, cohort_rows, representativeness_of
from survey.reporting.dimensions import Period

PERIODS = ("month", "quarter", "year")
BREAKDOWNS = ("quarter", "month", "year", "provider", "team", "municipality", "care_type")
SECOND_DIMENSIONS = ("group", "quarter", "year", "provider", "team", "municipality", "care_type")
PLACES = ("provider", "team", "municipality", "care_type")
TREND_GRAINS = ("quarter", "month")
MEASURES = ("response_rate", *MARK_ITEMS)
CHARTS = ("breakdown", "trend", *(f"distribution-{item}" for item in MARK_ITEMS))
TABLES = ("groups", "trend", "breakdown", "representativeness")


@dataclass(frozen=True)
class DashboardQuery:
    """The choices in the dashboard's filter form (`survey.staff.filters.DashboardFilterForm`).

    `publication` is the chosen publication period (a calendar month, quarter, half year or
    year, `analysis.publication`): the dashboard shows no other periods, so that no two of its
    views can be subtracted from each other to give the figures of a smaller group.
    """

    publication: PublicationPeriod
    by: str = "quarter"
    by2: str | None = "group"
    grain: str = "quarter"
    measure: str = "response_rate"
    municipality: str | None = None
    """The scope of a municipality's account: every table holds that municipality only (never a
    choice in the form: it comes from the account)."""
    provider: str | None = None
    """The scope of a provider's account (its slug): every table holds that provider's families
    only (never a choice in the form either)."""

    @property
    def where(self) -> dict[str, str]:
        """The scope as the queries take it (`survey.reporting.queries.Where`)."""
        scope = {"municipality": self.municipality, "provider": self.provider}
        return {key: value for key, value in scope.items() if value}

    @property
    def region(self) -> DashboardQuery:
        """The same view for the whole region: the reference beside a scope's own figures."""
        return replace(self, municipality=None, provider=None)

    @property
    def period(self) -> Period:
        """The chosen publication period as the range of end-of-care dates the tables take."""
        return Period.of(self.publication)

    @property
    def dims(self) -> tuple[str, ...]:
        """The breakdown's dimensions, the second one (often group) first."""
        return (self.by2, self.by) if self.by2 else (self.by,)

    def args(self) -> dict[str, str]:
        """The query string that asks for the same view (the scope is the account's, never in
        the address)."""
        query = {"period": self.publication.key, "by": self.by, "by2": self.by2 or ""}
        query.update(grain=self.grain, measure=self.measure)
        return query


def is_cell(row: Mapping[str, Any], dims: tuple[str, ...]) -> bool:
    """True for a cohort cell, False for a margin (subtotal or total) row."""
    return not any(row[d] == TOTAL for d in dims)


def group_rows(
    session: Session, query: DashboardQuery, k: int, cells: Cells | None = None
) -> list[dict[str, Any]]:
    """Youths, parents and their total: funnel, marks and distributions."""
    cells = cells or Cells.fetch(session, [("group",)], query.period, query.where)
    return cohort_rows(session, ("group",), query.period, k, margins=True, cells=cells)


def trend_rows(
    session: Session, query: DashboardQuery, k: int, cells: Cells | None = None
) -> list[dict[str, Any]]:
    """Group × month or quarter, cells only."""
    dims = ("group", query.grain)
    cells = cells or Cells.fetch(session, [dims], query.period, query.where)
    return cohort_rows(session, dims, query.period, k, cells=cells)


def breakdown_rows(
    session: Session, query: DashboardQuery, k: int, cells: Cells | None = None
) -> list[dict[str, Any]]:
    """The chosen breakdown with every margin."""
    cells = cells or Cells.fetch(session, [query.dims], query.period, query.where)
    return cohort_rows(session, query.dims, query.period, k, margins=True, cells=cells)


def representativeness_rows(
    breakdown: list[dict[str, Any]], query: DashboardQuery
) -> list[dict[str, Any]]:
    """Each value of `by` (both groups together) against the overall response rate."""
    return representativeness_of(breakdown, query.by, query.dims)


def dashboard_figures(session: Session, query: DashboardQuery, k: int) -> dict[str, Any]:
    """Every table of the dashboard page for `query`, from one fetch of the cells.

    For a scoped query each row of the groups and breakdown tables carries, under "region", the
    region's row of the same cohort (None when the region has no such cohort): the reference
    shown beside the scope's own figures. Both are nodes of the same protected publication, so
    the region's figures are suppressed exactly as on a regional account's page.
    """
    cubes = [("group",), ("group", query.grain), query.dims]
    cells = Cells.fetch(session, cubes, query.period, query.where)
    groups = group_rows(session, query, k, cells)
    breakdown = breakdown_rows(session, query, k, cells)
    if query.where:
        whole = query.region
        region_cells = Cells.fetch(session, [("group",), whole.dims], whole.period)
        beside(groups, group_rows(session, whole, k, region_cells), ("group",))
        beside(breakdown, breakdown_rows(session, whole, k, region_cells), whole.dims)
    return {
        "groups": groups,
        "headline": [r for r in groups if r["group"] != TOTAL],
        "trend": trend_rows(session, query, k, cells),
        "breakdown": breakdown,
        "representativeness": representativeness_rows(breakdown, query),
        "scoped": bool(query.where),
    }


def table_rows(
    session: Session, query: DashboardQuery, k: int, table: str
) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The dimensions and rows of one downloadable table."""
    if table == "groups":
        return ("group",), group_rows(session, query, k)
    if table == "trend":
        return ("group", query.grain), trend_rows(session, query, k)
    breakdown = breakdown_rows(session, query, k)
    if table == "representativeness":
        return (query.by,), representativeness_rows(breakdown, query)
    return query.dims, breakdown


def value_labels(session: Session | None = None) -> dict[str, str]:
    """Display names of dimension values that are codes or the margin label (with `session`:
    each provider's name for its slug)."""
    labels = {"youth": _("Youths"), "parent": _("Parents"), TOTAL: _("Total")}
    if session is not None:
        providers = session.execute(select(Provider.slug, Provider.name))
        labels |= {slug: name for slug, name in providers}
    return labels


def chart_spec(
    session: Session, query: DashboardQuery, k: int, name: str, *, width: int | str
) -> dict[str, Any]:
    """The Vega-Lite spec of chart `name` (one of CHARTS) for `query`."""
    from analysis import charts  # heavy (altair, ~1.2 s): only for chart specs

    labels = value_labels(session)
    if name == "breakdown":
        rows = [r for r in breakdown_rows(session, query, k) if is_cell(r, query.dims)]
        text = {
            "title": _("Response rate with %(level)s interval", level="95%"),
            "cohort": dimension_label(query.by),
            "series": dimension_label(query.by2) if query.by2 else "",
            "rate": _("Response rate"),
        }
        return charts.response_rate_chart(
            rows, query.by, query.by2, text=text, labels=labels, width=width
        )
    if name == "trend":
        text = {
            "title": measure_label(query.measure),
            "period": dimension_label(query.grain),
            "value": measure_label(query.measure),
            "group": _("Group"),
        }
        rows = trend_rows(session, query, k)
        return charts.trend_chart(
            rows, query.grain, query.measure, text=text, labels=labels, width=width
        )
    item = name.removeprefix("distribution-")
    text = {
        "title": _("Marks given: %(item)s", item=measure_label(item)),
        "mark": _("Mark"),
        "share": _("Share of responses"),
        "group": _("Group"),
    }
    rows = [r for r in group_rows(session, query, k) if r["group"] != TOTAL]
    return charts.distribution_chart(rows, item, text=text, labels=labels, width=width)


def dimension_label(name: str | None) -> str:
    """The display name of a dimension."""
    return {
        "group": _("Group"),
        "quarter": _("Quarter"),
        "month": _("Month"),
        "year": _("Year"),
        "provider": _("Provider"),
        "team": _("Team"),
        "municipality": _("Municipality"),
        "care_type": _("Care type"),
    }.get(name or "", "")


def measure_label(name: str) -> str:
    """The display name of a trend measure or mark item."""
    return {
        "response_rate": _("Response rate"),
        "self_direction": _("Say over the help (1-10)"),
        "usefulness": _("Usefulness (1-10)"),
    }[name]
