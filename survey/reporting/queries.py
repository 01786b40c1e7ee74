"""The bridge from the database to `analysis/`: cohort aggregates computed in SQL.

Two queries per report, one per world: the contact world gives the funnel per cohort cell
(sent, opened, responded, bounced, opted out, answered after a reminder) from the invitation
dates, which retention keeps; the answer world gives n, sum, sum of squares and the 1-10
distribution of each mark item per cell. Either can instead be summed from the cells the
database keeps (`survey.cells`) when those hold the breakdown and period asked for. Neither query
loads a row per person; the small cell tables go to `analysis/` for rates, means, intervals and
disclosure control (`survey.reporting.cohorts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from survey.cells import CELL_DIMENSIONS, MARK_ITEMS, MARKS, PAIRS, funnel_cell, mark_cell
from survey.cells.measures import (
    FUNNEL_MEASURES,
    funnel_conditions,
    is_mark,
    mark_counts,
    mark_sums,
)
from survey.models import Episode, Invitation, Provider, Response, ResponseAnswer
from survey.reporting.dimensions import (
    ANSWER_COLUMNS,
    CONTACT_COLUMNS,
    PERIOD_GRAINS,
    PROVIDER,
    Period,
    ReportError,
    dimension_column,
    period_name,
)


def _count_if(condition: ColumnElement) -> ColumnElement:
    return func.count().filter(condition)


FUNNEL_NAMES = FUNNEL_MEASURES
# The mark sums by the kept cells' column names (survey.cells) → by analysis' names.
MARK_NAMES = {"n": "n", "total": "sum", "total_sq": "sumsq"} | {
    f"count_{m}": f"count_{m}" for m in MARKS
}


Where = Mapping[str, str]
"""A fixed value per place dimension (`{"municipality": "Soest"}`): the scope of an account, or a
report's filter. Only cells with these values count; the figures keep the other dimensions."""


def funnel_cells(
    session: Session,
    dims: Sequence[str],
    period: Period,
    *,
    from_cells: bool = False,
    where: Where | None = None,
) -> pd.DataFrame:
    """Per cohort cell: sent, opened, responded, bounced, opted_out, after_reminder.

    `from_cells`: read the sums the database keeps (`survey.cells`; see `cells_can_answer`)
    instead of aggregating the invitations: the same figures, in a fraction of the time.
    `where`: only the cells of that scope.
    """
    where, slugs = _provider_ids(session, where or {}, dims)
    if from_cells:
        query = cell_funnel_query(dims, period, where)
    else:
        query = funnel_query(dims, period, where)
    return _frame(session.execute(query).all(), [*dims, *FUNNEL_NAMES], len(dims), slugs)


def funnel_query(dims: Sequence[str], period: Period, where: Where | None = None) -> Select:
    """The SQL of `funnel_cells`: one GROUP BY over invitations joined to their episodes."""
    columns = [dimension_column(d, CONTACT_COLUMNS) for d in dims]
    counts = funnel_conditions(Invitation)
    query = (
        select(*columns, *(_count_if(counts[name]).label(name) for name in FUNNEL_NAMES))
        .join(Invitation.episode)
        .where(Invitation.invited_at.is_not(None))
        .where(*(CONTACT_COLUMNS[d] == value for d, value in (where or {}).items()))
    )
    if period.start:
        query = query.where(Episode.end_date >= period.start)
    if period.end:
        query = query.where(Episode.end_date <= period.end)
    if columns:
        query = query.group_by(*columns)
    return query


def mark_cells(
    session: Session,
    dims: Sequence[str],
    period: Period,
    *,
    from_cells: bool = False,
    where: Where | None = None,
) -> dict[str, pd.DataFrame]:
    """Per mark item, per cohort cell: n, sum, sumsq and count_1 … count_10 (`from_cells` and
    `where`: as in `funnel_cells`)."""
    where, slugs = _provider_ids(session, where or {}, dims)
    query = cell_mark_query(dims, period, where) if from_cells else mark_query(dims, period, where)
    rows = session.execute(query).all()
    frame = _frame(rows, [*dims, "item", *MARK_NAMES.values()], len(dims) + 1, slugs)
    return {
        item: frame[frame["item"] == item].drop(columns="item").reset_index(drop=True)
        for item in MARK_ITEMS
    }


def mark_query(dims: Sequence[str], period: Period, where: Where | None = None) -> Select:
    """The SQL of `mark_cells`: one GROUP BY over the answers to every mark item."""
    columns = [dimension_column(d, ANSWER_COLUMNS) for d in dims]
    item = ResponseAnswer.item_id.label("item")
    sums, counts = mark_sums(ResponseAnswer), mark_counts(ResponseAnswer)
    query = (
        select(
            *columns,
            item,
            *(func.sum(value).label(MARK_NAMES[measure]) for measure, value in sums.items()),
            *(_count_if(condition).label(name) for name, condition in counts.items()),
        )
        .select_from(Response)
        .join(ResponseAnswer, ResponseAnswer.response_id == Response.id)
        .where(is_mark(ResponseAnswer))
        .where(*(ANSWER_COLUMNS[d] == value for d, value in (where or {}).items()))
        .group_by(*columns, ResponseAnswer.item_id)
    )
    if period.start:
        query = query.where(Response.end_month >= period.start.replace(day=1))
    if period.end:
        query = query.where(Response.end_month <= period.end.replace(day=1))
    return query


