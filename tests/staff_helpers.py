"""Helpers for staff tests: accounts made through the real service, sign-in through the real pages.

`make_staff` creates a user with `survey.staff.accounts.create_user` (argon2id hash, password
policy) and, by default, a TOTP secret. `sign_in` does what a browser does: GET the login page,
POST email and password with the page's CSRF token, then the second step with a code computed by
pyotp from the secret (or enrols the authenticator app when the account has none yet).

Make requests with `get`, `post_form` or `request` here rather than `client.get` while the `db`
fixture is in use: that fixture keeps an application context pushed, Flask then reuses it for
every request, and `g` (the signed-in user, the CSRF token, the database session) leaks from one
request, and one client, into the next.
"""

from __future__ import annotations

import html
import itertools
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from survey.db import get_session
from survey.models import StaffUser
from survey.staff.accounts import TOTP_STEP_SECONDS, new_totp_secret
from survey.staff.accounts import create_user as create_staff_user
from tests.pages import csrf_token

DEFAULT_PASSWORD = "lange wandeling langs de Eem 2024"
LOGIN_URL = "/staff/login"
MFA_URL = "/staff/mfa"
HOME_URL = "/staff/"

_numbers = itertools.count(1)


class SignInFailed(AssertionError):
    """The sign-in did not reach the staff start page; the message says where it stopped."""


@contextmanager
def database(app: Flask) -> Iterator[Session]:
    """A database session of `app` in its own application context (sees committed data)."""
    with app.app_context():
        yield get_session()


def make_staff(
    db: Session,
    role: str,
    password: str = DEFAULT_PASSWORD,
    with_totp: bool = True,
    email: str | None = None,
    active: bool = True,
) -> tuple[StaffUser, str, str | None]:
    """A committed staff account with `role`; returns (user, password, TOTP secret or None)."""
    email = email or f"{role}{next(_numbers)}@zorgaanbieder.example.org"
    user = create_staff_user(db, email, role, password)
    secret = new_totp_secret() if with_totp else None
    user.totp_secret = secret
    user.active = active
    db.commit()
    return user, password, secret


def totp_code(secret: str, step: int | None = None) -> str:
    """The 6-digit code of `secret` for a TOTP time step (default: now)."""
    if step is None:
        step = current_step()
    return pyotp.TOTP(secret).at(step * TOTP_STEP_SECONDS)


def current_step() -> int:
    """The TOTP time step of this moment (30 s steps, as the server counts)."""
    return int(time.time()) // TOTP_STEP_SECONDS


def fresh_code(client: FlaskClient, email: str, secret: str) -> str:
    """A code the server will accept now: a step it has not seen yet for this account.

    The server accepts the current step ±1 once each (no replay). For a second sign-in within
    the same 30 s the next step's code is used; when even that one is spent the account's last
    step is reset in the database (a test helper's liberty, not a way around the check).
    """
    app = client.application
    with app.app_context():  # a fresh session: reads what the server has committed
        db = get_session()
        user = db.scalars(select(StaffUser).where(StaffUser.email == email.lower())).one()
        step = current_step()
        last = user.totp_last_step
        if last is None or last < step:
            return totp_code(secret, step)
        if last == step:
            return totp_code(secret, step + 1)
        user.totp_last_step = None
        db.commit()
        return totp_code(secret, step)


def enrolment_secret(page: str) -> str:
    """The TOTP key shown on the set-up page (for typing into an authenticator app)."""
    match = re.search(r'<code class="secret">([^<]+)</code>', page)
    assert match, "no TOTP key on the set-up page"
    return html.unescape(match.group(1)).strip()


def request(client: FlaskClient, method: str, url: str, **options: object) -> TestResponse:
    """One request in its own application context, as a real server handles it.

    Flask reuses an application context that is already pushed (the `db` fixture pushes one),
    so `g` (Flask-WTF's cached CSRF token, Flask-Login's user, the database session) would
    otherwise carry over from one request to the next.
    """
    with client.application.app_context():
        return client.open(url, method=method, **options)


def get(client: FlaskClient, url: str, **options: object) -> TestResponse:
    """GET `url` in a fresh application context."""
    return request(client, "GET", url, **options)


def post_form(
    client: FlaskClient, url: str, data: dict[str, object], page_url: str | None = None
) -> TestResponse:
    """POST a form with the CSRF token of the page at `page_url` (default: `url`)."""
    page = get(client, page_url or url)
    form = {"csrf_token": csrf_token(page.get_data(as_text=True)), **data}
    return request(client, "POST", url, data=form)


def submit_password(client: FlaskClient, email: str, password: str) -> TestResponse:
    """The first sign-in step: the login form posted with its CSRF token."""
    page = get(client, LOGIN_URL)
    if page.status_code == 302:  # already signed in
        return page
    token = csrf_token(page.get_data(as_text=True))
    data = {"csrf_token": token, "email": email, "password": password}
    return request(client, "POST", LOGIN_URL, data=data)


def submit_code(client: FlaskClient, code: str) -> TestResponse:
    """The second sign-in step: the code form posted with its CSRF token."""
    return post_form(client, MFA_URL, {"code": code})


def sign_in(
    client: FlaskClient, email: str, password: str, secret: str | None = None
) -> FlaskClient:
    """Sign `client` in through the real pages and return it; raise SignInFailed if refused.

    With `secret` the second step uses a code computed from it. Without one, an account that
    has no authenticator yet is enrolled with the key shown on the set-up page; an account that
    has one cannot be signed in (SignInFailed). With REQUIRE_MFA off there is no second step.
    """
    answer = submit_password(client, email, password)
    location = answer.headers.get("Location", "")
    if answer.status_code != 302:
        raise SignInFailed(f"password step answered {answer.status_code}")
    if location.endswith(MFA_URL):
        if secret is None:
            page = get(client, MFA_URL).get_data(as_text=True)
            if '<code class="secret">' not in page:
                raise SignInFailed("the account has a second factor; pass its secret")
            secret = enrolment_secret(page)
        answer = submit_code(client, fresh_code(client, email, secret))
        location = answer.headers.get("Location", "")
        if answer.status_code != 302:
            raise SignInFailed(f"code step answered {answer.status_code}")
    if not location.endswith(HOME_URL):
        raise SignInFailed(f"sign-in ended at {location!r}, not the staff start page")
    return client


def signed_in_client(
    app_or_client: Flask | FlaskClient,
    db: Session | None,
    role: str,
    **make_options: object,
) -> tuple[FlaskClient, StaffUser]:
    """A new staff account with `role` and a client signed in as it (db None: a fresh session)."""
    client = app_or_client.test_client() if isinstance(app_or_client, Flask) else app_or_client
    if db is None:
        with database(client.application) as own:
            user, password, secret = make_staff(own, role, **make_options)  # type: ignore[arg-type]
    else:
        user, password, secret = make_staff(db, role, **make_options)  # type: ignore[arg-type]
    return sign_in(client, user.email, password, secret), user


# URL arguments that differ per route: a format each route really serves.
URL_FORMATS = {
    "/staff/dashboard/chart/<name>.<fmt>": "json",
    "/staff/quotes/export.<fmt>": "csv",
    "/staff/quotes/infoblad.<fmt>": "md",
}
