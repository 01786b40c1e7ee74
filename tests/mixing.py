"""Helpers for the unlinkability tests: a cohort answered in a known order, and what a dump shows.

The attacker of tests/test_unlinkable_*.py holds the whole database and knows the exact order in
which the invitations were answered; these helpers play that attacker (stored order, PostgreSQL's
`xmin`, timestamps) and read the answer world and the kept cells before and after mixing.
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta

from sqlalchemy import select, text

from survey.answers.mixing import mix_responses
from survey.answers.operations import submit_response
from survey.answers.questionnaires import load_questionnaires
from survey.models import Comment, Invitation, Response, ResponseAnswer
from tests.factories import make_episode, make_invited
from tests.test_cells import kept, rebuilt

COHORT = 80
ENDED = date(2026, 2, 20)  # every episode of the cohort ended that day
ANSWERED = datetime(2026, 3, 2, 9, 0)  # the first answer; the last on 21 March
MIX_DAY = date(2026, 3, 25)
# With a random order, the number of positions where the i-th response is the i-th answer is
# close to Poisson(1) (expected 1). P(more than 8) = 1 - sum(e^-1 / k!, k = 0..8) ≈ 1.0e-6, so
# the bound fails a correct mix about once in a million runs; an unmixed table scores 80.
MAX_CHANCE_HITS = 8
# Spearman's rho between stored position and answering order: under a random order its standard
# deviation is 1/sqrt(79) ≈ 0.11, so |rho| ≥ 0.55 is 4.9 standard deviations (p ≈ 1e-6).
MAX_CHANCE_RHO = 0.55


def fingerprint(n: int) -> dict[str, object]:
    """The answers of the n-th parent: a mark pair unique for n < 100, a comment for some."""
    answers: dict[str, object] = {"self_direction": 1 + n % 10, "usefulness": 1 + n // 10}
    if n % 3 == 0:
        answers |= {"comment": f"Reactie nummer {n}, dank jullie wel.", "quote_consent": True}
    return answers


def answer_in_order(db, count: int = COHORT) -> list[Invitation]:
    """`count` invitations of one cohort, answered in order (four a day) through the service."""
    questionnaire = load_questionnaires()["parent"]
    invitations = [
        make_invited(
            db,
            now=datetime(2026, 3, 1),
            expires_in_days=60,
            episode=make_episode(db, end_date=ENDED),
        )[0]
        for _ in range(count)
    ]
    for n, invitation in enumerate(invitations):
        moment = ANSWERED + timedelta(days=n // 4, minutes=7 * n)
        assert submit_response(db, invitation, questionnaire, fingerprint(n), "nl", moment)
    return invitations


def answer_once(db, ended: date, moment: datetime, n: int) -> None:
    """One more answer, of another month, with fingerprint `n`."""
    invitation, _ = make_invited(
        db, now=moment - timedelta(days=1), episode=make_episode(db, end_date=ended)
    )
    questionnaire = load_questionnaires()["parent"]
    assert submit_response(db, invitation, questionnaire, fingerprint(n), "nl", moment)


def postgres(db) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def stored_order(db, table: str = "response", key: str = "id") -> list[str]:
    """The response ids in the order the rows lie in `table` (each id once)."""
    db.commit()  # a fresh snapshot (SQLite WAL)
    position = "ctid" if postgres(db) else "rowid"
    ids = db.scalars(text(f"SELECT {key} FROM {table} ORDER BY {position}")).all()
    return list(dict.fromkeys(ids))


def numbers(db) -> dict[str, int]:
    """Response id → which parent answered it, read off the mark pair (the ground truth)."""
    marks: dict[str, dict[str, int]] = {}
    for response_id, item, value in db.execute(
        select(ResponseAnswer.response_id, ResponseAnswer.item_id, ResponseAnswer.value_int)
    ):
        marks.setdefault(response_id, {})[item] = value
    return {rid: (m["self_direction"] - 1) + 10 * (m["usefulness"] - 1) for rid, m in marks.items()}


def chance_hits(order: list[int]) -> int:
    """Pairs right when the i-th answered invitation is taken for the i-th stored row."""
    return sum(stored == answered for stored, answered in zip(order, sorted(order), strict=True))


def rank_correlation(order: list[int]) -> float:
    ranks = {n: rank for rank, n in enumerate(sorted(order))}
    return statistics.correlation(list(range(len(order))), [ranks[n] for n in order])


def cohort_order(db, table: str = "response", key: str = "id") -> list[int]:
    """Which parent's response lies at each position of `table`, for the March cohort only."""
    who = numbers(db)
    return [who[rid] for rid in stored_order(db, table, key) if who[rid] < COHORT]


def xmins(db, table: str) -> list[str]:
    db.commit()
    return db.scalars(text(f"SELECT xmin::text FROM {table}")).all()


def window_stamps(db, months: str) -> set[str]:
    """The xmins of the responses submitted in `months`, and of their answers and comments."""
    db.commit()
    stamps: set[str] = set()
    for table, key in (
        ("response", "id"),
        ("response_answer", "response_id"),
        ("comment", "response_id"),
    ):
        stamps |= set(
            db.scalars(
                text(
                    f"SELECT t.xmin::text FROM {table} AS t JOIN response AS r ON r.id = t.{key}"
                    f" WHERE r.submitted_month {months}"
                )
            )
        )
    return stamps


def answer_world(db) -> dict[str, list[tuple]]:
    """Every row of the three answer tables, every column, in a stable order."""
    db.commit()
    return {
        model.__tablename__: sorted(
            (tuple(row) for row in db.execute(select(*model.__table__.c))), key=repr
        )
        for model in (Response, ResponseAnswer, Comment)
    }


def cells(app) -> tuple[list[tuple], list[tuple]]:
    with app.extensions["db_engine"].connect() as connection:
        assert kept(connection) == rebuilt(connection)
        return kept(connection)


def marks_counted(kept_cells: tuple[list[tuple], list[tuple]]) -> int:
    """The marks counted in the kept mark cells (their column `n`)."""
    from survey.cells import mark_cell

    n = list(mark_cell.c.keys()).index("n")
    return sum(row[n] for row in kept_cells[1])


def review_some_comments(db) -> None:
    """Comments in every state the quote workflow leaves them in (mixing must keep each)."""
    comments = db.scalars(select(Comment).order_by(Comment.response_id)).all()
    assert len(comments) == 28  # 27 of the cohort, and the January one
    # All de-identified (as `send` would do anyway); a dozen with every kind of decision.
    for n, comment in enumerate(comments):
        comment.deidentified_text = f"Reactie nummer [getal-{n}], dank jullie wel."
        comment.placeholders = f"[[15, {20 + n}]]"
        if n < 12:
            comment.safety_flag = n % 4 == 0
            comment.quote_status = ("approved", "rejected", "new")[n % 3]
            comment.quote_text = f"Bewerkt citaat {n}." if n % 3 == 0 else None
    db.commit()


def mix_through(how: str, db, runner) -> None:
    if how == "mix_responses":
        assert mix_responses(db, MIX_DAY) == COHORT + 1  # and the February answer
        return
    result = runner.invoke(args=[how, "--today", MIX_DAY.isoformat()])
    assert result.exit_code == 0, result.output
    if how == "purge":
        assert f"Responses mixed (this month and last): {COHORT + 1}" in result.output
