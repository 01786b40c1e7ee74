"""De-identifying comments in the background: by `prepare`, `send` and the worker, never in a
request, and a comment that fails stays hidden while mail goes on.
"""

from __future__ import annotations

from sqlalchemy import select

from survey.models import Comment
from tests.factories import make_comment
from tests.quote_helpers import prepare
from tests.staff_helpers import get, signed_in_client
from tests.test_report import fill_region


def test_a_comment_is_deidentified_in_the_background_and_highlighted(app, db):
    fill_region(db)  # the queue lists a group only when its figures are published
    text = "Mijn begeleider Kees belde namens Team Leusden op 06-12345678."
    quote = make_comment(db, text, team="Team Leusden")
    assert db.get(Comment, quote).deidentified_text is None  # nothing heavy in the request
    assert prepare(app, db) == 1 and prepare(app, db) == 0
    db.expire_all()
    stored = db.get(Comment, quote)
    assert (
        stored.deidentified_text
        == "Mijn begeleider [naam] belde namens [team] op [telefoonnummer]."
    )
    client, _ = signed_in_client(app, db, "communications")
    page = get(client, "/staff/quotes/").get_data(as_text=True)
    assert "<mark>[naam]</mark>" in page and "<mark>[team]</mark>" in page
    assert "Kees" not in page and "06-12345678" not in page


def test_the_send_command_deidentifies_new_comments(app, db, runner):
    make_comment(db, "Bel me op 0612345678.")
    output = runner.invoke(args=["send"]).output
    assert "De-identified 1 new comment(s) for review." in output
    db.expire_all()
    assert db.scalars(select(Comment.deidentified_text)).all() == ["Bel me op [telefoonnummer]."]


def test_the_worker_deidentifies_new_comments(app, db, runner):
    make_comment(db, "Mijn mentor Femke hielp echt.")
    output = runner.invoke(args=["worker", "--until-empty", "--interval", "0.1"]).output
    assert "Worker stopped." in output
    db.expire_all()
    assert db.scalars(select(Comment.deidentified_text)).all() == ["Mijn mentor [naam] hielp echt."]


def test_a_comment_that_fails_deidentification_stays_hidden_and_mail_goes_on(
    app, db, monkeypatch, caplog
):
    from survey.quotes import deidentify

    broken = make_comment(db, "Dit gaat mis.")
    fine = make_comment(db, "Dit gaat goed.")

    real = deidentify.Deidentifier.deidentify

    def fail_once(self, text, language="nl"):
        if text == "Dit gaat mis.":
            raise RuntimeError(f"deduce tripped on {text!r}")
        return real(self, text, language)

    monkeypatch.setattr(deidentify.Deidentifier, "deidentify", fail_once)
    prepare(app, db)
    db.expire_all()
    assert db.get(Comment, broken).deidentified_text is None  # never shown while waiting
    assert db.get(Comment, fine).deidentified_text == "Dit gaat goed."
    assert "de-identification failed" in caplog.text and "gaat mis" not in caplog.text
    monkeypatch.setattr(deidentify.Deidentifier, "deidentify", real)
    assert prepare(app, db) == 1
