"""CSRF on every POST of the app: refused without the page's own token, and nothing changes.

Every POST endpoint of the url_map must have an attempt here (a new one fails the listing test).
Requests go through `tests.staff_helpers` (a fresh application context per request).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from survey.db import Base, get_engine
from survey.models import (
    AuditEvent,
    Comment,
    Episode,
    Invitation,
    MailSuppression,
    Passkey,
    Response,
    StaffUser,
)
from tests.admin_pages import GOOD_CSV, STRONG_PASSWORD, _admin
from tests.factories import make_comment, make_invitation, make_invited
from tests.pages import csrf_token
from tests.staff_helpers import (
    HOME_URL,
    LOGIN_URL,
    MFA_URL,
    database,
    fast_hashing,  # noqa: F401  (the fixture)
    fresh_code,
    get,
    make_staff,
    post_routes,
    request,
    route_app,  # noqa: F401  (the fixture)
    sign_in,
    signed_in_client,
    submit_password,
)


@dataclass
class Attempt:
    """A POST that would change something, made by `client` from the form at `page`."""

    client: FlaskClient
    url: str
    page: str
    data: Callable[[], dict[str, object]] = dict


def _csrf_login(app: Flask) -> Attempt:
    with database(app) as db:
        user, password, _ = make_staff(db, "admin")
    data = {"email": user.email, "password": password}
    return Attempt(app.test_client(), LOGIN_URL, LOGIN_URL, lambda: data)


def _csrf_mfa(app: Flask) -> Attempt:
    with database(app) as db:
        user, password, secret = make_staff(db, "admin")
    client = app.test_client()
    assert submit_password(client, user.email, password).status_code == 302
    code = fresh_code(client, user.email, secret)
    return Attempt(client, MFA_URL, MFA_URL, lambda: {"code": code})


def _csrf_logout(app: Flask) -> Attempt:
    return Attempt(_admin(app), "/staff/logout", HOME_URL)


def _csrf_password(app: Flask) -> Attempt:
    with database(app) as db:
        user, password, secret = make_staff(db, "quality")
    client = sign_in(app.test_client(), user.email, password, secret)
    data = {"current": password, "new": STRONG_PASSWORD}
    return Attempt(client, "/staff/password", "/staff/password", lambda: data)


def _csrf_import(app: Flask) -> Attempt:
    def data() -> dict[str, object]:
        return {"file": (io.BytesIO(GOOD_CSV.encode()), "episodes.csv")}

    return Attempt(_admin(app), "/staff/admin/import", "/staff/admin/import", data)


def _csrf_send(app: Flask) -> Attempt:
    with database(app) as db:
        make_invitation(db)
        db.commit()
    return Attempt(_admin(app), "/staff/admin/send", "/staff/admin/outbox")


def _csrf_new_user(app: Flask) -> Attempt:
    data = {"email": "nieuw@example.org", "role": "viewer"}
    return Attempt(_admin(app), "/staff/admin/users", "/staff/admin/users", lambda: data)


def _csrf_update_user(app: Flask) -> Attempt:
    with database(app) as db:
        target = make_staff(db, "viewer")[0]
    data = {"action": "set_role", "role": "quality"}
    url = f"/staff/admin/users/{target.id}"
    return Attempt(_admin(app), url, "/staff/admin/users", lambda: data)


def _csrf_questionnaire(app: Flask) -> Attempt:
    with database(app) as db:
        _, token = make_invited(db)
    data = {"self_direction": "8", "usefulness": "7"}
    return Attempt(app.test_client(), f"/s/{token}", f"/s/{token}", lambda: data)


def _csrf_opt_out(app: Flask) -> Attempt:
    with database(app) as db:
        _, token = make_invited(db)
    return Attempt(app.test_client(), f"/afmelden/{token}", f"/afmelden/{token}")


def _csrf_quote(app: Flask) -> Attempt:
    with database(app) as db:
        quote = make_comment(db, "Fijne hulp gehad.")
        db.get(Comment, quote).deidentified_text = "Fijne hulp gehad."  # as the worker does
        db.commit()
    client = signed_in_client(app, None, "communications")[0]
    data = {"action": "approve", "text": "Fijne hulp gehad."}
    return Attempt(client, f"/staff/quotes/{quote}", "/staff/quotes/", lambda: data)


def _csrf_choose_password(app: Flask) -> Attempt:
    from survey.accounts.links import issue_link
    from survey.accounts.users import create_user
    from survey.enums import LinkPurpose
    from survey.models import utcnow

    with database(app) as db:
        user = create_user(db, "uitgenodigd@example.org", "viewer", None)
        raw = issue_link(db, user, LinkPurpose.INVITATION, utcnow())
        db.commit()
    client = app.test_client()
    get(client, f"/staff/link/{raw}")  # the link moves into this browser's session
    data = {"new": STRONG_PASSWORD, "repeat": STRONG_PASSWORD}
    page = "/staff/account/password"
    return Attempt(client, page, page, lambda: data)


def _csrf_forgot_password(app: Flask) -> Attempt:
    with database(app) as db:
        user = make_staff(db, "viewer")[0]
    data = {"email": user.email}
    return Attempt(app.test_client(), "/staff/forgot", "/staff/forgot", lambda: data)


def _csrf_passkey_remove(app: Flask) -> Attempt:
    client, user = signed_in_client(app, None, "viewer")
    with database(app) as db:
        db.add(Passkey(user_id=user.id, credential_id=b"\x03" * 16, public_key=b"k", name="S"))
        db.commit()
        key = db.scalar(select(Passkey.id))
    url = f"/staff/security/passkeys/{key}/remove"
    return Attempt(client, url, "/staff/security")


CSRF_ATTEMPTS: dict[str, Callable[[Flask], Attempt]] = {
    "staff.passkey_remove": _csrf_passkey_remove,
    "staff.choose_password": _csrf_choose_password,
    "staff.forgot_password": _csrf_forgot_password,
    "staff.login": _csrf_login,
    "staff.mfa": _csrf_mfa,
    "staff.logout": _csrf_logout,
    "staff.password": _csrf_password,
    "admin.import_episodes_page": _csrf_import,
    "admin.send": _csrf_send,
    "admin.users": _csrf_new_user,
    "admin.update_user": _csrf_update_user,
    "respond.questionnaire": _csrf_questionnaire,
    "respond.unsubscribe": _csrf_opt_out,
    "quotes.decide": _csrf_quote,
}


def test_every_post_route_has_a_csrf_check_here(route_app: Flask) -> None:  # noqa: F811
    assert set(CSRF_ATTEMPTS) | set(JSON_POSTS) == post_routes(route_app)


# The passkey ceremonies post JSON from static/passkeys.js, the token in the X-CSRFToken header.
JSON_POSTS = {
    "staff.passkey_options": "/staff/security/passkeys/options",
    "staff.passkey_add": "/staff/security/passkeys",
    "staff.mfa_passkey_options": "/staff/mfa/passkey/options",
    "staff.mfa_passkey": "/staff/mfa/passkey",
}


@pytest.mark.parametrize("endpoint", sorted(JSON_POSTS))
def test_a_passkey_post_without_its_header_token_is_refused(app: Flask, endpoint: str) -> None:
    with database(app) as db:
        user, password, _ = make_staff(db, "viewer")
        db.add(Passkey(user_id=user.id, credential_id=b"\x02" * 16, public_key=b"k", name="S"))
        db.commit()
    client = app.test_client()
    if endpoint.startswith("staff.mfa"):
        submit_password(client, user.email, password)  # waiting for the second step
        page = MFA_URL
    else:
        client = signed_in_client(app, None, "viewer")[0]
        page = "/staff/security"
    url = JSON_POSTS[endpoint]
    foreign = {"X-CSRFToken": foreign_token(app, Attempt(client, url, page))}
    before = snapshot(app)
    for headers in ({}, foreign):
        refused = request(client, "POST", url, json={}, headers=headers)
        assert refused.status_code == 400 and refused.mimetype == "text/html", headers
        assert "Er ging iets mis met het verzoek" in refused.get_data(as_text=True)
    assert snapshot(app) == before
    # With the page's own token the request reaches the view: options, or the view's own
    # refusal of an empty answer (JSON), not the CSRF page.
    own = {"X-CSRFToken": csrf_token(get(client, page).text)}
    answer = request(client, "POST", url, json={}, headers=own)
    assert answer.mimetype == "application/json", answer.get_data(as_text=True)[:200]
    if endpoint.endswith("options"):
        assert answer.status_code == 200 and "challenge" in answer.get_json()
    else:
        assert answer.status_code == 400 and "error" in answer.get_json()


def snapshot(app: Flask) -> dict[str, list[str]]:
    """Every row of every table: what 'changes nothing' is compared against."""
    with app.app_context(), get_engine().connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(table.select()))
            for table in Base.metadata.sorted_tables
        }


def session_state(client: FlaskClient) -> tuple[int, int]:
    """What the client's own session allows: the start page, the code page (signed-in, pending)."""
    return get(client, HOME_URL).status_code, get(client, MFA_URL).status_code


