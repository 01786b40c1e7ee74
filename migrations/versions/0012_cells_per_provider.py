"""cells per provider: every kept cell is one provider's

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:00:00

A region publishes each provider's figures beside its own, so the kept cells (`funnel_cell`,
`mark_cell`) get the provider of their episode or response as part of their key. The cells are
made again and rebuilt from the base tables; every figure stays what it was (a region's figure
is the sum over its providers, and an installation of 0010 holds one provider).

Frozen: the trigger and rebuild SQL below is survey/cells/triggers.py as it is at this revision
(0007's with the provider added), copied here so that a later change to survey/ does not change
what this revision does. These are the triggers the schema ends with; tests/test_schema.py
checks that they are still the ones survey/cells makes.
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

MEASURES = {
    "funnel_cell": (
        "invited", "sent", "opened", "responded", "bounced", "opted_out", "after_reminder",
    ),
    "mark_cell": ("n", "total", "total_sq", *(f"count_{m}" for m in range(1, 11))),
}  # fmt: skip
KEY = ("pair", "end_month", "respondent_group", "provider_id", "team", "municipality", "care_type")


def _create(table: str, *, provider: bool) -> None:
    key = [c for c in KEY if provider or c != "provider_id"]
    item = [sa.Column("item_id", sa.String(length=64), nullable=False)] if table == "mark_cell" else []
    op.create_table(
        table,
        sa.Column("pair", sa.String(length=30), nullable=False),
        sa.Column("end_month", sa.Date(), nullable=False),
        sa.Column("respondent_group", sa.String(length=10), nullable=False),
        *([sa.Column("provider_id", sa.Integer(), nullable=False)] if provider else []),
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column("municipality", sa.String(length=200), nullable=False),
        sa.Column("care_type", sa.String(length=200), nullable=False),
        *item,
        *(sa.Column(name, sa.Integer(), nullable=False) for name in MEASURES[table]),
        *(
            [
                sa.ForeignKeyConstraint(
                    ["provider_id"], ["provider.id"], name=f"fk_{table}_provider_id_provider"
                )
            ]
            if provider
            else []
        ),
        sa.PrimaryKeyConstraint(*key, *(c.name for c in item), name=f"pk_{table}"),
    )


def upgrade() -> None:
    bind = op.get_bind()
    drop_triggers(bind)
    op.drop_table("mark_cell")
    op.drop_table("funnel_cell")
    _create("funnel_cell", provider=True)
    _create("mark_cell", provider=True)
    create_triggers(bind)
    rebuild(bind)


def downgrade() -> None:
    # Back to 0007's cells and triggers (frozen in that revision's file).
    previous = _revision_0007()
    bind = op.get_bind()
    drop_triggers(bind)
    op.drop_table("mark_cell")
    op.drop_table("funnel_cell")
    _create("funnel_cell", provider=False)
    _create("mark_cell", provider=False)
    previous.create_triggers(bind)
    previous.rebuild(bind)


def _revision_0007():  # noqa: ANN202 (a module)
    path = Path(__file__).with_name("0007_unlinkable_responses.py")
    spec = importlib.util.spec_from_file_location("revision_0007", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# ---------------------------------------------------------------------------------------------
# survey/cells/triggers.py at this revision, the triggers the schema keeps from here on. One statement
# shape serves every trigger and the rebuild: take some source rows, spread each over the three
# pairs of cell dimensions and add their measures (times a sign) to the cells. Every name and
# expression is a constant of this file.

MARK_ITEMS = ("self_direction", "usefulness")
MARKS = tuple(range(1, 11))
PAIRS = {
    "team+care_type": ("team", "care_type"),
    "municipality+care_type": ("municipality", "care_type"),
    "team+municipality": ("team", "municipality"),
}
CELL_DIMENSIONS = ("team", "municipality", "care_type")
_KEY = ("pair", "end_month", "respondent_group", "provider_id", *CELL_DIMENSIONS)
# The columns whose change moves an invitation's or an answer's counts.
_INVITATION_COLUMNS = (
    "episode_id", "respondent_group", "invited_at", "sent_at", "opened_at", "reminded_at",
    "responded_at", "bounced_at", "opted_out_at",
)  # fmt: skip
_EPISODE_COLUMNS = ("end_date", "provider_id", *CELL_DIMENSIONS)
_RESPONSE_COLUMNS = ("respondent_group", "end_month", "provider_id", *CELL_DIMENSIONS)


def _pairs_sql() -> str:
    rows = [
        f"SELECT '{name}' AS pair, "
        + ", ".join(f"{int(d in dims)} AS has_{d}" for d in CELL_DIMENSIONS)
        for name, dims in PAIRS.items()
    ]
    return "(" + " UNION ALL ".join(rows) + ") AS p"


def _month_of(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS DATE)"
    return f"date({column}, 'start of month')"


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _funnel_measures(i: str) -> dict[str, str]:
    """The funnel counts of one invited invitation `i` (0 or 1 each).

    `responded_at` holds only the day, so "answered after the reminder" is "answered on or after
    the day of the reminder": both sides compared as days (`date()` on SQLite and PostgreSQL).
    """
    return {
        "invited": "1",
        "sent": _flag(f"{i}.sent_at IS NOT NULL"),
        "opened": _flag(f"{i}.sent_at IS NOT NULL AND {i}.opened_at IS NOT NULL"),
        "responded": _flag(f"{i}.responded_at IS NOT NULL"),
        "bounced": _flag(f"{i}.bounced_at IS NOT NULL"),
        "opted_out": _flag(f"{i}.opted_out_at IS NOT NULL"),
        "after_reminder": _flag(
            f"{i}.reminded_at IS NOT NULL AND date({i}.responded_at) >= date({i}.reminded_at)"
        ),
    }


def _mark_measures(a: str) -> dict[str, str]:
    """The mark sums of one answer `a` that holds a mark."""
    value = f"{a}.value_int"
    return {
        "n": "1",
        "total": value,
        "total_sq": f"{value} * {value}",
        **{f"count_{m}": _flag(f"{value} = {m}") for m in MARKS},
    }


def _is_mark(a: str) -> str:
    items = ", ".join(f"'{item}'" for item in MARK_ITEMS)
    return f"{a}.item_id IN ({items}) AND {a}.value_int IS NOT NULL"


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
    table: str,
    source: _Source,
    measures: dict[str, str],
    sign: int = 1,
    *,
    grouped: bool = False,
) -> str:
    """INSERT … ON CONFLICT that adds `sign` × `measures` of the source rows to their cells.

    `grouped`: sum the source rows per cell first (the rebuild, into empty tables).
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


