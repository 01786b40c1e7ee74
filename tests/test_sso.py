"""Single sign-on against a real OpenID Connect provider (issue 20).

The provider is the certified `oidc-provider` package from npm, on Node.js, started here
(tests/oidc/provider.mjs). The app runs on a live server; a `requests` session plays the browser
across both, so every redirect, cookie, PKCE verifier, state and nonce is real. To show that
the app checks the ID token itself, two attacks swap the token response for another genuine
token of the same provider: one issued to another client (wrong audience), one issued in another
sign-in (wrong nonce).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy import select

from survey.models import AuditEvent, StaffSession
from tests.conftest import make_test_app, service_missing
from tests.pages import csrf_token, soup, text_of
from tests.servers import free_port, live_server
from tests.staff_helpers import (
    database,
    enrolment_secret,
    mailed_links,
    make_staff,
    totp_code,
)

OIDC_DIR = Path(__file__).parent / "oidc"
CLIENT_ID = "ervaringswijzer"
CLIENT_SECRET = "een-geheim-van-de-test-client-0123456789"
OTHER_CLIENT = "een-andere-app"
ACCOUNTS = {
    "kwaliteit": {"email": "Kwaliteit@Zorgaanbieder.example.org", "email_verified": True},
    "beheer-mfa": {
        "email": "beheer@zorgaanbieder.example.org",
        "email_verified": True,
        "amr": ["pwd", "mfa"],
    },
    "onbekend": {"email": "onbekend@zorgaanbieder.example.org", "email_verified": True},
    # The same mailbox, later given to someone else at the organisation (another subject).
    "opvolger": {
        "email": "beheer@zorgaanbieder.example.org",
        "email_verified": True,
        "amr": ["pwd", "mfa"],
    },
    "niet-bevestigd": {"email": "kijker@zorgaanbieder.example.org", "email_verified": False},
}


@dataclass
class Provider:
    url: str
    app_port: int


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    """The OpenID Connect provider on a free port, with our client and another app's."""
    node = shutil.which("node")
    if node is None:
        service_missing("Node.js is not installed: the single sign-on tests need it")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        service_missing("tests/oidc has no node_modules: run `npm ci --prefix tests/oidc`")
    port, app_port = free_port(), free_port()
    clients = [
        {
            "client_id": client_id,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"http://127.0.0.1:{app_port}/staff/sso/callback"],
        }
        for client_id in (CLIENT_ID, OTHER_CLIENT)
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PORT": str(port),
        "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
        "OIDC_CLIENTS": json.dumps(clients),
    }
    process = subprocess.Popen(
        [node, str(OIDC_DIR / "provider.mjs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{url}/.well-known/openid-configuration", timeout=2)
                break
            except requests.ConnectionError:
                if process.poll() is not None:
                    pytest.fail(f"the OIDC provider stopped: {process.stdout.read()}")
                time.sleep(0.2)
        else:
            pytest.fail("the OIDC provider did not start within 30 s")
        yield Provider(url, app_port)
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture
def sso_app(provider, database_url, tmp_path):
    """The app with single sign-on, served on the port the provider knows as its callback."""
    app = make_test_app(
        database_url,
        tmp_path,
        OIDC_ISSUER=provider.url,
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET=CLIENT_SECRET,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{provider.app_port}",
    )
    with live_server(app, port=provider.app_port) as base:
        yield app, base
    app.extensions["db_engine"].dispose()


def browse(browser: requests.Session, url: str, stop_at: str | None = None) -> requests.Response:
    """Follow redirects by hand (as a browser does) until a page, or until `stop_at` is next."""
    answer = browser.get(url, allow_redirects=False, timeout=10)
    while answer.status_code in (301, 302, 303, 307):
        url = urljoin(url, answer.headers["Location"])
        if stop_at and url.startswith(stop_at):
            answer.url = url
            return answer
        answer = browser.get(url, allow_redirects=False, timeout=10)
    return answer


def sign_in_at_the_organisation(browser, start: str, login: str, stop_at: str | None = None):
    """Start at `start`, type `login` on the provider's page; the answer after the redirects."""
    form_page = browse(browser, start)
    assert "/interaction/" in form_page.url, form_page.text[:300]
    form = soup(form_page.text).find("form")
    answer = browser.post(
        urljoin(form_page.url, form["action"]),
        data={"login": login},
        allow_redirects=False,
        timeout=10,
    )
    return browse(browser, urljoin(form_page.url, answer.headers["Location"]), stop_at)


def events(app, action: str) -> list[AuditEvent]:
    with database(app) as db:
        found = db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        db.expunge_all()
        return list(found)


def test_a_known_address_signs_in_with_its_role_and_the_organisations_mfa(sso_app):
    app, base = sso_app
    with database(app) as db:
        admin, _, _ = make_staff(db, "admin", email="beheer@zorgaanbieder.example.org")
    browser = requests.Session()
    login_page = browse(browser, f"{base}/staff/login")
    button = soup(login_page.text).find("a", href="/staff/sso")
    assert text_of(str(button)) == "Inloggen met uw organisatie"
    home = sign_in_at_the_organisation(browser, f"{base}/staff/sso", "beheer-mfa")
    assert home.url == f"{base}/staff/", home.url
    assert "Accounts" in text_of(home.text) or "accounts" in text_of(home.text)
    assert browse(browser, f"{base}/staff/admin/users").status_code == 200  # the admin's role
    [event] = events(app, "sign-in")
    assert (event.actor_email, event.detail) == (
        admin.email,
        "single sign-on, multi-factor at the organisation",
    )


def test_without_the_organisations_mfa_the_app_asks_its_own_code(sso_app):
    app, base = sso_app
    with database(app) as db:
        _, _, secret = make_staff(db, "quality", email="kwaliteit@zorgaanbieder.example.org")
    browser = requests.Session()
    second = sign_in_at_the_organisation(browser, f"{base}/staff/sso", "kwaliteit")
    assert second.url == f"{base}/staff/mfa", second.url
    assert browse(browser, f"{base}/staff/dashboard/").url.endswith("/staff/login")
    token = csrf_token(second.text)
    done = browser.post(
        f"{base}/staff/mfa",
        data={"csrf_token": token, "code": totp_code(secret)},
        allow_redirects=False,
        timeout=10,
    )
    assert done.headers["Location"].endswith("/staff/")
    page = browse(browser, f"{base}/staff/dashboard/")
    assert page.status_code == 200 and "Respons" in text_of(page.text)
    assert browse(browser, f"{base}/staff/admin/users").status_code == 403  # a quality officer


def test_without_an_authenticator_the_organisations_password_alone_registers_none(sso_app):
    app, base = sso_app
    with database(app) as db:
        make_staff(db, "quality", email="kwaliteit@zorgaanbieder.example.org", with_totp=False)
    browser = requests.Session()
    told = sign_in_at_the_organisation(browser, f"{base}/staff/sso", "kwaliteit")
    assert told.url == f"{base}/staff/mfa"
    assert "Kijk in uw e-mail" in text_of(told.text)
    assert '<code class="secret">' not in told.text
    [link] = mailed_links(app, "kwaliteit@zorgaanbieder.example.org")
    assert browse(browser, link).url == f"{base}/staff/login"
    # Through the organisation again (its session is still open: no form this time).
    setup = browse(browser, f"{base}/staff/sso")
    secret = enrolment_secret(setup.text)
    done = browser.post(
        f"{base}/staff/mfa",
        data={"csrf_token": csrf_token(setup.text), "code": totp_code(secret)},
        allow_redirects=False,
        timeout=10,
    )
    assert done.headers["Location"].endswith("/staff/")


def test_the_account_stays_with_the_identity_that_signed_in_first(sso_app):
    app, base = sso_app
    with database(app) as db:
        make_staff(db, "admin", email="beheer@zorgaanbieder.example.org")
    first = sign_in_at_the_organisation(requests.Session(), f"{base}/staff/sso", "beheer-mfa")
    assert first.url == f"{base}/staff/"
    later = sign_in_at_the_organisation(requests.Session(), f"{base}/staff/sso", "opvolger")
    assert later.status_code == 403
    assert "hoort bij een andere identiteit" in text_of(later.text)
    details = [e.detail for e in events(app, "single sign-on refused")]
    assert details == ["another identity than the account's own"]


def test_an_unknown_or_unverified_identity_gets_nothing_and_is_audited(sso_app):
    app, base = sso_app
    with database(app) as db:
        make_staff(db, "viewer", email="kijker@zorgaanbieder.example.org")
        sessions_before = len(db.scalars(select(StaffSession)).all())
    for login in ("onbekend", "niet-bevestigd"):
        browser = requests.Session()
        page = sign_in_at_the_organisation(browser, f"{base}/staff/sso", login)
        assert page.status_code == 403
        assert "Inloggen via uw organisatie lukte niet" in text_of(page.text)
        assert browse(browser, f"{base}/staff/").url.endswith("/staff/login")
    with database(app) as db:
        assert len(db.scalars(select(StaffSession)).all()) == sessions_before
    refused = events(app, "single sign-on refused")
    assert [e.detail for e in refused] == [
        "no active account for this identity",
        "no verified email",
    ]
    assert not any("onbekend" in f"{e.actor_email} {e.detail}" for e in refused)


def test_a_replayed_state_is_refused(sso_app):
    app, base = sso_app
    with database(app) as db:
        make_staff(db, "admin", email="beheer@zorgaanbieder.example.org")
    browser = requests.Session()
    callback = sign_in_at_the_organisation(
        browser, f"{base}/staff/sso", "beheer-mfa", stop_at=f"{base}/staff/sso/callback"
    )
    assert parse_qs(urlsplit(callback.url).query)["state"]
    first = browser.get(callback.url, allow_redirects=False, timeout=10)
    assert first.headers["Location"].endswith("/staff/")
    # The same callback again (a replayed state and code), in the same browser and in another.
    for replayer in (browser, requests.Session()):
        again = replayer.get(callback.url, allow_redirects=False, timeout=10)
        assert again.status_code == 400
        assert "Inloggen via uw organisatie lukte niet" in text_of(again.text)
    details = [e.detail for e in events(app, "single sign-on refused")]
    assert details == ["token refused (MismatchingStateError)"] * 2


def other_token(provider: Provider, client_id: str, login: str, nonce: str) -> str:
    """A genuine ID token of the provider, for `client_id`, from a sign-in of its own."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    callback = f"http://127.0.0.1:{provider.app_port}/staff/sso/callback"
    query = urlencode(
        {
            "client_id": client_id,
            "response_type": "code",
            "scope": "openid email",
            "redirect_uri": callback,
            "state": secrets.token_urlsafe(16),
            "nonce": nonce,
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        }
    )
    browser = requests.Session()
    back = sign_in_at_the_organisation(
        browser, f"{provider.url}/auth?{query}", login, stop_at=callback
    )
    code = parse_qs(urlsplit(back.url).query)["code"][0]
    token = requests.post(
        f"{provider.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback,
            "code_verifier": verifier,
        },
        auth=(client_id, CLIENT_SECRET),
        timeout=10,
    )
    token.raise_for_status()
    return token.json()["id_token"]


@pytest.mark.parametrize(
    ("swap", "check"),
    [("another client", "aud"), ("another sign-in", "nonce")],
    ids=["wrong-audience", "wrong-nonce"],
)
def test_a_genuine_token_for_another_client_or_sign_in_is_refused(
    sso_app, provider, monkeypatch, swap, check
):
    app, base = sso_app
    with database(app) as db:
        make_staff(db, "admin", email="beheer@zorgaanbieder.example.org")
    browser = requests.Session()
    # The app's own sign-in starts: its redirect to the provider carries its nonce.
    at_provider = browse(browser, f"{base}/staff/sso", stop_at=provider.url)
    nonce = parse_qs(urlsplit(at_provider.url).query)["nonce"][0]
    if swap == "another client":  # the right nonce, issued to another app
        foreign = other_token(provider, OTHER_CLIENT, "beheer-mfa", nonce=nonce)
    else:  # our app, but from another sign-in (another nonce)
        foreign = other_token(provider, CLIENT_ID, "beheer-mfa", nonce=secrets.token_urlsafe(16))
    real_fetch = OAuth2Session.fetch_token

    def swapped(self, *args, **kwargs):
        token = real_fetch(self, *args, **kwargs)
        token["id_token"] = foreign  # what a man in the middle of the token response would do
        return token

    monkeypatch.setattr(OAuth2Session, "fetch_token", swapped)
    page = sign_in_at_the_organisation(browser, at_provider.url, "beheer-mfa")
    assert page.status_code == 400, page.url
    assert "Inloggen via uw organisatie lukte niet" in text_of(page.text)
    assert browse(browser, f"{base}/staff/").url.endswith("/staff/login")
    [event] = events(app, "single sign-on refused")
    assert event.detail == f"token refused (InvalidClaimError: {check})"
    assert events(app, "sign-in") == []
