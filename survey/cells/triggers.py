"""The triggers that keep the cells of `survey.cells` exact, on PostgreSQL and SQLite alike.

Each trigger adds the measures of the row it fires for to that row's cells, or takes them out,
in the transaction of the change. `create_triggers` makes them (`create_all` calls it with the
tables), `drop_triggers` removes them for a bulk load. The statement builders here serve the
rebuild too (`survey.cells.rebuilding`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import literal_column
from sqlalchemy.engine import Connection

from survey.cells.measures import (
    MonthStart,
    flag_sql,
    funnel_conditions,
    is_mark,
    mark_counts,
    mark_sums,
    row,
    to_sql,
)
from survey.cells.tables import CELL_DIMENSIONS, PAIRS, funnel_cell, mark_cell

# A cell's key: the primary key of funnel_cell (mark_cell adds the item).
_KEY = ("pair", "end_month", "respondent_group", "provider_id", *CELL_DIMENSIONS)


# ---------------------------------------------------------------------------------------------
# The SQL. One statement shape serves every trigger and the rebuild: take some source rows,
# spread each over the three pairs and add its measures (times a sign) to the cells.


def _pairs_sql() -> str:
    rows = [
        f"SELECT '{name}' AS pair, "
        + ", ".join(f"{int(d in dims)} AS has_{d}" for d in CELL_DIMENSIONS)
        for name, dims in PAIRS.items()
    ]
    return "(" + " UNION ALL ".join(rows) + ") AS p"


def _month_of(dialect: str, value: str) -> str:
    return to_sql(MonthStart(literal_column(value)), dialect)


def _funnel_measures(dialect: str, i: str) -> dict[str, str]:
    """The funnel counts of one invited invitation `i` (0 or 1 each), as the reports count
    them (`survey.cells.measures.funnel_conditions`)."""
    conditions = funnel_conditions(row(i, "invitation"))
    return {"invited": "1", **{name: flag_sql(c, dialect) for name, c in conditions.items()}}


def _mark_measures(dialect: str, a: str) -> dict[str, str]:
    """The mark sums of one answer `a` that holds a mark (`survey.cells.measures`)."""
    answer = row(a, "answer")
    sums = {name: to_sql(e, dialect) for name, e in mark_sums(answer).items()}
    return sums | {name: flag_sql(c, dialect) for name, c in mark_counts(answer).items()}


def _is_mark(dialect: str, a: str) -> str:
    return to_sql(is_mark(row(a, "answer")), dialect)


@dataclass(frozen=True)
class _Source:
    """Where the rows to count come from, and how to read a cell's key off them."""

    tables: str  # FROM items besides the pairs
    where: str
    group: str  # respondent group
    month: str
    dims: str  # the alias or record that holds the provider, team, municipality and care type
    item: str | None = None  # mark cells: the item id


def _add(
    dialect: str,
    table: str,
    source: _Source,
    measures: dict[str, str],
    sign: int = 1,
    *,
    grouped: bool = False,
) -> str:
    """INSERT … ON CONFLICT that adds `sign` × `measures` of the source rows to their cells.

    `grouped`: sum the source rows per cell first (the rebuild, into empty tables). Every
    name and expression comes from this module's constants, never from input.
    """
    key = [*_KEY, "item_id"] if source.item else list(_KEY)
    cell = [
        "p.pair",
        source.month,
        source.group,
        f"{source.dims}.provider_id",
        *(f"CASE WHEN p.has_{d} = 1 THEN {source.dims}.{d} ELSE '' END" for d in CELL_DIMENSIONS),
        *([source.item] if source.item else []),
    ]
    minus = "-" if sign < 0 else ""
    if grouped:
        values = [f"{minus}SUM({expression})" for expression in measures.values()]
        tail = f"GROUP BY {', '.join(cell)}"
    else:
        values = [f"{minus}({expression})" for expression in measures.values()]
        updates = ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in measures)
        tail = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    return (
        f"INSERT INTO {table} ({', '.join([*key, *measures])}) "  # noqa: S608 (constants only)
        f"SELECT {', '.join([*cell, *values])} FROM {source.tables}, {_pairs_sql()} "
        f"WHERE {source.where} {tail}"
    )


def _delta(new: dict[str, str], old: dict[str, str]) -> dict[str, str]:
    return {name: f"({new[name]}) - ({old[name]})" for name in new}


# The columns whose change moves an invitation's or an answer's counts.
_INVITATION_COLUMNS = (
    "episode_id",
    "respondent_group",
    "invited_at",
    "sent_at",
    "opened_at",
    "reminded_at",
    "responded_at",
    "bounced_at",
    "opted_out_at",
)
_EPISODE_COLUMNS = ("end_date", "provider_id", *CELL_DIMENSIONS)
_RESPONSE_COLUMNS = ("respondent_group", "end_month", "provider_id", *CELL_DIMENSIONS)


