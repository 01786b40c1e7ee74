"""The bridge from the database to `analysis/`: cohort aggregates computed in SQL.

Two queries per report, one per world: the contact world gives the funnel per cohort cell
(sent, opened, responded, bounced, opted out, answered after a reminder) from the invitation
dates, which retention keeps; the answer world gives n, sum, sum of squares and the 1-10
distribution of each mark item per cell. A page that shows several cubes fetches the cells
once at the finest grain it needs (`Cells`) and sums each cube from them. Neither query loads a
row per person; the small cell tables go to `analysis/` for rates, means, intervals and
disclosure control.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Select, String, and_, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from analysis.publication import PeriodError, PublicationPeriod
from survey.cells import CELL_DIMENSIONS, MARK_ITEMS, MARKS, PAIRS, funnel_cell, mark_cell
from survey.models import Episode, Invitation, Response, ResponseAnswer

log = logging.getLogger(__name__)

DIMENSIONS = ("group", "month", "quarter", "year", "team", "municipality", "care_type")
GROUP_ORDER = {"youth": 0, "parent": 1}


class ReportError(ValueError):
    """A report request names an unknown dimension or an impossible period."""


class _PeriodOf(FunctionElement):
    """The month, quarter or year of a date column, as the database groups it fastest.

    PostgreSQL gives the period's first day (`date_trunc`: far cheaper per row than formatting
    a label); SQLite gives the label itself. `_frame` turns either into the label ('2025-05',
    '2025-Q2', '2025'). One class per grain, so the grain is part of the statement cache key.
    """

    inherit_cache = True
    type = String()  # no result conversion: a date from PostgreSQL, a label from SQLite
    grain = ""


class _MonthOf(_PeriodOf):
    inherit_cache = True
    grain = "month"


class _QuarterOf(_PeriodOf):
    inherit_cache = True
    grain = "quarter"


class _YearOf(_PeriodOf):
    inherit_cache = True
    grain = "year"


PERIOD_OF = {"month": _MonthOf, "quarter": _QuarterOf, "year": _YearOf}
PERIOD_GRAINS = tuple(PERIOD_OF)  # finest first


@compiles(_PeriodOf, "postgresql")
def _period_pg(element: _PeriodOf, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(date_trunc('{element.grain}', {column}) AS DATE)"


@compiles(_PeriodOf)
def _period_default(element: _PeriodOf, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    if element.grain == "month":
        return f"strftime('%Y-%m', {column})"
    if element.grain == "year":
        return f"strftime('%Y', {column})"
    return (
        f"strftime('%Y', {column}) || '-Q' || "
        f"CAST((CAST(strftime('%m', {column}) AS INTEGER) + 2) / 3 AS TEXT)"
    )


def period_name(value: date | str, grain: str) -> str:
    """The label of a period from its first day (or the label itself)."""
    if isinstance(value, str):
        return value
    if grain == "month":
        return f"{value.year}-{value.month:02d}"
    if grain == "quarter":
        return f"{value.year}-Q{(value.month + 2) // 3}"
    return str(value.year)


def parse_dimensions(by: str | Sequence[str] | None) -> tuple[str, ...]:
    """`group,quarter` → ('group', 'quarter'); unknown names raise ReportError."""
    if by is None or by == "":
        return ()
    names = [d.strip() for d in (by.split(",") if isinstance(by, str) else by) if d.strip()]
    unknown = [d for d in names if d not in DIMENSIONS]
    if unknown:
        raise ReportError(f"unknown dimension {unknown[0]!r}: choose from {', '.join(DIMENSIONS)}")
    if len(set(names)) != len(names):
        raise ReportError("a dimension appears twice")
    if len([d for d in names if d in CELL_DIMENSIONS]) > 2:
        raise ReportError(
            "at most two of team, municipality and care_type: finer tables would single out "
            "families"
        )
    if len([d for d in names if d in PERIOD_OF]) > 1:
        raise ReportError("one of month, quarter and year at a time")
    return tuple(names)


# Where each dimension lives in the two worlds; periods come from the end-of-care date.
CONTACT_COLUMNS = {
    "group": Invitation.respondent_group,
    "team": Episode.team,
    "municipality": Episode.municipality,
    "care_type": Episode.care_type,
    "period": Episode.end_date,
}
ANSWER_COLUMNS = {
    "group": Response.respondent_group,
    "team": Response.team,
    "municipality": Response.municipality,
    "care_type": Response.care_type,
    "period": Response.end_month,
}


def _dimension(name: str, columns: dict[str, Any]) -> ColumnElement:
    """The labelled SQL expression of dimension `name` in one world's `columns`."""
    if name in columns:
        return columns[name].label(name)
    return PERIOD_OF[name](columns["period"]).label(name)


