"""Retention of the answer world and the audit log, and the coarsening of purged episodes
(issue 16, point 5; DESIGN §3).

`ervaringswijzer purge --today …` is moved years ahead: the answers (with their comments) of an
end-of-care month go as a whole once it began RESPONSE_RETENTION_YEARS before the current month,
audit events go after AUDIT_RETENTION_YEARS, and every younger period keeps exactly the figures
it had. Episodes nobody can be mailed for any more keep only their month, lose the youth's age,
and carry a keyed hash instead of the registration system's id — which a re-import of the same
export still recognises, so nobody is invited twice.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from survey import create_app
from survey.answers.operations import submit_response
from survey.answers.questionnaires import load_questionnaires
from survey.config import ConfigError, load_config
from survey.models import (
    AuditEvent,
    Comment,
    Episode,
    Invitation,
    Response,
    ResponseAnswer,
)
from survey.reporting.dimensions import Period
from survey.reporting.queries import funnel_cells, mark_cells
from tests.conftest import make_test_app
from tests.factories import EPISODE_CSV_HEADER, make_episode, make_invited
from tests.mixing import cells
from tests.test_startup_checks import env  # noqa: F401  (the fixture)

# Three end-of-care months; the first is past five years on 1 February 2031.
MONTHS = (date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1))
FIRST_KEPT = date(2031, 1, 31)  # every month still within five years
FIRST_GONE = date(2031, 2, 1)  # January 2026 began before February 2026: erased


def fill(db) -> None:
    """Per month: seven parents invited, six answer (two with a comment); episodes ending on
    various days, the last day of the month included."""
    questionnaire = load_questionnaires()["parent"]
    for month in MONTHS:
        for n in range(7):
            ended = month + timedelta(days=(0, 9, 16, 27, 30, 12, 3)[n])
            ended = min(ended, (month + timedelta(days=32)).replace(day=1) - timedelta(days=1))
            episode = make_episode(db, end_date=ended, youth_age=15 + n % 3)
            sent = datetime.combine(ended + timedelta(days=1), datetime.min.time())
            invitation, _ = make_invited(db, now=sent, episode=episode)
            if n == 6:
                continue  # never answers
            answers: dict[str, object] = {"self_direction": 4 + n, "usefulness": 10 - n}
            if n % 3 == 0:
                answers |= {"comment": f"Opmerking {n} over {month:%B}.", "quote_consent": True}
            moment = sent + timedelta(days=2, hours=n)
            assert submit_response(db, invitation, questionnaire, answers, "nl", moment)


def audit_events(db, *moments: datetime) -> None:
    for moment in moments:
        db.add(AuditEvent(at=moment, action="comment_view", object_type="comment"))
    db.commit()


def figures(db) -> dict[str, dict[str, list[dict]]]:
    """What a report by group and month shows, from the base tables and from the kept cells,
    per month."""
    db.commit()
    dims = ("group", "month")
    shown: dict[str, dict[str, list[dict]]] = {}
    for from_cells in (False, True):
        frames = {"funnel": funnel_cells(db, dims, Period(), from_cells=from_cells)}
        frames |= {
            item: frame
            for item, frame in mark_cells(db, dims, Period(), from_cells=from_cells).items()
        }
        for name, frame in frames.items():
            for record in frame.to_dict("records"):
                month = str(record["month"])
                key = f"{name}{'' if from_cells else ' (base)'}"
                shown.setdefault(month, {}).setdefault(key, []).append(record)
    return shown


def purge(runner, day: date) -> str:
    result = runner.invoke(args=["purge", "--today", day.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def count(db, model, *where) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_answers_and_audit_events_go_after_five_years_and_younger_figures_stay(app, db, runner):
    fill(db)
    audit_events(
        db,
        datetime(2026, 1, 20, 12, 0),  # more than five years before 31 January 2031
        datetime(2026, 2, 2, 8, 0),
        datetime(2028, 6, 1, 8, 0),
    )
    before = figures(db)
    assert set(before) == {"2026-01", "2026-02", "2026-03"}
    assert before["2026-01"]["self_direction"][0]["n"] == 6
    cells_before = cells(app)

    # Every month still within five years: only contact data and the oldest audit event go,
    # and the episodes are coarsened.
    output = purge(runner, FIRST_KEPT)
    assert "Episodes coarsened (month only, no age, keyed id): 21" in output, output
    assert "Responses erased (care ended before 2026-01): 0" in output, output
    assert "Audit events erased (before 2026-01-31): 1" in output, output
    assert figures(db) == before  # coarsening moved no figure …
    assert cells(app) == cells_before  # … and no kept sum
    db.expire_all()
    episodes = db.scalars(select(Episode)).all()
    assert {e.end_date.day for e in episodes} == {1}
    assert {e.youth_age for e in episodes} == {None}

    output = purge(runner, FIRST_GONE)
    assert "Responses erased (care ended before 2026-02): 6" in output, output
    assert "Comments erased with them: 2" in output, output
    assert "Audit events erased (before 2026-02-01): 0" in output, output
    assert "Episodes coarsened (month only, no age, keyed id): 0" in output, output

    # January's answers are gone, with their answers and comments; nothing else is.
    assert count(db, Response, Response.end_month == MONTHS[0]) == 0
    assert count(db, Response) == 12
    assert count(db, ResponseAnswer) == 12 * 2 + 4 * 2  # two marks each; 4 comments, consents
    assert count(db, ResponseAnswer, ResponseAnswer.response_id.not_in(select(Response.id))) == 0
    assert count(db, Comment) == 4
    after = figures(db)
    assert after["2026-02"] == before["2026-02"]
    assert after["2026-03"] == before["2026-03"]
    # January: the invitations (response rate) stay, its marks do not.
    assert "self_direction" not in after["2026-01"]
    assert after["2026-01"]["funnel"] == before["2026-01"]["funnel"]
    assert [e.at for e in db.scalars(select(AuditEvent).order_by(AuditEvent.at))] == [
        datetime(2026, 2, 2, 8, 0),
        datetime(2028, 6, 1, 8, 0),
    ]
    cells(app)  # the kept sums still equal a rebuild

    # Again on the same day: nothing more to erase.
    again = purge(runner, FIRST_GONE)
    for line in ("Responses erased", "Comments erased", "Audit events erased", "Episodes coars"):
        assert next(x for x in again.splitlines() if x.startswith(line)).endswith(": 0"), again
    assert figures(db) == after


def test_configured_years_are_honoured(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("RESPONSE_RETENTION_YEARS", "2")
    monkeypatch.setenv("AUDIT_RETENTION_YEARS", "3")
    app = make_test_app(database_url, tmp_path)
    try:
        assert (app.config["RESPONSE_RETENTION_YEARS"], app.config["AUDIT_RETENTION_YEARS"]) == (
            2,
            3,
        )
        with app.app_context():
            from survey.db import get_session

            db = get_session()
            fill(db)
            audit_events(db, datetime(2025, 1, 15), datetime(2025, 3, 15))
            runner = app.test_cli_runner()
            output = purge(runner, date(2028, 2, 14))
            assert "Responses erased (care ended before 2026-02): 6" in output, output
            assert "Audit events erased (before 2025-02-14): 1" in output, output
            output = purge(runner, date(2028, 4, 1))
            assert "Responses erased (care ended before 2026-04): 12" in output, output
            assert "Audit events erased (before 2025-04-01): 1" in output, output
            assert count(db, Response) == count(db, ResponseAnswer) == count(db, AuditEvent) == 0
            db.close()
    finally:
        app.extensions["db_engine"].dispose()


# -- configuration ----------------------------------------------------------------------------


def test_the_retention_years_default_to_five():
    config = load_config(Path("instance"), {})
    assert (config["RESPONSE_RETENTION_YEARS"], config["AUDIT_RETENTION_YEARS"]) == (5, 5)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RESPONSE_RETENTION_YEARS", "0", "RESPONSE_RETENTION_YEARS must be at least 1, got 0"),
        ("RESPONSE_RETENTION_YEARS", "vijf", "RESPONSE_RETENTION_YEARS must be a whole number"),
        ("RESPONSE_RETENTION_YEARS", "2.5", "RESPONSE_RETENTION_YEARS must be a whole number"),
        ("AUDIT_RETENTION_YEARS", "-1", "AUDIT_RETENTION_YEARS must be at least 1, got -1"),
    ],
)
def test_a_bad_retention_value_refuses_to_start(env, name, value, message):  # noqa: F811
    env.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        create_app()


def test_the_console_script_names_a_bad_retention_value(env):  # noqa: F811
    env.setenv("RESPONSE_RETENTION_YEARS", "0")
    script = Path(sys.executable).with_name("ervaringswijzer")
    done = subprocess.run(
        [str(script), "purge"], capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert done.returncode == 1
    assert (
        "Configuration refused: RESPONSE_RETENTION_YEARS must be at least 1, got 0" in done.stderr
    ), done.stderr
    assert "Traceback" not in done.stderr + done.stdout


# -- purged episodes and re-imports -----------------------------------------------------------

ENDED = date(2026, 3, 10)
ROWS = (
    "E1,2026-03-10,Team Eem,Amersfoort,Begeleiding,15,jongere1@example.org,ouder1@example.org,nl",
    "E2,2026-03-10,Team Eem,Amersfoort,Begeleiding,,,ouder2@example.org,nl",
    # Under twelve: the youth address is never used, and there is no parent: no invitation.
    "E3,2026-03-10,Team Eem,Amersfoort,Begeleiding,10,kind3@example.org,,nl",
)


def import_export(runner, tmp_path: Path) -> str:
    path = tmp_path / "export.csv"
    path.write_text("\n".join([EPISODE_CSV_HEADER, *ROWS]) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import-episodes", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_purged_episode_is_recognised_on_reimport_and_nobody_is_invited_twice(
    app, db, runner, tmp_path
):
    assert "Episodes: 3 new" in import_export(runner, tmp_path)
    sent = runner.invoke(args=["send", "--today", "2026-03-11"]).output
    assert "Delivered:                  3" in sent, sent
    db.expire_all()
    answering = db.scalars(
        select(Invitation).join(Invitation.episode).where(Episode.external_id == "E2")
    ).one()
    assert submit_response(
        db,
        answering,
        load_questionnaires()["parent"],
        {"self_direction": 8, "usefulness": 9},
        "nl",
        datetime(2026, 3, 12, 10, 0),
    )
    figures_before = figures(db)

    # Links expired on 8 April; 30 days later every invitation is purged.
    output = purge(runner, date(2026, 5, 10))
    assert "Invitations erased (address and token): 3" in output, output
    assert "Episodes coarsened (month only, no age, keyed id): 2" in output, output
    db.expire_all()
    stored = {e.id: e for e in db.scalars(select(Episode))}
    coarse = [e for e in stored.values() if e.external_id.startswith("purged:")]
    assert len(coarse) == 2
    for episode in coarse:
        assert len(episode.external_id) == 64
        assert (episode.end_date, episode.youth_age) == (date(2026, 3, 1), None)
    plain = "purged:" + hashlib.sha256(b"E1").hexdigest()[:57]
    assert plain not in {e.external_id for e in coarse}  # keyed, not a guessable plain hash
    # E3 has no invitation and could still get one from a corrected export (60 + 30 days).
    e3 = next(e for e in stored.values() if e.external_id == "E3")
    assert (e3.end_date, e3.youth_age) == (ENDED, 10)
    assert figures(db) == figures_before

    # The same export again: all three recognised, nothing changes, nobody is invited.
    again = import_export(runner, tmp_path)
    assert "Episodes: 0 new, 0 updated, 3 unchanged" in again, again
    assert "Invitations created: 0" in again, again
    assert count(db, Episode) == 3 and count(db, Invitation) == 3
    db.expire_all()
    for episode in coarse:
        assert (episode.end_date, episode.youth_age) == (date(2026, 3, 1), None)
    sent = runner.invoke(args=["send", "--today", "2026-05-10"]).output
    assert "Invitations created:        0" in sent, sent

    # Past what could still be invited, E3 follows; purging again then changes nothing.
    output = purge(runner, date(2026, 6, 10))
    assert "Episodes coarsened (month only, no age, keyed id): 1" in output, output
    assert count(db, Episode, Episode.external_id.startswith("purged:")) == 3
    assert "Episodes: 0 new, 0 updated, 3 unchanged" in import_export(runner, tmp_path)
    snapshot = sorted(
        (e.external_id, e.end_date, e.youth_age, e.team) for e in db.scalars(select(Episode))
    )
    output = purge(runner, date(2026, 6, 10))
    assert "Episodes coarsened (month only, no age, keyed id): 0" in output, output
    db.expire_all()
    assert (
        sorted(
            (e.external_id, e.end_date, e.youth_age, e.team) for e in db.scalars(select(Episode))
        )
        == snapshot
    )
    assert figures(db) == figures_before
