"""The survey page /s/<token>: what a family sees, and that bad input never stores or crashes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey.invitations.operations import new_token
from survey.models import Invitation, Response, ResponseAnswer, utcnow
from tests.factories import make_episode, make_invited
from tests.pages import csrf_token, field_error, text_of

VALID = {"self_direction": "8", "usefulness": "7"}


def open_form(client, token: str) -> str:
    page = client.get(f"/s/{token}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def post(client, token: str, data, with_csrf: bool = True):
    """POST like a browser: the page's CSRF token plus `data` (a dict or a list of pairs)."""
    pairs = list(data.items()) if isinstance(data, dict) else list(data)
    if with_csrf:
        pairs.append(("csrf_token", csrf_token(open_form(client, token))))
    body = "&".join(f"{k}={v}" for k, v in pairs)
    return client.post(f"/s/{token}", data=body, content_type="application/x-www-form-urlencoded")


def stored(db) -> int:
    db.rollback()
    db.expire_all()
    return db.scalar(select(func.count(Response.id)))


def test_parent_page_shows_the_questionnaire_in_dutch(client, db):
    _, token = make_invited(db)
    page = open_form(client, token)
    text = text_of(page)
    assert '<html lang="nl">' in page
    assert "Hoeveel had u te zeggen over de hulp?" in text
    assert "Hoe nuttig was de hulp?" in text
    assert text.count("(verplicht)") == 2
    assert "Vraag 2 van 5" in text
    for value in range(1, 11):
        assert f'name="self_direction" id="self_direction-{value}" value="{value}"' in page
        assert f'name="usefulness" id="usefulness-{value}" value="{value}"' in page
    assert '<textarea name="comment"' in page
    assert 'type="checkbox" name="quote_consent" id="quote_consent" value="y"' in page
    assert page.count('<form method="post"') == 1


@pytest.mark.parametrize(("age", "consent_shown"), [(14, False), (None, False), (16, True)])
def test_youth_page_is_in_plain_words_and_asks_consent_from_sixteen(client, db, age, consent_shown):
    episode = make_episode(db, youth_age=age)
    _, token = make_invited(db, episode=episode, respondent_group="youth")
    page = open_form(client, token)
    assert "Hoeveel mocht jij meebeslissen over de hulp?" in text_of(page)
    assert ('name="quote_consent"' in page) is consent_shown
    assert ("Vraag 4 van 5" in text_of(page)) is consent_shown


def test_english_invitation_gets_an_english_page(client, db):
    episode = make_episode(db, language="en")
    _, token = make_invited(db, episode=episode, language="en")
    page = open_form(client, token)
    assert '<html lang="en">' in page
    assert "How much say did you have over the help?" in text_of(page)
    assert text_of(page).count("(required)") == 2


def test_opening_the_link_records_opened_once(client, db):
    invitation, token = make_invited(db)
    open_form(client, token)
    db.rollback()
    db.expire_all()
    first = db.get(Invitation, invitation.id).opened_at
    assert first is not None
    open_form(client, token)
    db.rollback()
    db.expire_all()
    assert db.get(Invitation, invitation.id).opened_at == first


