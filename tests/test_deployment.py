"""Production settings, checked like Django's `check --deploy`, on an app built as production does.

`create_app()` reads only the environment here: a SECRET_KEY, an https PUBLIC_BASE_URL, no
TESTING and no ERVARINGSWIJZER_DEMO. The checks: cookie flags (in the config and on the wire),
debug off, the refusal to start without a key, security headers on every kind of response, no
inline script or event-handler attribute on any page, and the friendly error pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select
from werkzeug.test import TestResponse

from survey import create_app
from survey.config import ConfigError
from survey.db import Base
from survey.models import AuditEvent
from survey.web.limits import limiter
from tests.conftest import TEST_MFA_KEY
from tests.factories import make_comment, make_episode, make_invited
from tests.pages import csrf_token, soup, visible
from tests.staff_helpers import (
    LOGIN_URL,
    MFA_URL,
    URL_FORMATS,
    database,
    get,
    make_staff,
    request,
    sign_in,
    signed_in_client,
    submit_password,
)

BASE_URL = "https://ervaringswijzer.example.org"
HTTPS = "https://localhost"
SETTINGS = [
    *("DATABASE_URL", "SECRET_KEY", "PUBLIC_BASE_URL", "ERVARINGSWIJZER_DEMO", "REQUIRE_MFA"),
    *("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_STARTTLS", "SMTP_TIMEOUT"),
    *("MAIL_FILE_DIR", "MAIL_FROM", "PROVIDER_NAME", "MIN_CELL_SIZE", "RATELIMIT_STORAGE_URI"),
    *("REMINDER_AFTER_DAYS", "EXPIRE_AFTER_DAYS", "PURGE_AFTER_DAYS", "INVITE_MAX_AGE_DAYS"),
    *("OUTBOX_LEASE_SECONDS", "FLASK_DEBUG", "FLASK_ENV", "TESTING", "MFA_ENCRYPTION_KEY"),
]
ERROR_HEADINGS = {
    400: ("Er ging iets mis met het verzoek", "Something was wrong with the request"),
    403: ("Geen toegang", "No access"),
    404: ("Pagina niet gevonden", "Page not found"),
    405: ("Dit kan niet op deze pagina", "This is not possible on this page"),
    413: ("Te veel tekst of een te groot bestand", "Too much text or too large a file"),
    429: ("Te veel pogingen", "Too many attempts"),
    500: ("Er ging iets mis bij ons", "Something went wrong on our side"),
}
SECRET_FAILURE = "geheim detail van jan@example.org in SELECT * FROM staff_user"


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The environment of a production server, with a fresh SQLite database."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'production.db'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    monkeypatch.setenv("SECRET_KEY", "b3f1c9" * 11)
    monkeypatch.setenv("MFA_ENCRYPTION_KEY", TEST_MFA_KEY)
    monkeypatch.setenv("PUBLIC_BASE_URL", BASE_URL)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MAIL_FILE_DIR", str(tmp_path / "outbox"))


def _boom() -> str:
    raise RuntimeError(SECRET_FAILURE)


@pytest.fixture
def production_app(production_env: None) -> Iterator[Flask]:
    app = create_app()
    app.add_url_rule("/test-only/boom", "test_only_boom", _boom)
    limiter.reset()
    yield app
    app.extensions["db_engine"].dispose()


def session_cookie_headers(response: TestResponse, name: str) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]


def test_session_cookie_is_secure_httponly_and_samesite_lax(production_app: Flask) -> None:
    config = production_app.config
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["REQUIRE_MFA"] is True
    client = production_app.test_client()
    page = get(client, LOGIN_URL, base_url=HTTPS)
    with database(production_app) as db:
        user, password, _ = make_staff(db, "admin")
    answer = submit_password(client, user.email, password)
    cookies = [
        header
        for response in (page, answer)
        for header in session_cookie_headers(response, config["SESSION_COOKIE_NAME"])
    ]
    assert len(cookies) == 2
    for header in cookies:
        flags = {part.strip().lower() for part in header.split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax"} <= flags, header


def test_flask_debug_in_a_production_environment_refuses_to_start(
    production_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError, match=r"FLASK_DEBUG.*debugger"):
        create_app()


def test_without_secret_key_the_app_refuses_to_start(
    production_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def assert_security_headers(response: TestResponse, where: str = "") -> None:
    """The headers every response needs (DESIGN §9)."""
    header = response.headers.get("Content-Security-Policy", "")
    csp = f"{header}  ({where})"
    directives = {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}
    assert directives.get("default-src") == ["'self'"], csp
    assert directives.get("frame-ancestors") == ["'none'"], csp
    assert directives.get("object-src") == ["'none'"], csp
    assert directives.get("base-uri") == ["'none'"], csp
    script_src = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    token_paths = ("/s/", "/afmelden/", "/staff/link/")
    token_url = any(path in where for path in token_paths) or where == "survey page"
    policy = "no-referrer" if token_url else "same-origin"
    assert response.headers.get("Referrer-Policy") == policy, where


@pytest.fixture
def survey_token(production_app: Flask) -> str:
    with database(production_app) as db:
        return make_invited(db)[1]


def test_every_kind_of_response_has_the_security_headers(
    production_app: Flask, survey_token: str
) -> None:
    client = production_app.test_client()
    responses = {
        "survey page": get(client, f"/s/{survey_token}"),
        "staff sign-in": get(client, LOGIN_URL),
        "404 page": get(client, "/bestaat-niet"),
        "stylesheet": get(client, "/static/site.css"),
    }
    assert [r.status_code for r in responses.values()] == [200, 200, 404, 200]
    responses["stylesheet"].close()  # a file response: let go of the file
    for name, response in responses.items():
        assert_security_headers(response, name)
    for name in ("survey page", "staff sign-in"):
        assert responses[name].headers.get("Cache-Control") == "no-store", name


def test_hsts_is_sent_over_https_only(production_app: Flask) -> None:
    client = production_app.test_client()
    secure = get(client, "/", base_url=HTTPS)
    hsts = secure.headers.get("Strict-Transport-Security", "")
    max_age = re.search(r"max-age=(\d+)", hsts)
    assert max_age and int(max_age.group(1)) >= 180 * 24 * 3600, hsts
    assert "Strict-Transport-Security" not in get(client, "/").headers


# -- every page: no inline script, no event-handler attributes ----------------------------------


def assert_clean_page(url: str, response: TestResponse) -> None:
    """Nothing the CSP would block (so nothing breaks) and nothing a CSP bypass would need."""
    assert response.headers.get("Cache-Control") == "no-store", url
    assert_security_headers(response, url)
    if not response.mimetype.startswith("text/"):
        return  # a download (XLSX): no markup to check
    elements = soup(response.get_data(as_text=True)).find_all(True)
    scripts = [e for e in elements if e.name == "script"]
    assert all(e.has_attr("src") for e in scripts), f"inline <script> on {url}"
    handlers = [(e.name, a) for e in elements for a in e.attrs if re.fullmatch(r"on[a-z]+", a)]
    assert not handlers, f"on*= attribute on {url}: {handlers}"
    urls = [str(e[a]) for e in elements for a in ("href", "src", "action") if e.has_attr(a)]
    assert not [u for u in urls if u.strip().lower().startswith("javascript:")], url
    # style-src 'self' blocks inline styles too: the page would look broken.
    assert not [e for e in elements if e.name == "style"], f"<style> element on {url}"
    assert not [e.name for e in elements if e.has_attr("style")], f"style= attribute on {url}"


def get_pages(app: Flask, values: dict[str, str]) -> list[str]:
    """Every GET route of the app as a URL, its arguments filled from `values`."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint in {"static", "test_only_boom"}:
            continue
        missing = set(rule.arguments) - set(values)
        assert not missing, f"no test value for {sorted(missing)} of {rule.rule}: add one"
        url = rule.rule
        for name in rule.arguments:
            value = values[name]
            value = value[rule.rule] if isinstance(value, dict) else value
            url = re.sub(rf"<(?:[^:<>]+:)?{name}>", value, url)
        urls.append(url)
    return sorted(urls)


