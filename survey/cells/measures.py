"""What is counted, written once: the period of a date and the funnel and mark measures.

The kept cells (their triggers and rebuild, `survey.cells.triggers`) and the reports that read
the base tables (`survey.reporting.queries`) must count exactly alike, or a report would change
with the path it takes. Both take their SQL from here: SQLAlchemy expressions over anything
with the right columns — a model, a table alias, or a trigger's NEW or OLD row (`row`), which
`to_sql` writes out as SQL text for the trigger bodies.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, Integer, String, and_, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import column, quoted_name, table
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from survey.cells.tables import MARK_ITEMS, MARKS

FUNNEL_MEASURES = ("sent", "opened", "responded", "bounced", "opted_out", "after_reminder")
"""The funnel counts of the reports, each a condition on one invited invitation."""


class PeriodStart(FunctionElement):
    """The first day of the month, quarter or year of a date column.

    A date on PostgreSQL (`date_trunc`, far cheaper per row than formatting a label), an ISO
    date string on SQLite. One class per grain, so the grain is part of the statement cache key.
    """

    inherit_cache = True
    type = String()  # no result conversion: a date from PostgreSQL, a string from SQLite
    grain = ""


class MonthStart(PeriodStart):
    inherit_cache = True
    grain = "month"


class QuarterStart(PeriodStart):
    inherit_cache = True
    grain = "quarter"


class YearStart(PeriodStart):
    inherit_cache = True
    grain = "year"


PERIOD_START = {"month": MonthStart, "quarter": QuarterStart, "year": YearStart}


@compiles(PeriodStart, "postgresql")
def _period_start_pg(element: PeriodStart, compiler: Any, **kw: Any) -> str:
    value = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(date_trunc('{element.grain}', {value}) AS DATE)"


@compiles(PeriodStart)
def _period_start_sqlite(element: PeriodStart, compiler: Any, **kw: Any) -> str:
    value = compiler.process(next(iter(element.clauses)), **kw)
    if element.grain == "quarter":  # back to the first month of the quarter
        months_back = f"((CAST(strftime('%m', {value}) AS INTEGER) - 1) % 3)"
        return f"date({value}, 'start of month', '-' || {months_back} || ' months')"
    return f"date({value}, 'start of {element.grain}')"


def funnel_conditions(invitation: Any) -> dict[str, ColumnElement[bool]]:
    """When one invited invitation counts for each of `FUNNEL_MEASURES`.

    `responded_at` holds only the day (survey.answers.operations), so "answered after the
    reminder" is "answered on or after the day of the reminder": both sides compared as days
    (`date()` is the same function on SQLite and PostgreSQL).
    """
    sent = invitation.sent_at.is_not(None)
    return {
        "sent": sent,
        "opened": and_(sent, invitation.opened_at.is_not(None)),
        "responded": invitation.responded_at.is_not(None),
        "bounced": invitation.bounced_at.is_not(None),
        "opted_out": invitation.opted_out_at.is_not(None),
        "after_reminder": and_(
            invitation.reminded_at.is_not(None),
            func.date(invitation.responded_at) >= func.date(invitation.reminded_at),
        ),
    }


def is_mark(answer: Any) -> ColumnElement[bool]:
    """Whether an answer holds a mark: one of the mark items, with a value."""
    return and_(answer.item_id.in_(MARK_ITEMS), answer.value_int.is_not(None))


def mark_sums(answer: Any) -> dict[str, ColumnElement]:
    """What one mark answer adds to the sums of its cell, by the kept cells' column names."""
    value = answer.value_int
    return {"n": literal(1, Integer), "total": value, "total_sq": value * value}


def mark_counts(answer: Any) -> dict[str, ColumnElement[bool]]:
    """When one mark answer counts for each mark's count (`count_1` … `count_10`)."""
    return {f"count_{m}": answer.value_int == m for m in MARKS}


_INVITATION_DATES = ("sent_at", "opened_at", "reminded_at", "responded_at", "bounced_at")
_ROW_COLUMNS: dict[str, dict[str, Any]] = {
    "invitation": {name: DateTime() for name in (*_INVITATION_DATES, "opted_out_at")},
    "answer": {"item_id": String(), "value_int": Integer()},
}


def row(name: str, kind: str) -> Any:
    """The columns of a trigger's row (`NEW`, `OLD`) or of a table alias (`i`, `a`) of an
    invitation or an answer (`kind`), for the expressions above; the name is written as it is,
    never quoted."""
    columns = (column(c, type_) for c, type_ in _ROW_COLUMNS[kind].items())
    return table(quoted_name(name, quote=False), *columns).c


_DIALECTS = {"postgresql": postgresql.dialect(), "sqlite": sqlite.dialect()}


def flag_sql(condition: ColumnElement[bool], dialect: str) -> str:
    """1 where `condition` holds, else 0, as SQL text of `dialect`."""
    return f"CASE WHEN {to_sql(condition, dialect)} THEN 1 ELSE 0 END"


def to_sql(expression: ColumnElement, dialect: str) -> str:
    """`expression` as SQL text of `dialect`, constants written in (for trigger bodies)."""
    compiled = expression.compile(
        dialect=_DIALECTS[dialect], compile_kwargs={"literal_binds": True}
    )
    return str(compiled)