# Set, for its own transaction only, by survey.answers.mixing while it deletes responses and puts
# the very same rows back: the kept sums do not change, so the row triggers may skip the work (on
# PostgreSQL, where they cost most of a mix's time). Nothing else may set it.
MIXING_SETTING = "ervaringswijzer.mixing"


def _unless_mixing(dialect: str, when: str) -> str:
    """`when`, and on PostgreSQL: not while survey.answers.mixing puts rows back unchanged."""
    if dialect != "postgresql":
        return when
    return f"current_setting('{MIXING_SETTING}', true) IS DISTINCT FROM 'on' AND ({when})"


@dataclass(frozen=True)
class _Trigger:
    name: str
    timing: str  # AFTER or BEFORE
    event: str  # INSERT, DELETE, UPDATE OF …
    table: str
    when: str
    statements: tuple[str, ...]


def _invitation_via_episode(dialect: str, i: str, extra: str = "") -> _Source:
    """An invitation record (NEW or OLD) with its episode's cell."""
    return _Source(
        tables="episode AS e",
        where=f"e.id = {i}.episode_id{extra}",
        group=f"{i}.respondent_group",
        month=_month_of(dialect, "e.end_date"),
        dims="e",
    )


def _episode_invitations(dialect: str, e: str) -> _Source:
    """The invited invitations of an episode record (NEW or OLD), in that record's cell."""
    return _Source(
        tables="invitation AS i",
        where=f"i.episode_id = {e}.id AND i.invited_at IS NOT NULL",
        group="i.respondent_group",
        month=_month_of(dialect, f"{e}.end_date"),
        dims=e,
    )


def _answer_via_response(a: str, extra: str = "") -> _Source:
    """A mark answer record (NEW or OLD) with its response's cell."""
    return _Source(
        tables="response AS r",
        where=f"r.id = {a}.response_id{extra}",
        group="r.respondent_group",
        month="r.end_month",
        dims="r",
        item=f"{a}.item_id",
    )


def _response_answers(dialect: str, r: str) -> _Source:
    """The mark answers of a response record (NEW or OLD), in that record's cell."""
    return _Source(
        tables="response_answer AS a",
        where=f"a.response_id = {r}.id AND {_is_mark(dialect, 'a')}",
        group=f"{r}.respondent_group",
        month=f"{r}.end_month",
        dims=r,
        item="a.item_id",
    )