def cells_can_answer(dims: Sequence[str], period: Period, where: Where | None = None) -> bool:
    """True when the kept cells hold exactly the figures of `dims` in `period` (within
    `where`).

    They do for whole months (the cells count per month of the end of care) and for at most two
    of team, municipality and care type, counting those of `where` (the cells come in pairs of
    them).
    """
    starts = period.start is None or period.start.day == 1
    ends = period.end is None or (period.end + timedelta(days=1)).day == 1
    return starts and ends and _pair([*dims, *(where or {})]) is not None


def _pair(dims: Sequence[str]) -> str | None:
    """The smallest pair of cell dimensions that holds every one of `dims`."""
    needed = {d for d in dims if d in CELL_DIMENSIONS}
    return next((name for name, pair in PAIRS.items() if needed <= set(pair)), None)


def _provider_ids(
    session: Session, where: Where, dims: Sequence[str]
) -> tuple[dict[str, Any], dict[int, str]]:
    """`where` with a provider's slug as its id (the columns hold ids), and the slug of every
    id when the rows carry providers. An unknown slug matches no row."""
    if PROVIDER not in where and PROVIDER not in dims:
        return dict(where), {}
    slugs: dict[int, str] = {i: s for i, s in session.execute(select(Provider.id, Provider.slug))}
    resolved: dict[str, Any] = dict(where)
    if PROVIDER in where:
        ids = {slug: id_ for id_, slug in slugs.items()}
        resolved[PROVIDER] = ids.get(where[PROVIDER], -1)
    return resolved, slugs


def _cell_columns(table: Any) -> dict[str, Any]:
    return {
        "group": table.c.respondent_group,
        "provider": table.c.provider_id,
        **{d: table.c[d] for d in CELL_DIMENSIONS},
        "period": table.c.end_month,
    }


def _cell_selection(
    table: Any, dims: Sequence[str], period: Period, where: Where
) -> tuple[list, Select]:
    """The dimension columns of `dims` and the FROM/WHERE of their pair's cells in `period`
    and `where`."""
    if not cells_can_answer(dims, period, where):
        raise ReportError("the kept cells cannot answer this breakdown or period")
    columns = [dimension_column(d, _cell_columns(table)) for d in dims]
    query = select(*columns).where(table.c.pair == _pair([*dims, *where]))
    query = query.where(*(_cell_columns(table)[d] == value for d, value in where.items()))
    if period.start:
        query = query.where(table.c.end_month >= period.start)
    if period.end:
        query = query.where(table.c.end_month <= period.end.replace(day=1))
    return columns, query


def cell_funnel_query(dims: Sequence[str], period: Period, where: Where | None = None) -> Select:
    """`funnel_query`'s figures summed from the kept funnel cells."""
    columns, query = _cell_selection(funnel_cell, dims, period, where or {})
    query = query.add_columns(*(func.sum(funnel_cell.c[n]).label(n) for n in FUNNEL_NAMES))
    if columns:
        # A cell whose invitations were all taken back (deleted, moved) keeps a row of zeros.
        query = query.group_by(*columns).having(func.sum(funnel_cell.c.invited) > 0)
    return query


def cell_mark_query(dims: Sequence[str], period: Period, where: Where | None = None) -> Select:
    """`mark_query`'s figures summed from the kept mark cells."""
    columns, query = _cell_selection(mark_cell, dims, period, where or {})
    return (
        query.add_columns(
            mark_cell.c.item_id.label("item"),
            *(func.sum(mark_cell.c[measure]).label(name) for measure, name in MARK_NAMES.items()),
        )
        .where(mark_cell.c.item_id.in_(MARK_ITEMS))
        .group_by(*columns, mark_cell.c.item_id)
        .having(func.sum(mark_cell.c.n) > 0)
    )


def _frame(
    rows: Sequence[Any], names: list[str], n_dims: int, slugs: Mapping[int, str] | None = None
) -> pd.DataFrame:
    """Rows as a DataFrame with integer counts (SUM over no rows gives NULL: that is 0), and
    each provider by its slug."""
    frame = pd.DataFrame(rows, columns=names)
    if PROVIDER in names[:n_dims]:
        frame[PROVIDER] = frame[PROVIDER].map(dict(slugs or {})).astype(object)
    numeric = names[n_dims:]
    periods = {
        c: frame[c].map({v: period_name(v, c) for v in frame[c].unique()})
        for c in names[:n_dims]
        if c in PERIOD_GRAINS
    }
    return frame.assign(**periods, **{c: frame[c].fillna(0).astype("int64") for c in numeric})