def test_valid_answers_are_stored_and_thanked(client, db):
    invitation, token = make_invited(db)
    response = post(client, token, VALID | {"comment": "Fijn geholpen", "quote_consent": "y"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/bedankt?lang=nl&provider=metmaya"
    assert "Bedankt" in text_of(client.get(response.headers["Location"]).get_data(as_text=True))
    assert stored(db) == 1
    assert db.get(Invitation, invitation.id).responded_at is not None


def test_second_submission_stores_nothing_and_says_so_kindly(client, db):
    _, token = make_invited(db)
    page = open_form(client, token)
    first = client.post(f"/s/{token}", data=VALID | {"csrf_token": csrf_token(page)})
    assert first.status_code == 302
    second = client.post(
        f"/s/{token}",
        data={"self_direction": "1", "usefulness": "1", "csrf_token": csrf_token(page)},
    )
    assert second.status_code == 409
    assert "al ingevuld" in text_of(second.get_data(as_text=True)).lower()
    assert stored(db) == 1
    marks = db.scalars(
        select(ResponseAnswer.value_int).where(ResponseAnswer.item_id == "self_direction")
    ).all()
    assert marks == [8]
    again = client.get(f"/s/{token}")
    assert again.status_code == 200
    assert "al ingevuld" in text_of(again.get_data(as_text=True)).lower()


def test_expired_link_stores_nothing(client, db):
    invitation, token = make_invited(db)
    page = open_form(client, token)
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.commit()
    response = client.post(f"/s/{token}", data=VALID | {"csrf_token": csrf_token(page)})
    assert response.status_code == 410
    assert "verlopen" in text_of(response.get_data(as_text=True))
    assert client.get(f"/s/{token}").status_code == 410
    assert stored(db) == 0


def test_expired_english_link_is_explained_in_english(client, db):
    episode = make_episode(db, language="en")
    _, token = make_invited(db, episode=episode, language="en", expires_in_days=-1)
    response = client.get(f"/s/{token}")
    assert response.status_code == 410
    assert "expired" in text_of(response.get_data(as_text=True))


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(new_token(), id="unknown-token"),
        "abc",
        "x" * 500,
        "%22%3E%3Cimg src=x%3E",
        "%00",
    ],
)
def test_unknown_link_shows_a_kind_page_in_both_languages(client, db, token):
    response = client.get(f"/s/{token}")
    assert response.status_code == 404
    text = text_of(response.get_data(as_text=True))
    assert "Deze link werkt niet" in text
    assert "This link does not work" in text
    assert "<img" not in response.get_data(as_text=True)
    post_response = client.post(f"/s/{token}", data=VALID)
    assert post_response.status_code == 404
    assert stored(db) == 0


@pytest.mark.parametrize(
    ("pairs", "field", "message"),
    [
        (
            [("self_direction", "0"), ("usefulness", "7")],
            "self_direction",
            "Kies een cijfer van 1 tot 10.",
        ),
        (
            [("self_direction", "11"), ("usefulness", "7")],
            "self_direction",
            "Kies een cijfer van 1 tot 10.",
        ),
        (
            [("self_direction", "5.5"), ("usefulness", "7")],
            "self_direction",
            "Kies een cijfer van 1 tot 10.",
        ),
        (
            [("self_direction", "acht"), ("usefulness", "7")],
            "self_direction",
            "Kies een cijfer van 1 tot 10.",
        ),
        ([("self_direction", "8")], "usefulness", "Kies een cijfer van 1 tot 10."),
        (
            [("self_direction", "8"), ("usefulness", "")],
            "usefulness",
            "Kies een cijfer van 1 tot 10.",
        ),
        (
            [("self_direction", "8"), ("self_direction", "3"), ("usefulness", "7")],
            "self_direction",
            "Kies maar één cijfer.",
        ),
        (
            [("self_direction", "8"), ("usefulness", "7"), ("listened", "12")],
            "listened",
            "Kies een cijfer van 1 tot 10.",
        ),
    ],
)
def test_bad_marks_reshow_the_form_with_the_message_next_to_the_field(
    client, db, pairs, field, message
):
    _, token = make_invited(db)
    response = post(client, token, [*pairs, ("comment", "Mijn verhaal blijft staan")])
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert field_error(page, field) == f"Fout: {message}"
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    assert f'href="#{field}-1"' in summary
    assert message in text_of(summary)
    assert "Mijn verhaal blijft staan</textarea>" in page  # nothing typed is lost
    assert stored(db) == 0


def test_a_valid_mark_is_kept_when_another_is_wrong(client, db):
    _, token = make_invited(db)
    page = post(client, token, {"self_direction": "6", "usefulness": "0"}).get_data(as_text=True)
    assert 'id="self_direction-6" value="6" checked' in page
    assert 'id="usefulness-0"' not in page


