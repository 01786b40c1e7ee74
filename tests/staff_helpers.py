"""Helpers for staff tests: accounts made through the real service, sign-in through the real pages.

`make_staff` creates a user with `survey.accounts.users.create_user` (argon2id hash, password
policy) and, by default, a TOTP secret. `sign_in` does what a browser does: GET the login page,
POST email and password with the page's CSRF token, then the second step with a code computed by
pyotp from the secret (or enrols the authenticator app when the account has none yet).

`get`, `post_form` and `request` give each request an application context of its own, also
inside a `database(app)` or `app.app_context()` block: Flask reuses a context that is already
pushed, and `g` (the signed-in user, the CSRF token, the database session) would then leak from
one request, and one client, into the next.
"""

from __future__ import annotations

import functools
import itertools
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from argon2 import PasswordHasher
from flask import Flask, current_app, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from survey import create_app
from survey.accounts import passwords
from survey.accounts.secrets import make_cipher, seal
from survey.accounts.users import TOTP_STEP_SECONDS, new_totp_secret
from survey.accounts.users import create_user as create_staff_user
from survey.db import get_session
from survey.models import AuditEvent, StaffUser
from tests.conftest import PUBLIC_BASE_URL, TEST_SECRET_KEY
from tests.pages import csrf_token, soup

DEFAULT_PASSWORD = "lange wandeling langs de Eem 2024"
LOGIN_URL = "/staff/login"
MFA_URL = "/staff/mfa"
HOME_URL = "/staff/"

_numbers = itertools.count(1)
TEST_CIPHER = make_cipher({"SECRET_KEY": TEST_SECRET_KEY})


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
    municipality: str | None = None,
    provider: str | None = None,
) -> tuple[StaffUser, str, str | None]:
    """A committed staff account with `role` (limited to `municipality`, which must be on the
    list, or to `provider`, a slug); returns (user, password, TOTP secret or None)."""
    email = email or f"{role}{next(_numbers)}@zorgaanbieder.example.org"
    user = create_staff_user(
        db, email, role, password, municipality=municipality, provider=provider
    )
    secret = new_totp_secret() if with_totp else None
    user.totp_secret = seal_for_tests(secret) if secret else None
    user.active = active
    # The account is the test's set-up, not an action under test: its audit event goes, so
    # that tests of the audit log see only what they do themselves.
    db.execute(
        delete(AuditEvent).where(
            AuditEvent.action == "user created", AuditEvent.object_id == str(user.id)
        )
    )
    db.commit()
    return user, password, secret


def seal_for_tests(secret: str) -> str:
    """`secret` sealed as the app under test seals it: with its cipher inside an application
    context, else with the cipher of `make_test_app`'s settings (SECRET_KEY only)."""
    cipher = current_app.extensions["mfa_cipher"] if has_app_context() else TEST_CIPHER
    return seal(secret, cipher)


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


def mailed_links(app: Flask, email: str) -> list[str]:
    """The account links mailed to `email` (as `.eml` files in MAIL_FILE_DIR), oldest first."""
    folder = Path(app.config["MAIL_FILE_DIR"])
    found = []
    for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if str(message["To"]).lower() != email.lower():
            continue
        body = message.get_body(preferencelist=("plain",))
        found += re.findall(r"https?://\S+/staff/link/[A-Za-z0-9_-]+", body.get_content())
    return list(dict.fromkeys(found))  # each message names its link in Dutch and in English


def follow_link(client: FlaskClient, link: str) -> TestResponse:
    """Open a mailed link as a browser does (its path on the test client)."""
    return get(client, urlsplit(link).path)


def enrolment_page(client: FlaskClient, email: str, password: str) -> str:
    """The authenticator set-up page of an account without one, reached as its owner does: the
    password, the link mailed to the account's address, the password again."""
    assert submit_password(client, email, password).status_code == 302
    assert '<code class="secret">' not in get(client, MFA_URL).get_data(as_text=True)
    follow_link(client, mailed_links(client.application, email)[-1])
    assert submit_password(client, email, password).headers["Location"].endswith(MFA_URL)
    return get(client, MFA_URL).get_data(as_text=True)


