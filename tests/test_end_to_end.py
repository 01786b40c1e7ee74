"""End to end: import → send (real SMTP server, .eml files) → open the link → answer → stored."""

from __future__ import annotations

import re
from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import select

from survey.db import get_session
from survey.models import Invitation, OutboxMessage, Response
from tests.conftest import PUBLIC_BASE_URL, make_test_app
from tests.factories import EPISODE_CSV_HEADER
from tests.pages import csrf_token, links_in, parts, text_of
from tests.servers import smtp_server

HEADER = EPISODE_CSV_HEADER
SURVEY_LINK = re.compile(re.escape(PUBLIC_BASE_URL) + r"/s/[A-Za-z0-9_-]{43}")


def episodes_csv(tmp_path: Path, today: date) -> Path:
    ended = today - timedelta(days=3)
    path = tmp_path / "export.csv"
    path.write_text(
        f"{HEADER}\n"
        f"T1,{ended:%d-%m-%Y},Team Leusden,Leusden,Gezinsbehandeling,16,"
        f"jongere@example.org,ouder@example.org,nl\n"
        f"T2,{ended:%Y-%m-%d},Team Soest,Soest,Diagnostiek,,,parent@example.org,en\n"
        # ended longer ago than INVITE_MAX_AGE_DAYS (60): never mailed
        f"T3,{today - timedelta(days=61):%Y-%m-%d},Team Soest,Soest,Diagnostiek,,,"
        "oud@example.org,nl\n"
        # ends tomorrow: not due yet
        f"T4,{today + timedelta(days=1):%Y-%m-%d},Team Soest,Soest,Diagnostiek,,,"
        "later@example.org,nl\n",
        encoding="utf-8",
    )
    return path


def the_one_survey_link(message) -> str:
    """Assert the message carries exactly one survey link and one opt-out link (in each part),
    and nothing else that links anywhere; return the survey link."""
    bodies = parts(message)
    assert set(bodies) == {"plain", "html"}
    for body in bodies.values():
        links = links_in(body)
        survey = [u for u in links if u.startswith(f"{PUBLIC_BASE_URL}/s/")]
        opt_out = [u for u in links if u.startswith(f"{PUBLIC_BASE_URL}/afmelden/")]
        assert len(survey) == 1, links
        assert len(opt_out) == 1, links
        assert sorted(links) == sorted(survey + opt_out), links
        assert SURVEY_LINK.fullmatch(survey[0])
    return survey[0]


def answer_survey(client, link: str, comment: str) -> str:
    """Open the link, then POST the form with the page's CSRF token; return the thank-you page."""
    path = link.removeprefix(PUBLIC_BASE_URL)
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    posted = client.post(
        path,
        data={
            "csrf_token": csrf_token(html),
            "self_direction": "8",
            "usefulness": "7",
            "listened": "9",
            "comment": comment,
            "quote_consent": "y",
        },
    )
    assert posted.status_code == 302, posted.get_data(as_text=True)
    return client.get(posted.headers["Location"]).get_data(as_text=True)


def test_import_send_over_smtp_and_answer(database_url, tmp_path):
    today = date.today()
    with smtp_server() as (controller, handler):
        app = make_test_app(
            database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port
        )
        runner = app.test_cli_runner()
        imported = runner.invoke(args=["import-episodes", str(episodes_csv(tmp_path, today))])
        assert imported.exit_code == 0, imported.output
        sent = runner.invoke(args=["send", "--today", today.isoformat()])
        assert sent.exit_code == 0, sent.output
        received = list(handler.received)

    assert "Invitations created:        3" in sent.output
    assert "Skipped (ended > max age):  1" in sent.output
    assert "Delivered:                  3" in sent.output
    by_recipient = {r.rcpt_tos[0]: r.message for r in received}
    assert sorted(by_recipient) == [
        "jongere@example.org",
        "ouder@example.org",
        "parent@example.org",
    ]
    assert "MetMaya" in by_recipient["ouder@example.org"]["Subject"]
    assert by_recipient["parent@example.org"]["Subject"] == "Your experience with MetMaya"
    assert "vragenlijst" in parts(by_recipient["ouder@example.org"])["plain"]
    assert "questionnaire" in parts(by_recipient["parent@example.org"])["plain"]
    message_ids = {m["Message-ID"] for m in by_recipient.values()}
    assert len(message_ids) == 3

    link = the_one_survey_link(by_recipient["jongere@example.org"])
    thanks = answer_survey(app.test_client(), link, "De hulp was top!")
    assert "Bedankt" in text_of(thanks)

    with app.app_context():
        session = get_session()
        response = session.scalars(select(Response)).one()
        assert (
            response.respondent_group,
            response.team,
            response.municipality,
            response.care_type,
        ) == ("youth", "Team Leusden", "Leusden", "Gezinsbehandeling")
        assert response.end_month == (today - timedelta(days=3)).replace(day=1)
        assert response.submitted_month == today.replace(day=1)
        assert (response.questionnaire_key, response.questionnaire_version) == ("youth", 1)
        answers = {
            a.item_id: a.value_int if a.value_text is None else a.value_text
            for a in response.answers
        }
        assert answers == {
            "self_direction": 8,
            "usefulness": 7,
            "listened": 9,
            "comment": "De hulp was top!",
            "quote_consent": 1,
        }
        youth = session.scalars(
            select(Invitation).where(Invitation.respondent_group == "youth")
        ).one()
        assert youth.sent_at is not None
        assert youth.opened_at is not None
        assert youth.responded_at is not None
        others = session.scalars(select(Invitation).where(Invitation.id != youth.id)).all()
        assert all(i.responded_at is None for i in others)
        assert (
            session.scalars(select(Invitation.token_hash).where(Invitation.id == youth.id)).one()
            not in link
        )
    app.extensions["db_engine"].dispose()


def test_import_send_to_files_and_answer_in_english(database_url, tmp_path):
    today = date.today()
    app = make_test_app(database_url, tmp_path)
    runner = app.test_cli_runner()
    assert (
        runner.invoke(args=["import-episodes", str(episodes_csv(tmp_path, today))]).exit_code == 0
    )
    sent = runner.invoke(args=["send", "--today", today.isoformat()])
    assert sent.exit_code == 0, sent.output
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3
    messages = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    english = next(m for m in messages if m["To"].addresses[0].addr_spec == "parent@example.org")
    link = the_one_survey_link(english)

    page = app.test_client().get(link.removeprefix(PUBLIC_BASE_URL))
    assert '<html lang="en">' in page.get_data(as_text=True)
    thanks = answer_survey(app.test_client(), link, "Helpful, thanks")
    assert "Thank you" in text_of(thanks)

    # A second pass sends nothing again: every message went out once.
    again = runner.invoke(args=["send", "--today", today.isoformat()])
    assert "Invitations created:        0" in again.output
    assert "Delivered:                  0" in again.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    with app.app_context():
        rows = get_session().execute(select(OutboxMessage.kind, OutboxMessage.status)).all()
        assert sorted(rows) == [("invitation", "sent")] * 3 + [("reminder", "pending")] * 3
    app.extensions["db_engine"].dispose()