# Staff link pages without a (valid) link in the session refuse with a page of their own; single
# sign-on is not configured here (tests/test_sso.py has its pages).
REFUSING_WITHOUT_A_LINK = ("/staff/link/", "/staff/account/password", "/staff/sso")


def test_no_page_has_inline_script_or_event_handlers(production_app: Flask) -> None:
    with database(production_app) as db:
        _, token = make_invited(db)
        _, youth_token = make_invited(
            db, episode=make_episode(db, youth_age=17), respondent_group="youth", language="en"
        )
        pending, pending_password, _ = make_staff(db, "viewer", with_totp=False)
        comment = make_comment(db, "Fijne hulp, dank jullie wel.")
    admin = signed_in_client(production_app, None, "admin")[0]
    anonymous = production_app.test_client()
    seen = 0
    for client in (admin, anonymous):
        values = {"token": token, "name": "trend", "fmt": URL_FORMATS, "response_id": comment}
        for url in get_pages(production_app, values):
            response = get(client, url)
            if url.startswith(REFUSING_WITHOUT_A_LINK):  # a link's page, here without a link
                assert response.status_code in (403, 404, 410), (url, response.status_code)
                assert_clean_page(url, response)
                continue
            assert response.status_code in (200, 302), (url, response.status_code)
            if response.status_code == 200:
                assert_clean_page(url, response)
                seen += 1
    assert seen >= 10
    # Pages only reached along the way: the two steps of sign-in, youth and English survey
    # pages, an opted-out and an answered link, the thank-you page and an unknown link.
    setting_up = production_app.test_client()
    assert submit_password(setting_up, pending.email, pending_password).status_code == 302
    extra = {MFA_URL: setting_up, f"/s/{youth_token}?lang=en": anonymous}
    family = production_app.test_client()
    opt_out_page = get(family, f"/afmelden/{token}")
    data = {"csrf_token": csrf_token(opt_out_page.text)}
    assert_clean_page(
        "/afmelden/ (opted out)", request(family, "POST", f"/afmelden/{token}", data=data)
    )
    for url, client in extra.items():
        response = get(client, url)
        assert response.status_code == 200, url
        assert_clean_page(url, response)
    assert_clean_page("/s/ (unknown link)", get(anonymous, "/s/onbekend-token-1234567890"))


