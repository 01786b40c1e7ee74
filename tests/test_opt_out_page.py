"""Opting out of mail through the confirm page: the link in a received email, the page, and its
POST with the page's CSRF token (DESIGN §3, §6).

Opening the page changes nothing; a confirmed opt-out is remembered only as a hash and stops the
reminder, also after the link expired and when done twice. Opting out is about mail: the survey
link keeps working.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from survey.db import get_session
from survey.invitations.operations import new_token
from survey.invitations.optout import address_hash
from survey.models import MailSuppression, Response, utcnow
from tests.mailroom import (
    D0,
    OPTED,
    recipients_of,
)
from tests.pages import csrf_token, text_of


def test_opening_the_opt_out_link_changes_nothing(invited):
    client = invited.app.test_client()
    path = invited.opt_out_path(OPTED, episode="OPT1")
    for _ in range(2):
        page = client.get(path)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert html.count('<form method="post"') == 1
        assert '<button type="submit"' in html
        assert "Ja, meld mij af" in text_of(html)
        assert csrf_token(html)
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "no-store" in page.headers["Cache-Control"]
    assert invited.invitation("OPT1").opted_out_at is None
    assert invited.invitation("OPT1").opened_at is None  # not the survey: not the funnel's "opened"
    assert invited.suppression_rows() == []
    assert invited.reminder_status("OPT1") == "pending"
    assert invited.reminder_status("OPT4") == "pending"


def test_post_without_or_with_a_wrong_csrf_token_changes_nothing(invited):
    client = invited.app.test_client()
    path = invited.opt_out_path(OPTED, episode="OPT1")
    client.get(path)  # a session cookie exists, as in a browser that showed the page
    for data in ({}, {"csrf_token": "not-the-token"}):
        refused = client.post(path, data=data)
        assert refused.status_code == 400
        assert "Probeer het nog een keer" in text_of(refused.get_data(as_text=True))
    assert invited.invitation("OPT1").opted_out_at is None
    assert invited.suppression_rows() == []
    assert invited.reminder_status("OPT1") == "pending"


def test_confirmed_opt_out_is_stored_as_a_hash_and_stops_the_reminder(invited):
    client = invited.app.test_client()
    path = invited.opt_out_path(OPTED, episode="OPT1")
    page = client.get(path).get_data(as_text=True)
    done = client.post(path, data={"csrf_token": csrf_token(page)})
    assert done.status_code == 200
    assert "afgemeld" in text_of(done.get_data(as_text=True))

    for episode in ("OPT1", "OPT4"):  # every invitation to the address, not only the clicked one
        assert invited.invitation(episode).opted_out_at is not None
        assert invited.reminder_status(episode) == "cancelled"
    assert invited.invitation("OPT1", "youth").opted_out_at is None  # the youth's own address
    assert invited.reminder_status("OPT1", "youth") == "pending"
    with invited.app.app_context():
        hashes = get_session().scalars(select(MailSuppression.address_hash)).all()
    assert hashes == [address_hash(OPTED)]
    for row in invited.suppression_rows():
        for value in row:
            assert "@" not in str(value) and "ouder" not in str(value).lower()

    output, arrived = invited.send(D0 + timedelta(days=7))
    assert sorted(recipients_of(arrived)) == [
        "ander@example.org",
        "jongere@example.org",
        "parent@example.org",
        "youth@example.org",
    ]
    assert "Reminders delivered:        4" in output, output


# -- edge cases -----------------------------------------------------------------------------------


def test_opting_out_works_after_expiry_and_twice(invited):
    app = invited.app
    app.config["CLOCK"] = lambda: utcnow() + timedelta(days=29)  # past EXPIRE_AFTER_DAYS (28)
    client = app.test_client()
    path = invited.opt_out_path("ander@example.org")
    token = path.rsplit("/", 1)[1]
    assert client.get(f"/s/{token}").status_code == 410  # the survey link has expired

    page = client.get(path)
    assert page.status_code == 200
    done = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert done.status_code == 200
    assert "afgemeld" in text_of(done.get_data(as_text=True))
    first = invited.invitation("OPT3").opted_out_at
    assert first is not None

    # Twice: the page says so again, nothing else changes.
    again = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert again.status_code == 200
    assert "afgemeld" in text_of(again.get_data(as_text=True))
    shown = client.get(path)
    assert shown.status_code == 200
    assert "afgemeld" in text_of(shown.get_data(as_text=True))
    assert invited.invitation("OPT3").opted_out_at == first
    assert [row[0] for row in invited.suppression_rows()] == [address_hash("ander@example.org")]


def test_unknown_opt_out_link_shows_the_kind_not_found_page(invited):
    client = invited.app.test_client()
    for token in (new_token(), "abc", "x" * 44, "%00"):
        for response in (
            client.get(f"/afmelden/{token}"),
            client.post(f"/afmelden/{token}", data={"csrf_token": "whatever"}),
        ):
            assert response.status_code == 404, token
            assert "Deze link werkt niet" in text_of(response.get_data(as_text=True))
    assert invited.suppression_rows() == []


def test_survey_can_still_be_answered_after_opting_out(invited):
    client = invited.app.test_client()
    path = invited.opt_out_path("parent@example.org")
    page = client.get(path).get_data(as_text=True)
    done = client.post(path, data={"csrf_token": csrf_token(page)})
    assert "unsubscribed" in text_of(done.get_data(as_text=True))  # an English family

    survey = f"/s/{path.rsplit('/', 1)[1]}"
    form = client.get(survey)
    assert form.status_code == 200
    posted = client.post(
        survey,
        data={
            "csrf_token": csrf_token(form.get_data(as_text=True)),
            "self_direction": "6",
            "usefulness": "9",
        },
    )
    assert posted.status_code == 302, posted.get_data(as_text=True)
    answered = invited.invitation("OPT2")
    assert answered.responded_at is not None and answered.opted_out_at is not None
    with invited.app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Response)) == 1
    _, arrived = invited.send(D0 + timedelta(days=7))
    assert "parent@example.org" not in recipients_of(arrived)