def _triggers(dialect: str) -> list[_Trigger]:
    funnel, marks = funnel_cell.name, mark_cell.name
    new_i, old_i = _funnel_measures(dialect, "NEW"), _funnel_measures(dialect, "OLD")
    episode_i = _funnel_measures(dialect, "i")
    same_cell = (
        "OLD.invited_at IS NOT NULL AND NEW.invited_at IS NOT NULL "
        "AND OLD.episode_id = NEW.episode_id AND OLD.respondent_group = NEW.respondent_group"
    )
    changed = " OR ".join(f"({d}) <> 0" for d in _delta(new_i, old_i).values())
    invitation_update = f"UPDATE OF {', '.join(_INVITATION_COLUMNS)}"
    new_mark, old_mark = _is_mark(dialect, "NEW"), _is_mark(dialect, "OLD")
    new_a, old_a = _mark_measures(dialect, "NEW"), _mark_measures(dialect, "OLD")
    response_a = _mark_measures(dialect, "a")
    same_mark = (
        f"{old_mark} AND {new_mark} "
        "AND OLD.response_id = NEW.response_id AND OLD.item_id = NEW.item_id"
    )
    answer_update = "UPDATE OF response_id, item_id, value_int"
    return [
        _Trigger(
            "invitation_cell_insert", "AFTER", "INSERT", "invitation",
            "NEW.invited_at IS NOT NULL",
            (_add(dialect, funnel, _invitation_via_episode(dialect, "NEW"), new_i),),
        ),
        # The usual change (sent, opened, answered …): one delta to the same cells.
        _Trigger(
            "invitation_cell_update", "AFTER", invitation_update, "invitation",
            f"{same_cell} AND ({changed})",
            (_add(dialect, funnel, _invitation_via_episode(dialect, "NEW"), _delta(new_i, old_i)),),
        ),
        _Trigger(
            "invitation_cell_move", "AFTER", invitation_update, "invitation",
            f"NOT ({same_cell}) AND (OLD.invited_at IS NOT NULL OR NEW.invited_at IS NOT NULL)",
            (
                _add(
                    dialect, funnel,
                    _invitation_via_episode(dialect, "OLD", " AND OLD.invited_at IS NOT NULL"),
                    old_i, -1,
                ),
                _add(
                    dialect, funnel,
                    _invitation_via_episode(dialect, "NEW", " AND NEW.invited_at IS NOT NULL"),
                    new_i,
                ),
            ),
        ),
        # Without its episode (deleted with it), the episode's own trigger has counted it out.
        _Trigger(
            "invitation_cell_delete", "AFTER", "DELETE", "invitation",
            "OLD.invited_at IS NOT NULL",
            (_add(dialect, funnel, _invitation_via_episode(dialect, "OLD"), old_i, -1),),
        ),
        _Trigger(
            "episode_cell_delete", "BEFORE", "DELETE", "episode", "1 = 1",
            (_add(dialect, funnel, _episode_invitations(dialect, "OLD"), episode_i, -1),),
        ),
        _Trigger(
            "episode_cell_update", "AFTER", f"UPDATE OF {', '.join(_EPISODE_COLUMNS)}", "episode",
            " OR ".join(f"OLD.{c} <> NEW.{c}" for c in _EPISODE_COLUMNS),
            (
                _add(dialect, funnel, _episode_invitations(dialect, "OLD"), episode_i, -1),
                _add(dialect, funnel, _episode_invitations(dialect, "NEW"), episode_i),
            ),
        ),
        _Trigger(
            "answer_cell_insert", "AFTER", "INSERT", "response_answer",
            _unless_mixing(dialect, new_mark),
            (_add(dialect, marks, _answer_via_response("NEW"), new_a),),
        ),
        _Trigger(
            "answer_cell_update", "AFTER", answer_update, "response_answer",
            f"({same_mark}) AND OLD.value_int <> NEW.value_int",
            (
                _add(
                    dialect, marks, _answer_via_response("NEW"),
                    _delta(new_a, old_a),
                ),
            ),
        ),
        _Trigger(
            "answer_cell_move", "AFTER", answer_update, "response_answer",
            f"NOT ({same_mark}) AND (({old_mark}) OR ({new_mark}))",
            (
                _add(
                    dialect, marks, _answer_via_response("OLD", f" AND {old_mark}"), old_a, -1,
                ),
                _add(
                    dialect, marks, _answer_via_response("NEW", f" AND {new_mark}"), new_a,
                ),
            ),
        ),
        # Without its response (deleted with it), the response's own trigger has counted it out.
        _Trigger(
            "answer_cell_delete", "AFTER", "DELETE", "response_answer",
            _unless_mixing(dialect, old_mark),
            (_add(dialect, marks, _answer_via_response("OLD"), old_a, -1),),
        ),
        _Trigger(
            "response_cell_delete", "BEFORE", "DELETE", "response",
            _unless_mixing(dialect, "1 = 1"),
            (_add(dialect, marks, _response_answers(dialect, "OLD"), response_a, -1),),
        ),
        _Trigger(
            "response_cell_update", "AFTER", f"UPDATE OF {', '.join(_RESPONSE_COLUMNS)}",
            "response",
            " OR ".join(f"OLD.{c} <> NEW.{c}" for c in _RESPONSE_COLUMNS),
            (
                _add(dialect, marks, _response_answers(dialect, "OLD"), response_a, -1),
                _add(dialect, marks, _response_answers(dialect, "NEW"), response_a),
            ),
        ),
    ]  # fmt: skip


def trigger_names() -> list[str]:
    """The names of the triggers that keep the cells."""
    return [trigger.name for trigger in _triggers("sqlite")]


def _create_sql(dialect: str, trigger: _Trigger) -> list[str]:
    body = "; ".join(trigger.statements)
    if dialect == "postgresql":
        result = "OLD" if trigger.timing == "BEFORE" else "NULL"
        return [
            f"CREATE OR REPLACE FUNCTION {trigger.name}() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN {body}; RETURN {result}; END $$",
            f"CREATE OR REPLACE TRIGGER {trigger.name} {trigger.timing} {trigger.event} "
            f"ON {trigger.table} FOR EACH ROW WHEN ({trigger.when}) "
            f"EXECUTE FUNCTION {trigger.name}()",
        ]
    return [
        f"CREATE TRIGGER IF NOT EXISTS {trigger.name} {trigger.timing} {trigger.event} "
        f"ON {trigger.table} FOR EACH ROW WHEN {trigger.when} BEGIN {body}; END"
    ]


def create_triggers(connection: Connection) -> None:
    """Create (or replace) the triggers that keep the cells; the tables must exist."""
    dialect = connection.dialect.name
    for trigger in _triggers(dialect):
        for statement in _create_sql(dialect, trigger):
            connection.exec_driver_sql(statement)


def drop_triggers(connection: Connection) -> None:
    """Drop the triggers (a bulk load without them must `rebuild` afterwards)."""
    dialect = connection.dialect.name
    for trigger in _triggers(dialect):
        if dialect == "postgresql":
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger.name} ON {trigger.table}")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {trigger.name}()")
        else:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger.name}")
