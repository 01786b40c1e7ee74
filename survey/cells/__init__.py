"""Cohort cells kept by the database: the dashboard's aggregates, exact at every commit.

At national scale a dashboard page cannot aggregate millions of invitations and answers per
request, so the database keeps the sums itself. `funnel_cell` holds, per cohort cell, the
counts of the report's funnel (`survey.reporting.queries.funnel_query`); `mark_cell` holds,
per cell and mark item, n, sum, sum of squares and the 1-10 counts
(`survey.reporting.queries.mark_query`). Aggregates only: no row of either table stands for a
person.

A cell is respondent group × month of the end of care × a *pair* of the dimensions team,
municipality and care type (the third is '' in its rows): every dashboard view needs at most
two of them, and a pair has far fewer cells than all three together (at national scale a
dashboard page reads thousands of cells, not millions). So every change is counted three times,
once per pair.

Triggers keep the cells in the same transaction as the change that moves them, on PostgreSQL
(PL/pgSQL functions) and SQLite alike, so every writer (service, CLI, demo, tests, a manual fix)
is covered and a rollback takes its counts with it. Invitations count from the moment they are
invited, as in the report; importing episodes costs nothing here. Deleting or re-dimensioning
an episode or a response moves its rows' counts too. The invariant, tested against random
changes: the rows of these tables with `invited` (or `n`) above zero are exactly the GROUP BY
of the base tables that `rebuild` writes.

The package: the tables and their constants (`survey.cells.tables`), the triggers that keep
them (`survey.cells.triggers`), the recomputation from the base tables
(`survey.cells.rebuilding`); everything public is imported from `survey.cells`. Importing it
makes `create_all` create the triggers with the tables.
"""

from __future__ import annotations

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection

from survey.cells.rebuilding import rebuild
from survey.cells.tables import (
    CELL_DIMENSIONS,
    FUNNEL_MEASURES,
    MARK_ITEMS,
    MARK_MEASURES,
    MARKS,
    PAIRS,
    funnel_cell,
    mark_cell,
)
from survey.cells.triggers import MIXING_SETTING, create_triggers, drop_triggers, trigger_names
from survey.db import Base

__all__ = [
    "CELL_DIMENSIONS",
    "FUNNEL_MEASURES",
    "MARKS",
    "MARK_ITEMS",
    "MARK_MEASURES",
    "MIXING_SETTING",
    "PAIRS",
    "create_triggers",
    "drop_triggers",
    "funnel_cell",
    "mark_cell",
    "rebuild",
    "trigger_names",
]


def _after_create(_metadata: MetaData, connection: Connection, **_kw: object) -> None:
    # `create_all` makes the triggers with the tables (the tests' databases).
    create_triggers(connection)


event.listen(Base.metadata, "after_create", _after_create)
