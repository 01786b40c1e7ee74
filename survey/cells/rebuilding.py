"""The cells recomputed from the base tables: after a bulk load without the triggers, or to
repair. The same statements as the triggers' (`survey.cells.triggers`), summed per cell.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from survey.cells.tables import funnel_cell, mark_cell
from survey.cells.triggers import (
    _add,
    _funnel_measures,
    _is_mark,
    _mark_measures,
    _month_of,
    _Source,
)


def rebuild(connection: Connection) -> None:
    """Recompute every cell from the base tables (after a bulk load, or to repair)."""
    dialect = connection.dialect.name
    connection.execute(funnel_cell.delete())
    connection.execute(mark_cell.delete())
    for statement in _rebuild_sql(dialect):
        connection.exec_driver_sql(statement)


def _rebuild_sql(dialect: str) -> list[str]:
    """INSERT … SELECT … GROUP BY of both tables, the statements of the triggers summed."""
    invitations = _Source(
        tables="invitation AS i JOIN episode AS e ON e.id = i.episode_id",
        where="i.invited_at IS NOT NULL",
        group="i.respondent_group",
        month=_month_of(dialect, "e.end_date"),
        dims="e",
    )
    answers = _Source(
        tables="response_answer AS a JOIN response AS r ON r.id = a.response_id",
        where=_is_mark(dialect, "a"),
        group="r.respondent_group",
        month="r.end_month",
        dims="r",
        item="a.item_id",
    )
    return [
        _add(dialect, funnel_cell.name, invitations, _funnel_measures(dialect, "i"), grouped=True),
        _add(dialect, mark_cell.name, answers, _mark_measures(dialect, "a"), grouped=True),
    ]