def _count_if(condition: ColumnElement) -> ColumnElement:
    return func.count().filter(condition)


@dataclass(frozen=True)
class Period:
    """An inclusive range of end-of-care dates (either end may be open).

    Published tables take only a publication period (`analysis.publication`): a calendar month,
    quarter, half year or year; `publication` tells which one, or refuses.
    """

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise ReportError("--from is after --to")

    @classmethod
    def of(cls, period: PublicationPeriod) -> Period:
        return cls(period.start, period.end)

    @property
    def publication(self) -> PublicationPeriod:
        """The publication period this range is (ReportError if it is none)."""
        if self.start is None or self.end is None:
            raise ReportError("figures are published per month, quarter, half year or year")
        try:
            return PublicationPeriod.from_range(self.start, self.end)
        except PeriodError as problem:
            raise ReportError(str(problem)) from None


FUNNEL_NAMES = ("sent", "opened", "responded", "bounced", "opted_out", "after_reminder")
MARK_NAMES = ("n", "sum", "sumsq", *(f"count_{m}" for m in MARKS))


def funnel_cells(
    session: Session, dims: Sequence[str], period: Period, *, from_cells: bool = False
) -> pd.DataFrame:
    """Per cohort cell: sent, opened, responded, bounced, opted_out, after_reminder.

    `from_cells`: read the sums the database keeps (`survey.cells`; see `cells_can_answer`)
    instead of aggregating the invitations: the same figures, in a fraction of the time.
    """
    query = cell_funnel_query(dims, period) if from_cells else funnel_query(dims, period)
    return _frame(session.execute(query).all(), [*dims, *FUNNEL_NAMES], len(dims))


def funnel_query(dims: Sequence[str], period: Period) -> Select:
    """The SQL of `funnel_cells`: one GROUP BY over invitations joined to their episodes."""
    columns = [_dimension(d, CONTACT_COLUMNS) for d in dims]
    sent = Invitation.sent_at.is_not(None)
    query = (
        select(
            *columns,
            _count_if(sent).label("sent"),
            _count_if(and_(sent, Invitation.opened_at.is_not(None))).label("opened"),
            _count_if(Invitation.responded_at.is_not(None)).label("responded"),
            _count_if(Invitation.bounced_at.is_not(None)).label("bounced"),
            _count_if(Invitation.opted_out_at.is_not(None)).label("opted_out"),
            _count_if(
                and_(
                    Invitation.reminded_at.is_not(None),
                    func.date(Invitation.responded_at) >= func.date(Invitation.reminded_at),
                )
            ).label("after_reminder"),
        )
        .join(Invitation.episode)
        .where(Invitation.invited_at.is_not(None))
    )
    if period.start:
        query = query.where(Episode.end_date >= period.start)
    if period.end:
        query = query.where(Episode.end_date <= period.end)
    if columns:
        query = query.group_by(*columns)
    return query


def mark_cells(
    session: Session, dims: Sequence[str], period: Period, *, from_cells: bool = False
) -> dict[str, pd.DataFrame]:
    """Per mark item, per cohort cell: n, sum, sumsq and count_1 … count_10 (`from_cells`: as
    in `funnel_cells`)."""
    query = cell_mark_query(dims, period) if from_cells else mark_query(dims, period)
    rows = session.execute(query).all()
    frame = _frame(rows, [*dims, "item", *MARK_NAMES], len(dims) + 1)
    return {
        item: frame[frame["item"] == item].drop(columns="item").reset_index(drop=True)
        for item in MARK_ITEMS
    }