def foreign_token(app: Flask, attempt: Attempt) -> str:
    """A valid CSRF token of another session: another visitor's copy of the same public page,
    or the start page of another staff member."""
    if attempt.page.startswith("/staff"):
        other = signed_in_client(app, None, "viewer")[0]
        return csrf_token(get(other, HOME_URL).text)
    return csrf_token(get(app.test_client(), attempt.page).text)


@pytest.mark.parametrize("token", ["missing", "foreign"])
@pytest.mark.parametrize("endpoint", sorted(CSRF_ATTEMPTS))
def test_post_without_its_own_csrf_token_is_refused_and_changes_nothing(
    app: Flask, endpoint: str, token: str
) -> None:
    attempt = CSRF_ATTEMPTS[endpoint](app)
    data = attempt.data()
    if token == "foreign":
        data["csrf_token"] = foreign_token(app, attempt)
    before = snapshot(app), session_state(attempt.client)

    refused = request(attempt.client, "POST", attempt.url, data=data)

    assert refused.status_code == 400
    assert (snapshot(app), session_state(attempt.client)) == before
    page = refused.get_data(as_text=True)
    if endpoint == "respond.questionnaire":
        # The family gets the answers page back, its mark kept, and nothing is stored.
        assert 'value="8" checked' in page
        with database(app) as db:
            assert db.scalar(select(func.count(Response.id))) == 0
    # The same POST with the page's own token does change something: the check above can fail.
    own = {**attempt.data(), "csrf_token": csrf_token(get(attempt.client, attempt.page).text)}
    accepted = request(attempt.client, "POST", attempt.url, data=own)
    assert accepted.status_code in (200, 302), accepted.get_data(as_text=True)
    assert (snapshot(app), session_state(attempt.client)) != before