# Set, for its own transaction only, while mixing deletes responses and puts the very same rows
# back: the kept sums do not change, so on PostgreSQL the row triggers skip the work.
MIXING_SETTING = "ervaringswijzer.mixing"


def _unless_mixing(dialect: str, when: str) -> str:
    """`when`, and on PostgreSQL: not while mixing puts rows back unchanged."""
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


def _response_answers(r: str) -> _Source:
    """The mark answers of a response record (NEW or OLD), in that record's cell."""
    return _Source(
        tables="response_answer AS a",
        where=f"a.response_id = {r}.id AND {_is_mark('a')}",
        group=f"{r}.respondent_group",
        month=f"{r}.end_month",
        dims=r,
        item="a.item_id",
    )


def _triggers(dialect: str) -> list[_Trigger]:
    funnel, marks = "funnel_cell", "mark_cell"
    new_i, old_i = _funnel_measures("NEW"), _funnel_measures("OLD")
    episode_i = _funnel_measures("i")
    same_cell = (
        "OLD.invited_at IS NOT NULL AND NEW.invited_at IS NOT NULL "
        "AND OLD.episode_id = NEW.episode_id AND OLD.respondent_group = NEW.respondent_group"
    )
    changed = " OR ".join(f"({d}) <> 0" for d in _delta(new_i, old_i).values())
    invitation_update = f"UPDATE OF {', '.join(_INVITATION_COLUMNS)}"
    same_mark = (
        f"{_is_mark('OLD')} AND {_is_mark('NEW')} "
        "AND OLD.response_id = NEW.response_id AND OLD.item_id = NEW.item_id"
    )
    answer_update = "UPDATE OF response_id, item_id, value_int"
    return [
        _Trigger(
            "invitation_cell_insert", "AFTER", "INSERT", "invitation",
            "NEW.invited_at IS NOT NULL",
            (_add(funnel, _invitation_via_episode(dialect, "NEW"), new_i),),
        ),
        _Trigger(
            "invitation_cell_update", "AFTER", invitation_update, "invitation",
            f"{same_cell} AND ({changed})",
            (_add(funnel, _invitation_via_episode(dialect, "NEW"), _delta(new_i, old_i)),),
        ),
        _Trigger(
            "invitation_cell_move", "AFTER", invitation_update, "invitation",
            f"NOT ({same_cell}) AND (OLD.invited_at IS NOT NULL OR NEW.invited_at IS NOT NULL)",
            (
                _add(
                    funnel,
                    _invitation_via_episode(dialect, "OLD", " AND OLD.invited_at IS NOT NULL"),
                    old_i, -1,
                ),
                _add(
                    funnel,
                    _invitation_via_episode(dialect, "NEW", " AND NEW.invited_at IS NOT NULL"),
                    new_i,
                ),
            ),
        ),
        _Trigger(
            "invitation_cell_delete", "AFTER", "DELETE", "invitation",
            "OLD.invited_at IS NOT NULL",
            (_add(funnel, _invitation_via_episode(dialect, "OLD"), old_i, -1),),
        ),
        _Trigger(
            "episode_cell_delete", "BEFORE", "DELETE", "episode", "1 = 1",
            (_add(funnel, _episode_invitations(dialect, "OLD"), episode_i, -1),),
        ),
        _Trigger(
            "episode_cell_update", "AFTER", f"UPDATE OF {', '.join(_EPISODE_COLUMNS)}", "episode",
            " OR ".join(f"OLD.{c} <> NEW.{c}" for c in _EPISODE_COLUMNS),
            (
                _add(funnel, _episode_invitations(dialect, "OLD"), episode_i, -1),
                _add(funnel, _episode_invitations(dialect, "NEW"), episode_i),
            ),
        ),
        _Trigger(
            "answer_cell_insert", "AFTER", "INSERT", "response_answer",
            _unless_mixing(dialect, _is_mark("NEW")),
            (_add(marks, _answer_via_response("NEW"), _mark_measures("NEW")),),
        ),
        _Trigger(
            "answer_cell_update", "AFTER", answer_update, "response_answer",
            f"({same_mark}) AND OLD.value_int <> NEW.value_int",
            (
                _add(
                    marks, _answer_via_response("NEW"),
                    _delta(_mark_measures("NEW"), _mark_measures("OLD")),
                ),
            ),
        ),
        _Trigger(
            "answer_cell_move", "AFTER", answer_update, "response_answer",
            f"NOT ({same_mark}) AND (({_is_mark('OLD')}) OR ({_is_mark('NEW')}))",
            (
                _add(
                    marks, _answer_via_response("OLD", f" AND {_is_mark('OLD')}"),
                    _mark_measures("OLD"), -1,
                ),
                _add(
                    marks, _answer_via_response("NEW", f" AND {_is_mark('NEW')}"),
                    _mark_measures("NEW"),
                ),
            ),
        ),
        _Trigger(
            "answer_cell_delete", "AFTER", "DELETE", "response_answer",
            _unless_mixing(dialect, _is_mark("OLD")),
            (_add(marks, _answer_via_response("OLD"), _mark_measures("OLD"), -1),),
        ),
        _Trigger(
            "response_cell_delete", "BEFORE", "DELETE", "response",
            _unless_mixing(dialect, "1 = 1"),
            (_add(marks, _response_answers("OLD"), _mark_measures("a"), -1),),
        ),
        _Trigger(
            "response_cell_update", "AFTER", f"UPDATE OF {', '.join(_RESPONSE_COLUMNS)}",
            "response",
            " OR ".join(f"OLD.{c} <> NEW.{c}" for c in _RESPONSE_COLUMNS),
            (
                _add(marks, _response_answers("OLD"), _mark_measures("a"), -1),
                _add(marks, _response_answers("NEW"), _mark_measures("a")),
            ),
        ),
    ]  # fmt: skip


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


def create_triggers(connection: sa.Connection) -> None:
    """Create (or replace) the triggers that keep the cells; the tables must exist."""
    dialect = connection.dialect.name
    for trigger in _triggers(dialect):
        for statement in _create_sql(dialect, trigger):
            connection.exec_driver_sql(statement)


def drop_triggers(connection: sa.Connection) -> None:
    """Drop the triggers."""
    dialect = connection.dialect.name
    for trigger in _triggers(dialect):
        if dialect == "postgresql":
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger.name} ON {trigger.table}")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {trigger.name}()")
        else:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger.name}")


def rebuild(connection: sa.Connection) -> None:
    """Recompute every cell from the base tables."""
    dialect = connection.dialect.name
    connection.exec_driver_sql("DELETE FROM funnel_cell")
    connection.exec_driver_sql("DELETE FROM mark_cell")
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
        where=_is_mark("a"),
        group="r.respondent_group",
        month="r.end_month",
        dims="r",
        item="a.item_id",
    )
    return [
        _add("funnel_cell", invitations, _funnel_measures("i"), grouped=True),
        _add("mark_cell", answers, _mark_measures("a"), grouped=True),
    ]