def mark_query(dims: Sequence[str], period: Period) -> Select:
    """The SQL of `mark_cells`: one GROUP BY over the answers to every mark item."""
    columns = [_dimension(d, ANSWER_COLUMNS) for d in dims]
    value = ResponseAnswer.value_int
    item = ResponseAnswer.item_id.label("item")
    query = (
        select(
            *columns,
            item,
            func.count(value).label("n"),
            func.sum(value).label("sum"),
            func.sum(value * value).label("sumsq"),
            *(_count_if(value == mark).label(f"count_{mark}") for mark in MARKS),
        )
        .select_from(Response)
        .join(ResponseAnswer, ResponseAnswer.response_id == Response.id)
        .where(ResponseAnswer.item_id.in_(MARK_ITEMS), value.is_not(None))
        .group_by(*columns, ResponseAnswer.item_id)
    )
    if period.start:
        query = query.where(Response.end_month >= period.start.replace(day=1))
    if period.end:
        query = query.where(Response.end_month <= period.end.replace(day=1))
    return query


def cells_can_answer(dims: Sequence[str], period: Period) -> bool:
    """True when the kept cells hold exactly the figures of `dims` in `period`.

    They do for whole months (the cells count per month of the end of care) and for at most two
    of team, municipality and care type (the cells come in pairs of them).
    """
    starts = period.start is None or period.start.day == 1
    ends = period.end is None or (period.end + timedelta(days=1)).day == 1
    return starts and ends and _pair(dims) is not None


def _pair(dims: Sequence[str]) -> str | None:
    """The smallest pair of cell dimensions that holds every one of `dims`."""
    needed = {d for d in dims if d in CELL_DIMENSIONS}
    return next((name for name, pair in PAIRS.items() if needed <= set(pair)), None)


def _cell_columns(table: Any) -> dict[str, Any]:
    return {
        "group": table.c.respondent_group,
        **{d: table.c[d] for d in CELL_DIMENSIONS},
        "period": table.c.end_month,
    }


def _cell_selection(table: Any, dims: Sequence[str], period: Period) -> tuple[list, Select]:
    """The dimension columns of `dims` and the FROM/WHERE of their pair's cells in `period`."""
    if not cells_can_answer(dims, period):
        raise ReportError("the kept cells cannot answer this breakdown or period")
    columns = [_dimension(d, _cell_columns(table)) for d in dims]
    query = select(*columns).where(table.c.pair == _pair(dims))
    if period.start:
        query = query.where(table.c.end_month >= period.start)
    if period.end:
        query = query.where(table.c.end_month <= period.end.replace(day=1))
    return columns, query


def cell_funnel_query(dims: Sequence[str], period: Period) -> Select:
    """`funnel_query`'s figures summed from the kept funnel cells."""
    columns, query = _cell_selection(funnel_cell, dims, period)
    query = query.add_columns(*(func.sum(funnel_cell.c[n]).label(n) for n in FUNNEL_NAMES))
    if columns:
        # A cell whose invitations were all taken back (deleted, moved) keeps a row of zeros.
        query = query.group_by(*columns).having(func.sum(funnel_cell.c.invited) > 0)
    return query


