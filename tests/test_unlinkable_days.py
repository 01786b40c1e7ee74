"""Answer times kept to the day: the reminder rule counts by day, and the worker mixes hourly.

What makes the day-level `responded_at` enough is checked too: the answer world has no finer time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from sqlalchemy import inspect
from sqlalchemy.types import Date, DateTime

import survey.mail.worker
from survey.answers.operations import submit_response
from survey.answers.questionnaires import load_questionnaires
from survey.models import Comment, Invitation, Response, ResponseAnswer
from survey.reporting.dimensions import Period
from survey.reporting.queries import funnel_cells
from tests.factories import make_episode, make_invitation
from tests.mixing import cells, fingerprint

# -- answered to the day, and the reminder rule --------------------------------------------------

D0 = date(2026, 3, 2)


def test_answers_on_the_reminder_day_count_as_after_the_reminder(app, db, runner):
    invitations = [
        make_invitation(db, episode=make_episode(db, end_date=D0 - timedelta(1))) for _ in range(4)
    ]
    db.commit()
    ids = [invitation.id for invitation in invitations]
    assert (
        "Delivered:                  4" in runner.invoke(args=["send", "--today", f"{D0}"]).output
    )
    questionnaire = load_questionnaires()["parent"]

    def answer(number: int, moment: datetime) -> Invitation:
        db.expire_all()
        invitation = db.get(Invitation, ids[number])
        assert submit_response(db, invitation, questionnaire, fingerprint(number), "nl", moment)
        db.expire_all()
        return db.get(Invitation, ids[number])

    early = answer(0, datetime.combine(D0 + timedelta(3), time(10, 0)))  # no reminder for it
    reminded = runner.invoke(args=["send", "--today", f"{D0 + timedelta(7)}"]).output
    assert "Reminders delivered:        3" in reminded, reminded
    same_day = answer(1, datetime.combine(D0 + timedelta(7), time(0, 5)))
    later = answer(2, datetime.combine(D0 + timedelta(9), time(16, 40)))

    assert early.responded_at == datetime.combine(D0 + timedelta(3), time(0, 0))
    assert early.reminded_at is None
    assert same_day.responded_at == datetime.combine(D0 + timedelta(7), time(0, 0))
    # Stored as midnight, the same-day answer looks earlier than the reminder: only the day rule
    # counts it.
    assert same_day.responded_at < same_day.reminded_at
    assert later.responded_at == datetime.combine(D0 + timedelta(9), time(0, 0))
    for from_cells in (False, True):
        funnel = funnel_cells(db, ("group",), Period(), from_cells=from_cells)
        row = funnel.iloc[0]
        assert (row["sent"], row["responded"], row["after_reminder"]) == (4, 3, 2), from_cells
    cells(app)  # the kept cells equal a rebuild under the new rule


# -- the worker -------------------------------------------------------------------------------


def test_the_worker_mixes_at_start_and_then_at_most_once_an_hour(app, db, monkeypatch):
    minutes = iter(range(0, 24 * 60, 20))  # a pass every 20 minutes
    clock = {"now": 0.0}
    passes = {"left": 7}
    mixed_at: list[float] = []

    def due(*_args, **_kwargs) -> int:
        clock["now"] = next(minutes) * 60.0
        passes["left"] -= 1
        return passes["left"]

    monkeypatch.setattr(survey.mail.worker, "count_due", due)
    monkeypatch.setattr(
        survey.mail.worker,
        "time",
        SimpleNamespace(monotonic=lambda: clock["now"], sleep=lambda _seconds: None),
    )
    monkeypatch.setattr(
        survey.mail.worker, "mix_responses", lambda *_a: mixed_at.append(clock["now"])
    )
    clock["now"] = -1.0  # before the first pass
    survey.mail.worker.run_worker(db, app.config, interval=0.0, until_empty=True)
    # Seven passes, at the start and then every 20 minutes: mixed at the start and, in the
    # first pass at least an hour later, once more.
    assert passes["left"] == 0
    assert mixed_at == [-1.0, 3600.0]


def test_the_answer_world_still_has_no_time_column():
    """What makes the day-level `responded_at` enough: nothing finer on the other side."""
    for model in (Response, ResponseAnswer, Comment):
        for column in inspect(model).columns:
            assert not isinstance(column.type, DateTime), (model, column.name)
    assert isinstance(Response.__table__.c.submitted_month.type, Date)