def enrolment_secret(page: str) -> str:
    """The TOTP key shown on the set-up page (for typing into an authenticator app)."""
    key = soup(page).find("code", class_="secret")
    assert key, "no TOTP key on the set-up page"
    return key.get_text().strip()


def request(client: FlaskClient, method: str, url: str, **options: object) -> TestResponse:
    """One request in its own application context, as a real server handles it.

    Flask reuses an application context that is already pushed (inside `database(app)` or
    `app.app_context()`), so `g` (Flask-WTF's cached CSRF token, Flask-Login's user, the
    database session) would otherwise carry over from one request to the next.
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
    has no authenticator yet is enrolled as its owner does it: the password, the link mailed to
    the account's address, the password again, the key shown on the set-up page; an account that
    has one cannot be signed in (SignInFailed). With REQUIRE_MFA off there is no second step.
    """
    answer = submit_password(client, email, password)
    location = answer.headers.get("Location", "")
    if answer.status_code != 302:
        raise SignInFailed(f"password step answered {answer.status_code}")
    if location.endswith(MFA_URL):
        if secret is None:
            get(client, MFA_URL)  # mails the set-up link to an account without a second factor
            if not mailed_links(client.application, email):
                raise SignInFailed("the account has a second factor; pass its secret")
            follow_link(client, mailed_links(client.application, email)[-1])
            submit_password(client, email, password)
            page = get(client, MFA_URL).get_data(as_text=True)
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
    "/staff/dashboard/startfoto.<fmt>": "md",
    "/staff/quotes/export.<fmt>": "csv",
    "/staff/quotes/infoblad.<fmt>": "md",
}


@pytest.fixture(scope="module", autouse=True)
def fast_hashing() -> Iterator[None]:
    """Cheap argon2id parameters, for a module that imports this fixture: its tests count
    sign-ins, not hashing cost (`test_users_create_makes_an_account_with_an_argon2id_hash`
    checks the real parameters)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


def login_redirect(answer: object) -> bool:
    """Whether an answer sends the browser to the sign-in page."""
    location = answer.headers.get("Location", "")  # type: ignore[attr-defined]
    return answer.status_code == 302 and urlsplit(location).path == LOGIN_URL  # type: ignore[attr-defined]


# -- the app's routes -----------------------------------------------------------------------------


def _route_listing_app() -> Flask:
    """An app whose url_map is read; it never opens its (in-memory) database."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "route listing",
        "DATABASE_URL": "sqlite://",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }
    return create_app(config)


@pytest.fixture(scope="module")
def route_app() -> Iterator[Flask]:
    """An app for reading the url_map (its in-memory database is never opened)."""
    app = _route_listing_app()
    yield app
    app.extensions["db_engine"].dispose()


@functools.cache
def staff_routes() -> list[tuple[str, str, str]]:
    """(endpoint, rule, method) for every GET and POST of every rule under /staff.

    Made once, when first asked for (collection parametrizes with it), never at import.
    """
    app = _route_listing_app()
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule == "/staff" or rule.rule.startswith("/staff/"):
            for method in (rule.methods or set()) & {"GET", "POST"}:
                routes.add((rule.endpoint, rule.rule, method))
    app.extensions["db_engine"].dispose()
    return sorted(routes)


def post_routes(app: Flask) -> set[str]:
    """Every endpoint of the whole app that accepts POST."""
    return {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())}


def fill(rule: str, values: dict[str, object]) -> str:
    """The URL of `rule` with its arguments (`<int:user_id>`) taken from `values`."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            pytest.fail(f"no test value for URL argument <{name}> of {rule}: add one")
        value = values[name]
        return str(value[rule] if isinstance(value, dict) else value)

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, rule)