def cell_mark_query(dims: Sequence[str], period: Period) -> Select:
    """`mark_query`'s figures summed from the kept mark cells."""
    columns, query = _cell_selection(mark_cell, dims, period)
    sums = {"n": "n", "sum": "total", "sumsq": "total_sq"} | {
        f"count_{m}": f"count_{m}" for m in MARKS
    }
    return (
        query.add_columns(
            mark_cell.c.item_id.label("item"),
            *(func.sum(mark_cell.c[column]).label(name) for name, column in sums.items()),
        )
        .where(mark_cell.c.item_id.in_(MARK_ITEMS))
        .group_by(*columns, mark_cell.c.item_id)
        .having(func.sum(mark_cell.c.n) > 0)
    )


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

    @property
    def from_cells(self) -> bool:
        """Whether the cubes were read from the kept cells (survey.cells)."""
        return bool(self.cubes)

    @classmethod
    def fetch(cls, session: Session, cubes: Sequence[Sequence[str]], period: Period) -> Cells:
        """Fetch the cells of every cube in `cubes` for `period`."""
        if all(cells_can_answer(cube, period) for cube in cubes):
            kept = {
                tuple(cube): (
                    funnel_cells(session, cube, period, from_cells=True),
                    mark_cells(session, cube, period, from_cells=True),
                )
                for cube in dict.fromkeys(tuple(cube) for cube in cubes)
            }
            return cls(dims=(), cubes=kept)
        needed = {d for cube in cubes for d in cube}
        grains = [g for g in PERIOD_GRAINS if g in needed]
        dims = tuple(d for d in DIMENSIONS if d in needed and d not in PERIOD_GRAINS)
        dims += tuple(grains[:1])  # month, else quarter, else year: the others follow from it
        return cls(dims, funnel_cells(session, dims, period), mark_cells(session, dims, period))

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


def _frame(rows: Sequence[Any], names: list[str], n_dims: int) -> pd.DataFrame:
    """Rows as a DataFrame with integer counts (SUM over no rows gives NULL: that is 0)."""
    frame = pd.DataFrame(rows, columns=names)
    numeric = names[n_dims:]
    periods = {
        c: frame[c].map({v: period_name(v, c) for v in frame[c].unique()})
        for c in names[:n_dims]
        if c in PERIOD_OF
    }
    return frame.assign(**periods, **{c: frame[c].fillna(0).astype("int64") for c in numeric})


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
) -> pd.DataFrame:
    """The full cohort table (cells and margins) with disclosure control applied.

    The pattern is the one of the whole publication of the period's year (`survey.publication`),
    so that no combination of this table with any other table of any period gives more away.

    With `cells` (fetched for a whole page), nothing is queried: the cube is summed from them.
    """
    from analysis.cohorts import cohort_report
    from survey.publication import hidden_rows, lattice_of

    publication = period.publication
    if cells is None:
        funnel, marks = funnel_cells(session, dims, period), mark_cells(session, dims, period)
    else:
        funnel, marks = cells.rollup(dims)
    lattice = lattice_of(session, publication.year, min_cell_size)
    try:
        return cohort_report(
            funnel,
            marks,
            dims,
            k=min_cell_size,
            pattern=lambda cube: hidden_rows(lattice, cube, dims, publication),
        )
    except (ValueError, PeriodError):
        # The cells changed between reading the table and its pattern (an answer arrived, a
        # purge erased some): show nothing of this table rather than a figure the pattern
        # was not decided for. The next request reads both anew.
        log.warning("a table and its pattern disagreed; every cell of it hidden")
        return cohort_report(
            funnel,
            marks,
            dims,
            k=min_cell_size,
            pattern=lambda cube: pd.Series(True, index=cube.index),
        )


def cohort_rows(
    session: Session,
    dims: Sequence[str],
    period: Period,
    min_cell_size: int,
    *,
    margins: bool = False,
    cells: Cells | None = None,
) -> list[dict[str, Any]]:
    """Every figure of the cohort table as plain rows, suppression applied, in reading order.

    Rows carry the funnel, the rates with their interval, and per mark item n, mean, SD,
    interval and the 1-10 counts. With `margins`, the subtotal rows (dimension value `TOTAL`)
    are included and sort last; `suppression_reason` never leaves this function, since it would
    tell which hidden cells are below k. `cells`: see `cohort_table`.
    """
    from analysis.disclosure import TOTAL
    from analysis.formatting import to_records

    table = cohort_table(session, dims, period, min_cell_size, cells=cells)
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
    session: Session, dims: Sequence[str], period: Period, min_cell_size: int
) -> list[dict[str, Any]]:
    """The rows of `ervaringswijzer report`: one per cohort cell (no margins unless no dims)."""
    columns = [*dims, *REPORT_COLUMNS]
    rows = cohort_rows(session, dims, period, min_cell_size)
    return [{column: row[column] for column in columns} for row in rows]