def test_refused_csrf_changes_none_of_the_named_things(app: Flask) -> None:
    """The brief's list, spelled out once: no user, no audit, no import, no role, no opt-out."""
    admin = _admin(app)
    with database(app) as db:
        target = make_staff(db, "viewer")[0]
        _, survey_token = make_invited(db)
    posts = [
        ("/staff/admin/users", {"email": "x@example.org", "role": "admin", "password": "a" * 20}),
        (f"/staff/admin/users/{target.id}", {"action": "set_role", "role": "admin"}),
        ("/staff/admin/import", {"file": (io.BytesIO(GOOD_CSV.encode()), "e.csv")}),
    ]
    for url, data in posts:
        assert request(admin, "POST", url, data=data).status_code == 400
    anonymous = app.test_client()
    assert request(anonymous, "POST", f"/afmelden/{survey_token}").status_code == 400
    with database(app) as db:
        assert db.scalar(select(func.count(StaffUser.id))) == 2
        assert db.get(StaffUser, target.id).role == "viewer"
        assert db.scalar(select(func.count(Episode.id))) == 1  # the survey's own episode
        assert db.scalar(select(func.count(MailSuppression.address_hash))) == 0
        assert db.scalar(select(func.count(Invitation.opted_out_at))) == 0
        actions = set(db.scalars(select(AuditEvent.action)))
        assert not actions & {"user created", "user set role", "import", "import refused"}