# -- friendly error pages -----------------------------------------------------------------------


def assert_error_page(response: TestResponse, code: int) -> None:
    assert response.status_code == code
    page = response.get_data(as_text=True)
    dutch, english = ERROR_HEADINGS[code]
    nl = soup(page).find("div", lang="nl")
    en = soup(page).find("div", lang="en")
    assert nl and dutch in visible(nl), page
    assert en and english in visible(en), page
    for leak in ("Traceback", "RuntimeError", 'File "', "werkzeug", SECRET_FAILURE, "jan@"):
        assert leak not in page, f"{leak!r} on the {code} page"
    assert_security_headers(response, f"{code} page")


def sign_in_attempts(client: FlaskClient, email: str, password: str) -> TestResponse:
    token = csrf_token(get(client, LOGIN_URL).text)
    return request(
        client, "POST", LOGIN_URL, data={"csrf_token": token, "email": email, "password": password}
    )


def test_error_pages_are_friendly_in_dutch_and_english(production_app: Flask) -> None:
    client = production_app.test_client()
    with database(production_app) as db:
        user, password, secret = make_staff(db, "viewer")
    assert_error_page(request(client, "POST", LOGIN_URL, data={"email": "x"}), 400)
    assert_error_page(get(client, "/bestaat-niet"), 404)
    assert_error_page(get(client, "/staff/logout"), 405)
    too_big = {"email": "x", "password": "a" * (production_app.config["MAX_CONTENT_LENGTH"] + 1)}
    assert_error_page(request(client, "POST", LOGIN_URL, data=too_big), 413)
    assert_error_page(get(client, "/test-only/boom"), 500)

    viewer = sign_in(production_app.test_client(), user.email, password, secret)
    assert_error_page(get(viewer, "/staff/admin/users"), 403)

    limiter.reset()
    guesser = production_app.test_client()
    answers = [sign_in_attempts(guesser, user.email, "geraden wachtwoord") for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert_error_page(answers[5], 429)
    with database(production_app) as db:
        actions = list(db.scalars(select(AuditEvent.action)))
    assert "sign-in throttled" in actions
