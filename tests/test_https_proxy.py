"""Behind a TLS-terminating proxy: CSRF, Referer and cookies as a browser meets them over https.

The app is built as production builds it (environment only, `TRUSTED_PROXIES=1`, an https
`PUBLIC_BASE_URL`) and every request arrives as nginx forwards it: plain http from 127.0.0.1 with
`X-Forwarded-Proto: https`. The headers a browser sends are spelled out per case: Chromium sends
`Origin` and `Sec-Fetch-Site` with every form POST, no Referer from pages with
`Referrer-Policy: no-referrer`, and `Origin: null` from those pages.
The real-browser run through nginx is tests/test_production_stack.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select
from werkzeug.test import TestResponse

from survey import create_app
from survey.db import Base
from survey.models import Invitation, Response
from survey.web.limits import limiter
from tests.conftest import TEST_MFA_KEY
from tests.factories import make_invited
from tests.pages import csrf_token
from tests.staff_helpers import LOGIN_URL, MFA_URL, database, make_staff

HOST = "ervaringswijzer.example.org"
ORIGIN = f"https://{HOST}"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
CHROMIUM_SAME_ORIGIN = {"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
CHROMIUM_FROM_TOKEN_PAGE = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
EVIL = "https://evil.example"
FORGERIES = {
    "other origin": {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    "other origin, old browser": {"Origin": EVIL},
    "no-referrer page elsewhere": {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    "sibling host": {"Origin": f"https://www.{HOST}", "Sec-Fetch-Site": "same-site"},
    "other referer": {"Referer": f"{EVIL}/form"},
    "malformed origin": {"Origin": f"https://{HOST}:99999"},
    "malformed referer": {"Referer": f"https://{HOST}:abc/staff/login"},
}


@pytest.fixture
def proxied_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Flask]:
    """The production app behind one proxy, on a fresh SQLite database."""
    for name in ("ERVARINGSWIJZER_DEMO", "FLASK_DEBUG", "TESTING", "REQUIRE_MFA", "SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'proxied.db'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "9c" * 32)
    monkeypatch.setenv("MFA_ENCRYPTION_KEY", TEST_MFA_KEY)
    monkeypatch.setenv("PUBLIC_BASE_URL", ORIGIN)
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    monkeypatch.setenv("MAIL_FILE_DIR", str(tmp_path / "outbox"))
    app = create_app()
    limiter.reset()
    yield app
    app.extensions["db_engine"].dispose()


def through_proxy(
    client: FlaskClient, method: str, url: str, headers: dict[str, str] | None = None, **kw: object
) -> TestResponse:
    """A request as nginx forwards it: http to the app, https to the browser."""
    with client.application.app_context():
        return client.open(
            url,
            method=method,
            base_url=f"http://{HOST}",
            headers={**FORWARDED, **(headers or {})},
            **kw,
        )


def sign_in_form(client: FlaskClient) -> dict[str, str]:
    page = through_proxy(client, "GET", LOGIN_URL)
    assert page.status_code == 200
    return {"csrf_token": csrf_token(page.text)}


@pytest.fixture
def staff_account(proxied_app: Flask) -> tuple[str, str]:
    with database(proxied_app) as db:
        user, password, _ = make_staff(db, "quality")
    return user.email, password


def test_staff_sign_in_over_https_works_without_a_referer(proxied_app, staff_account):
    """Chromium on the sign-in page (Referrer-Policy same-origin) posts Origin, not always a
    Referer; with privacy settings it sends no Referer at all. Both sign in."""
    email, password = staff_account
    for headers in (CHROMIUM_SAME_ORIGIN, {"Origin": ORIGIN}, {"Referer": f"{ORIGIN}/staff/"}):
        client = proxied_app.test_client()
        form = sign_in_form(client) | {"email": email, "password": password}
        answer = through_proxy(client, "POST", LOGIN_URL, headers, data=form)
        assert answer.status_code == 302, (headers, answer.status_code)
        assert answer.headers["Location"].endswith(MFA_URL)


def test_a_post_over_https_that_names_no_origin_at_all_is_refused(proxied_app, staff_account):
    """As strict as Flask-WTF's https Referer check was: a form of ours always says where it
    came from; a request that says nothing is not taken on trust."""
    email, password = staff_account
    client = proxied_app.test_client()
    form = sign_in_form(client) | {"email": email, "password": password}
    answer = through_proxy(client, "POST", LOGIN_URL, data=form)
    assert answer.status_code == 400
    assert "Er ging iets mis met het verzoek" in answer.text
    assert through_proxy(client, "GET", MFA_URL).status_code == 302  # not half signed in


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_cross_site_sign_in_post_is_refused_even_with_a_valid_token(
    proxied_app, staff_account, forgery
):
    email, password = staff_account
    client = proxied_app.test_client()
    form = sign_in_form(client) | {"email": email, "password": password}
    answer = through_proxy(client, "POST", LOGIN_URL, FORGERIES[forgery], data=form)
    assert answer.status_code == 400, answer.status_code
    assert "Er ging iets mis met het verzoek" in answer.text
    assert through_proxy(client, "GET", MFA_URL).status_code == 302  # no sign-in step passed


def survey_answer(page: TestResponse) -> dict[str, str]:
    return {"csrf_token": csrf_token(page.text), "self_direction": "8", "usefulness": "7"}


@pytest.fixture
def survey_link(proxied_app: Flask) -> tuple[str, int]:
    with database(proxied_app) as db:
        invitation, token = make_invited(db)
        return f"/s/{token}", invitation.id


def stored(app: Flask, invitation_id: int) -> tuple[bool, int]:
    with database(app) as db:
        answered = db.get(Invitation, invitation_id).responded_at is not None
        return answered, len(db.scalars(select(Response.id)).all())


def test_a_family_answers_over_https_from_its_no_referrer_page(proxied_app, survey_link):
    url, invitation_id = survey_link
    client = proxied_app.test_client()
    page = through_proxy(client, "GET", url)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    posted = through_proxy(client, "POST", url, CHROMIUM_FROM_TOKEN_PAGE, data=survey_answer(page))
    assert posted.status_code == 302
    assert not posted.headers["Location"].startswith("http:")  # never back to plain http
    assert stored(proxied_app, invitation_id) == (True, 1)


def test_a_family_on_an_old_browser_without_fetch_metadata_can_answer(proxied_app, survey_link):
    url, invitation_id = survey_link
    client = proxied_app.test_client()
    page = through_proxy(client, "GET", url)
    posted = through_proxy(client, "POST", url, {"Origin": "null"}, data=survey_answer(page))
    assert posted.status_code == 302
    assert stored(proxied_app, invitation_id) == (True, 1)


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_cross_site_survey_post_stores_nothing(proxied_app, survey_link, forgery):
    url, invitation_id = survey_link
    client = proxied_app.test_client()
    page = through_proxy(client, "GET", url)
    posted = through_proxy(client, "POST", url, FORGERIES[forgery], data=survey_answer(page))
    assert posted.status_code == 400
    assert stored(proxied_app, invitation_id) == (False, 0)


def test_referrer_policy_hides_token_urls_and_tells_only_our_own_origin_elsewhere(
    proxied_app, survey_link
):
    url, _ = survey_link
    client = proxied_app.test_client()
    policies = {
        path: through_proxy(client, "GET", path).headers["Referrer-Policy"]
        for path in (url, "/afmelden/unknown-token-123456", LOGIN_URL, "/", "/privacy")
    }
    assert policies == {
        url: "no-referrer",
        "/afmelden/unknown-token-123456": "no-referrer",
        LOGIN_URL: "same-origin",
        "/": "same-origin",
        "/privacy": "same-origin",
    }


def test_on_https_the_session_cookie_is_secure_and_host_prefixed(proxied_app, staff_account):
    email, password = staff_account
    client = proxied_app.test_client()
    form = sign_in_form(client) | {"email": email, "password": password}
    answer = through_proxy(client, "POST", LOGIN_URL, CHROMIUM_SAME_ORIGIN, data=form)
    cookies = answer.headers.getlist("Set-Cookie")
    session_cookies = [c for c in cookies if c.startswith("__Host-ervaringswijzer_session=")]
    assert len(session_cookies) == 1, cookies
    attributes = {part.strip().lower() for part in session_cookies[0].split(";")[1:]}
    assert {"secure", "httponly", "path=/", "samesite=lax"} <= attributes, attributes
    assert not any(a.startswith("domain=") for a in attributes), attributes
    assert not [c for c in cookies if c.startswith("ervaringswijzer_session=")]


def test_opt_out_and_language_switch_work_from_token_pages_on_an_old_browser(
    proxied_app, survey_link
):
    """Token pages send `Origin: null` and no Referer; without Fetch Metadata the form's own
    token is what stands behind them."""
    url, invitation_id = survey_link
    client = proxied_app.test_client()
    page = through_proxy(client, "GET", url)
    switched = through_proxy(
        client,
        "POST",
        url,
        {"Origin": "null"},
        data={"csrf_token": csrf_token(page.text), "switch_language": "en"},
    )
    assert switched.status_code == 200 and "How was the help" in switched.text
    opt_out_url = url.replace("/s/", "/afmelden/")
    opt_out_page = through_proxy(client, "GET", opt_out_url)
    assert opt_out_page.headers["Referrer-Policy"] == "no-referrer"
    done = through_proxy(
        client,
        "POST",
        opt_out_url,
        {"Origin": "null"},
        data={"csrf_token": csrf_token(opt_out_page.text)},
    )
    assert done.status_code == 200
    with database(proxied_app) as db:
        assert db.get(Invitation, invitation_id).opted_out_at is not None
