"""The cohort tables: the figures of a page or a report, with disclosure control applied.

A page that shows several cubes fetches the cells once (`Cells`) and sums each cube from them.
`cohort_table` hands a cube's cells to `analysis/` for rates, means, intervals and the
suppression pattern of the year's publication (`survey.reporting.publication`); `cohort_rows`
and `report_rows` give the table as plain rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.disclosure import TOTAL
from analysis.formatting import to_records
from analysis.publication import PeriodError
from survey.enums import Group
from survey.models import Provider
from survey.reporting.dimensions import (
    DIMENSIONS,
    PERIOD_GRAINS,
    Period,
    ReportError,
    place_dimensions,
)
from survey.reporting.publication import foreign_rows, hidden_rows, lattice_of
from survey.reporting.queries import Where, cells_can_answer, funnel_cells, mark_cells

log = logging.getLogger(__name__)

GROUP_ORDER = {group: order for order, group in enumerate(Group)}


Frames = tuple[pd.DataFrame, dict[str, pd.DataFrame]]  # funnel cells, mark cells per item


@dataclass(frozen=True)
class Cells:
    """The funnel and mark cells of every cube a page shows, fetched once for the page.

    A page shows several cubes (groups, group × quarter, the chosen breakdown). When the cells
    the database keeps can answer each of them (`cells_can_answer`), every cube is its own two
    small sums over those cells (`cubes`): already aggregated, they are summed to the cube's
    grain in the database far faster than in Python from a common finer grain (at national
    scale, teams × municipalities per month would be some 570,000 rows). Otherwise the cells
    come from the invitations and answers themselves, once at the finest grain that covers
    every cube (`dims`, `funnel`, `marks`), and each cube is summed from them: one pass over
    the base tables instead of one per cube. `rollup` gives a cube's cells either way; the sums
    are exact, so each cube is the same as when queried on its own.
    """

    dims: tuple[str, ...]
    funnel: pd.DataFrame | None = None
    marks: dict[str, pd.DataFrame] | None = None
    cubes: dict[tuple[str, ...], Frames] = field(default_factory=dict)
    where: Mapping[str, str] = field(default_factory=dict)
    """The scope every cube was fetched within (`survey.reporting.queries.Where`)."""

    @property
    def from_cells(self) -> bool:
        """Whether the cubes were read from the kept cells (survey.cells)."""
        return bool(self.cubes)

    @classmethod
    def fetch(
        cls,
        session: Session,
        cubes: Sequence[Sequence[str]],
        period: Period,
        where: Where | None = None,
    ) -> Cells:
        """Fetch the cells of every cube in `cubes` for `period`, within `where`."""
        where = dict(where or {})
        if all(cells_can_answer(cube, period, where) for cube in cubes):
            kept = {
                tuple(cube): (
                    funnel_cells(session, cube, period, from_cells=True, where=where),
                    mark_cells(session, cube, period, from_cells=True, where=where),
                )
                for cube in dict.fromkeys(tuple(cube) for cube in cubes)
            }
            return cls(dims=(), cubes=kept, where=where)
        needed = {d for cube in cubes for d in cube}
        grains = [g for g in PERIOD_GRAINS if g in needed]
        dims = tuple(d for d in DIMENSIONS if d in needed and d not in PERIOD_GRAINS)
        dims += tuple(grains[:1])  # month, else quarter, else year: the others follow from it
        return cls(
            dims,
            funnel_cells(session, dims, period, where=where),
            mark_cells(session, dims, period, where=where),
            where=where,
        )

    def rollup(self, dims: Sequence[str]) -> Frames:
        """The funnel and mark cells of `dims`: one of the fetched cubes, or (from the base
        tables) any set of dimensions that is a subset of, or derived from, `self.dims`."""
        if tuple(dims) in self.cubes:
            return self.cubes[tuple(dims)]
        if self.funnel is None or self.marks is None:
            raise ReportError(f"the cube {tuple(dims)} was not fetched")
        return _sum_to(self.funnel, self.dims, dims), {
            item: _sum_to(frame, self.dims, dims) for item, frame in self.marks.items()
        }


def _sum_to(frame: pd.DataFrame, fine: Sequence[str], dims: Sequence[str]) -> pd.DataFrame:
    """The cells of `frame` (at `fine`) summed to `dims`, periods relabelled to their grain."""
    period = next((d for d in fine if d in PERIOD_GRAINS), None)
    derived = {
        d: frame[period].map(lambda label, d=d: _coarser_period(label, d))
        for d in dims
        if d in PERIOD_GRAINS and d != period
    }
    measures = [c for c in frame.columns if c not in fine]
    frame = frame.assign(**derived)
    if not dims:
        return frame[measures].sum().to_frame().T.astype("int64")
    return frame.groupby(list(dims), as_index=False, sort=False)[measures].sum()


def _coarser_period(label: str, grain: str) -> str:
    """'2025-05' or '2025-Q2' as a quarter ('2025-Q2') or a year ('2025')."""
    if grain == "year":
        return label[:4]
    return f"{label[:4]}-Q{(int(label[5:7]) + 2) // 3}"


REPORT_COLUMNS = (
    "invited",
    "responded",
    "response_rate",
    "n",
    "self_direction_mean",
    "usefulness_mean",
    "suppressed",
)


def cohort_table(
    session: Session,
    dims: Sequence[str],
    period: Period,
    min_cell_size: int,
    *,
    cells: Cells | None = None,
    where: Where | None = None,
) -> pd.DataFrame:
    """The full cohort table (cells and margins) with disclosure control applied.

    The pattern is the one of the whole publication of the period's year
    (`survey.reporting.publication`), so that no combination of this table with any other table
    of any period gives more away. `where` fixes place dimensions (a municipality's scope):
    every row is then the node of the lattice with those coordinates, so a scoped table shows
    exactly what the region's tables show of that municipality, nothing more.

    With `cells` (fetched for a whole page), nothing is queried: the cube is summed from them
    (and they carry their own `where`).
    """
    # heavy (analysis.cohorts loads scipy.stats, ~0.8 s): only when a cohort table is built
    from analysis.cohorts import cohort_report

    publication = period.publication
    if cells is None:
        where = dict(where or {})
        funnel = funnel_cells(session, dims, period, where=where)
        marks = mark_cells(session, dims, period, where=where)
    else:
        where = dict(cells.where)
        funnel, marks = cells.rollup(dims)
    if len(place_dimensions([*dims, *where])) > 2:
        raise ReportError(
            "at most two of team (or provider), municipality and care type, the scope included"
        )
    lattice = lattice_of(session, publication.year, min_cell_size)
    try:
        table = cohort_report(
            funnel,
            marks,
            dims,
            k=min_cell_size,
            pattern=lambda cube: hidden_rows(lattice, cube, dims, publication, where),
        )
        return table[~foreign_rows(lattice, table, dims)].reset_index(drop=True)
    except (ValueError, PeriodError):
        # The cells changed between reading the table and its pattern (an answer arrived, a
        # purge erased some): show nothing of this table rather than a figure the pattern
        # was not decided for. The next request reads both anew.
        log.warning("a table and its pattern disagreed; every cell of it hidden")
        table = cohort_report(
            funnel,
            marks,
            dims,
            k=min_cell_size,
            pattern=lambda cube: pd.Series(True, index=cube.index),
        )
        return table[~foreign_rows(lattice, table, dims)].reset_index(drop=True)


def cohort_rows(
    session: Session,
    dims: Sequence[str],
    period: Period,
    min_cell_size: int,
    *,
    margins: bool = False,
    cells: Cells | None = None,
    where: Where | None = None,
) -> list[dict[str, Any]]:
    """Every figure of the cohort table as plain rows, suppression applied, in reading order.

    Rows carry the funnel, the rates with their interval, and per mark item n, mean, SD,
    interval and the 1-10 counts. With `margins`, the subtotal rows (dimension value `TOTAL`)
    are included and sort last; `suppression_reason` never leaves this function, since it would
    tell which hidden cells are below k. `cells` and `where`: see `cohort_table`.
    """
    table = cohort_table(session, dims, period, min_cell_size, cells=cells, where=where)
    if dims and not margins:
        table = table[~table["is_total"]]
    rows = to_records(table.drop(columns=["suppression_reason"]))

    def key(row: dict[str, Any]) -> tuple:
        return tuple(
            (row[d] == TOTAL, GROUP_ORDER.get(row[d], 0) if d == "group" else str(row[d]))
            for d in dims
        )

    return sorted(rows, key=key)


def report_rows(
    session: Session,
    dims: Sequence[str],
    period: Period,
    min_cell_size: int,
    where: Where | None = None,
) -> list[dict[str, Any]]:
    """The rows of `ervaringswijzer report`: one per cohort cell (no margins unless no dims),
    within `where`."""
    columns = [*dims, *REPORT_COLUMNS]
    rows = cohort_rows(session, dims, period, min_cell_size, where=where)
    return [{column: row[column] for column in columns} for row in rows]


def with_provider_names(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` for people: each provider by its name instead of its slug (the machine formats
    keep the slug)."""
    if not rows or "provider" not in rows[0]:
        return rows
    names = {slug: name for slug, name in session.execute(select(Provider.slug, Provider.name))}
    return [{**row, "provider": names.get(row["provider"], row["provider"])} for row in rows]


def beside(rows: list[dict[str, Any]], region: list[dict[str, Any]], dims: Sequence[str]) -> None:
    """Give each of `rows` (a scope's table) the `region` row of the same cohort, under
    "region" (None when the region has no such cohort): the reference shown beside it."""
    by_cohort = {tuple(row[d] for d in dims): row for row in region}
    for row in rows:
        row["region"] = by_cohort.get(tuple(row[d] for d in dims))


def representativeness_of(
    breakdown: list[dict[str, Any]], by: str, dims: Sequence[str]
) -> list[dict[str, Any]]:
    """Each value of `by` in a breakdown of `dims` with margins (both groups together, any
    other dimension at its margin) against the overall response rate of the breakdown."""
    from analysis.representativeness import representativeness

    others = [d for d in dims if d != by]
    by_margin = [r for r in breakdown if r[by] != TOTAL and all(r[d] == TOTAL for d in others)]
    overall = next((r for r in breakdown if all(r[d] == TOTAL for d in dims)), None)
    if not by_margin or overall is None:
        return []
    table = representativeness(
        pd.DataFrame(by_margin), sent=overall["sent"] or 0, responded=overall["responded"] or 0
    )
    return to_records(table)