def test_hundred_kilobyte_comment_is_refused_with_a_message(client, db):
    _, token = make_invited(db)
    response = post(client, token, VALID | {"comment": "a" * 100_000})
    assert response.status_code == 400
    error = field_error(response.get_data(as_text=True), "comment")
    assert error is not None and "100.000" in error and "4.000" in error
    assert stored(db) == 0


def test_nul_bytes_and_direction_overrides_are_stored_without_them(client, db):
    _, token = make_invited(db)
    comment = "Goed%00 geholpen \u202eekeur\u202c door het team"
    response = post(client, token, VALID | {"comment": comment})
    assert response.status_code == 302
    db.rollback()
    db.expire_all()
    text = db.scalars(
        select(ResponseAnswer.value_text).where(ResponseAnswer.item_id == "comment")
    ).one()
    assert text == "Goed geholpen ekeur door het team"


def test_missing_csrf_token_keeps_the_answers_and_stores_nothing(client, db):
    _, token = make_invited(db)
    response = post(client, token, VALID | {"comment": "Niet kwijtraken"}, with_csrf=False)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Niet kwijtraken</textarea>" in page
    assert 'id="self_direction-8" value="8" checked' in page
    assert "error-summary" in page
    assert stored(db) == 0


def test_consent_from_a_youth_who_was_not_asked_is_not_stored(client, db):
    episode = make_episode(db, youth_age=13)
    _, token = make_invited(db, episode=episode, respondent_group="youth")
    response = post(client, token, VALID | {"comment": "Goed", "quote_consent": "y"})
    assert response.status_code == 302
    db.rollback()
    db.expire_all()
    items = set(db.scalars(select(ResponseAnswer.item_id)))
    assert items == {"self_direction", "usefulness", "comment"}


def test_survey_pages_are_not_cached_and_send_no_referrer(client, db):
    _, token = make_invited(db)
    response = client.get(f"/s/{token}")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert token not in response.get_data(as_text=True).split("<form")[0]  # not in <head>/title


def test_response_keys_are_random_so_order_reveals_nothing(client, db):
    import uuid

    for _ in range(3):
        _, token = make_invited(db)
        assert post(client, token, VALID).status_code == 302
    db.rollback()
    ids = db.scalars(select(Response.id)).all()
    assert len(ids) == 3
    assert all(uuid.UUID(value).version == 4 for value in ids)


def test_oversized_request_gets_the_friendly_413_page(client, db):
    _, token = make_invited(db)
    response = client.post(f"/s/{token}", data={"comment": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "Te veel tekst" in text_of(response.get_data(as_text=True))
    assert stored(db) == 0


def test_wrong_method_gets_a_friendly_page_not_a_stack_trace(client):
    response = client.post("/bedankt")
    assert response.status_code == 405
    page = response.get_data(as_text=True)
    assert "Traceback" not in page
    assert "Dit kan niet op deze pagina" in text_of(page)


def test_service_refuses_invalid_marks_and_unshown_consent(db):
    from survey.answers.operations import submit_response
    from survey.answers.questionnaires import load_questionnaires

    youth = load_questionnaires()["youth"]
    episode = make_episode(db, youth_age=13)
    invitation, _ = make_invited(db, episode=episode, respondent_group="youth")
    now = utcnow()
    with pytest.raises(ValueError, match="usefulness"):
        submit_response(db, invitation, youth, {"self_direction": 5}, "nl", now)
    with pytest.raises(ValueError, match="self_direction"):
        submit_response(db, invitation, youth, {"self_direction": 0, "usefulness": 5}, "nl", now)
    assert stored(db) == 0
    answers = {"self_direction": 5, "usefulness": 6, "quote_consent": True}
    assert submit_response(db, invitation, youth, answers, "nl", now)
    items = set(db.scalars(select(ResponseAnswer.item_id)))
    assert items == {"self_direction", "usefulness"}  # consent is not asked below 16
