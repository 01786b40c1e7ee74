"""Mixing: the place of a response in its table says nothing about when it was stored.

Why this exists. A response carries no reference to its invitation and only months, never a
time (DESIGN §3). But `submit_response` marks the invitation answered and inserts the response,
its answers and its comment in one transaction, and the database itself remembers that moment:
SQLite numbers rows (rowid) in the order they are inserted, PostgreSQL appends them in that order
(`ctid`, and the order of a `pg_dump`) and stamps every row with the id of the transaction that
wrote it (`xmin`) — the very id that the answered invitation carries. Whoever holds a backup or
administers the database could line up the invitations in the order they were answered with the
responses in the order they are stored, or join them on `xmin`, and so read an email address's
answers.

`mix_responses` takes the responses submitted in the current and the previous month (by
`Response.submitted_month`) with their answers and comments out of their tables and puts them
back, every value and id unchanged, in an order drawn from the operating system's random source,
in one transaction. Afterwards they all carry that transaction's `xmin`, and their physical
order is random within what the response states anyway (its submitted month). The previous month
is included so that the responses of a month's last hours are mixed at least once after it ends.
The kept sums (survey.cells) do not move: the same rows go out and come back.

What remains: between a submission and the next mix — at most an hour with a worker running
(survey.mail.worker), else until the next `send` or `purge` — the new response still sits in
submission order and shares its invitation's `xmin`. The old row versions stay in the database
files until the space is reused (PostgreSQL: after VACUUM; SQLite: its free pages), so a copy of
the files taken in between can still hold them; a logical dump (`pg_dump`) does not. And two
backups taken a day apart differ by the responses stored in between, as the invitations do by
the ones answered in between: mixing cannot hide that difference, only a cohort with several
answers a day can.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, Table, delete, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from survey.cells import MIXING_SETTING
from survey.db import table_of
from survey.models import Comment, Response, ResponseAnswer

log = logging.getLogger(__name__)

_RANDOM = secrets.SystemRandom()
# PostgreSQL's serialization failure and deadlock: a concurrent change, worth another try.
_CONFLICTS = frozenset({"40001", "40P01"})
ATTEMPTS = 3


@dataclass(frozen=True)
class AnswerTables:
    """The tables mixed together: the models', or as a migration reflects them."""

    response: Table
    answer: Table
    comment: Table


MODEL_TABLES = AnswerTables(table_of(Response), table_of(ResponseAnswer), table_of(Comment))


def first_mixed_month(today: date) -> date:
    """The earliest submitted month that a mix on `today` rewrites: the previous month."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def mix_responses(session: Session, today: date) -> int:
    """Mix the responses submitted in `today`'s month and the month before; return how many.

    Runs in a transaction of its own, so it first commits the session's: on PostgreSQL the
    isolation level can only be chosen as a transaction begins. REPEATABLE READ makes every
    statement of the mix see the same rows, so a response submitted meanwhile is left alone
    whole, and a row that someone changes meanwhile (a quote decision, a de-identified text)
    makes the mix fail and start again rather than put back an old copy.
    """
    session.commit()
    since = first_mixed_month(today)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            mixed = mix(_connection(session), MODEL_TABLES.response.c.submitted_month >= since)
            session.commit()
        except OperationalError as error:
            session.rollback()
            if attempt == ATTEMPTS or not _conflict(error):
                raise
            log.info("mixing met a concurrent change; attempt %d of %d", attempt + 1, ATTEMPTS)
            continue
        log.info("responses mixed: %d", mixed)
        return mixed
    raise AssertionError("unreachable")  # pragma: no cover


def mix(
    connection: Connection, where: ColumnElement[bool], tables: AnswerTables = MODEL_TABLES
) -> int:
    """Delete the responses matching `where` with their answers and comments, insert them again
    in random order, and return how many responses; the caller owns the transaction.

    Bulk statements (DELETE … RETURNING, one executemany INSERT per table): a month of a
    national roll-out is tens of thousands of rows. Reading the rows by deleting them means the
    copy put back is exactly what was removed. Each table is shuffled on its own, so the
    answers' order does not repeat the responses'.
    """
    response, answer, comment = tables.response, tables.answer, tables.comment
    chosen = select(response.c.id).where(where)
    _skip_cell_triggers(connection, True)
    comments = _take(connection, comment, comment.c.response_id.in_(chosen))
    answers = _take(connection, answer, answer.c.response_id.in_(chosen))
    responses = _take(connection, response, where)
    # Parents first: answers and comments refer to their response.
    for table, rows in ((response, responses), (answer, answers), (comment, comments)):
        if rows:
            connection.execute(insert(table), rows)
    _skip_cell_triggers(connection, False)
    return len(responses)


def _skip_cell_triggers(connection: Connection, skip: bool) -> None:
    """On PostgreSQL, tell the cell triggers (survey.cells) that these rows come back as they were.

    Deleting and inserting the same rows leaves every kept sum where it was, but firing the row
    triggers for them made up 90% of a mix (50 s for 20,000 responses). The setting is local to
    the transaction and switched off again at once, so a later statement in it is counted.
    SQLite's triggers are cheap enough to let run.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT set_config(:name, :value, true)"),
            {"name": MIXING_SETTING, "value": "on" if skip else "off"},
        )


def mix_every_month(connection: Connection, tables: AnswerTables = MODEL_TABLES) -> int:
    """Mix all stored responses, one submitted month at a time (memory stays one month's).

    Rows of different months need no mixing with each other: the month is on the response.
    """
    months = connection.scalars(select(tables.response.c.submitted_month).distinct()).all()
    return sum(
        mix(connection, tables.response.c.submitted_month == month, tables) for month in months
    )


def _take(connection: Connection, table: Table, where: ColumnElement[bool]) -> list[dict]:
    """Delete the rows of `table` that match `where`; return them as dicts, shuffled."""
    deleted = connection.execute(delete(table).where(where).returning(*table.c))
    rows = [dict(row._mapping) for row in deleted]
    _RANDOM.shuffle(rows)
    return rows


def _connection(session: Session) -> Connection:
    if session.get_bind().dialect.name == "postgresql":
        return session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    # SQLite: the first statement (a DELETE) takes the database's one write lock for the
    # whole transaction, so nothing changes underneath.
    return session.connection()


def _conflict(error: OperationalError) -> bool:
    return getattr(error.orig, "sqlstate", None) in _CONFLICTS
