"""Passkeys as a second factor, in Chromium with the DevTools virtual authenticator (issue 20).

The app runs on a live server at http://localhost (a secure context, so WebAuthn works); the
virtual authenticator of Chrome's DevTools protocol (a CTAP2 platform authenticator with user
verification) answers the browser's `navigator.credentials` calls, so every ceremony is the
real one: options from the server, the authenticator's signature, py_webauthn's verification.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from survey.models import AuditEvent, Passkey, StaffUser
from tests.browser import chromium, screenshot
from tests.conftest import make_test_app
from tests.pages import soup, text_of
from tests.servers import free_port, live_server
from tests.staff_helpers import (
    database,
    get,
    make_staff,
    post_form,
    sign_in,
    totp_code,
)

# Chromium abandons a favicon request when a page navigates on at once; the test server
# (werkzeug's) then leaves that static file for the garbage collector. Only that is ignored.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io.FileIO name='[^']*/static/"
    ":pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def site(database_url, tmp_path):
    """The app served at http://localhost:<port>, its PUBLIC_BASE_URL (the passkeys' origin)."""
    port = free_port()
    base = f"http://localhost:{port}"
    app = make_test_app(database_url, tmp_path, PUBLIC_BASE_URL=base)
    with live_server(app, port=port):
        yield app, base
    app.extensions["db_engine"].dispose()


def with_authenticator(browser):
    """A browser context and page with a virtual platform authenticator attached."""
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return context, page, cdp, added["authenticatorId"]


def password_step(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/staff/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form[action$='/staff/login'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/staff/mfa$"))


def test_a_passkey_is_added_signs_in_and_is_removed(site, browser):
    app, base = site
    with database(app) as db:
        user, password, secret = make_staff(db, "quality")
    context, page, cdp, authenticator = with_authenticator(browser)
    try:
        password_step(page, base, user.email, password)
        assert page.query_selector("button[data-passkey]") is None  # no passkey yet
        page.fill("input[name=code]", totp_code(secret))
        page.click("form[action$='/staff/mfa'] button[type=submit]")
        page.wait_for_url(re.compile(r".*/staff/$"))
        page.click("a[href='/staff/security']")
        page.wait_for_url(re.compile(r".*/staff/security$"))
        page.fill("#passkey-name", "Werklaptop")
        page.click("button[data-passkey=add]")
        page.wait_for_selector("text=Uw passkey is toegevoegd")
        screenshot(page, "passkeys-security")
        rows = [text_of(str(tr)) for tr in soup(page.content()).select("tbody tr")]
        assert len(rows) == 1 and rows[0].startswith("Werklaptop"), rows
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert len(stored["credentials"]) == 1  # the key lives in the authenticator
        with database(app) as db:
            [key] = db.scalars(select(Passkey)).all()
            assert key.user_id == user.id and key.name == "Werklaptop"
            assert stored["credentials"][0]["privateKey"] not in str(key.public_key)

        # Signing in again: password, then the passkey instead of the code.
        page.click("form[action$='/staff/logout'] button")
        page.wait_for_url(re.compile(r".*/staff/login$"))
        password_step(page, base, user.email, password)
        screenshot(page, "passkeys-second-step")
        page.click("button[data-passkey=sign-in]")
        page.wait_for_url(re.compile(r".*/staff/$"))
        assert "Uitloggen" in page.content()
        with database(app) as db:
            events = db.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == "sign-in")
            ).all()
            assert events[-1] == "passkey"
            assert db.scalar(select(Passkey.last_used_at)) is not None

        # Removing it: the authenticator app remains, so it may go.
        page.goto(f"{base}/staff/security")
        page.click("text=Verwijder Werklaptop")
        page.wait_for_selector("text=De passkey is verwijderd")
        with database(app) as db:
            assert db.scalar(select(func.count(Passkey.id))) == 0
            removed = db.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("passkey%"))
            ).all()
        assert removed == ["passkey added", "passkey removed"]
        page.click("form[action$='/staff/logout'] button")
        page.wait_for_url(re.compile(r".*/staff/login$"))
        password_step(page, base, user.email, password)
        assert page.query_selector("button[data-passkey]") is None
    finally:
        context.close()


def test_a_passkey_of_another_account_does_not_sign_in(site, browser):
    app, base = site
    with database(app) as db:
        owner, owner_password, owner_secret = make_staff(db, "viewer")
        other, other_password, _ = make_staff(db, "viewer")
    context, page, _, _ = with_authenticator(browser)
    try:
        password_step(page, base, owner.email, owner_password)
        page.fill("input[name=code]", totp_code(owner_secret))
        page.click("form[action$='/staff/mfa'] button[type=submit]")
        page.wait_for_url(re.compile(r".*/staff/$"))
        page.goto(f"{base}/staff/security")
        page.click("button[data-passkey=add]")
        page.wait_for_selector("text=Uw passkey is toegevoegd")
        page.click("form[action$='/staff/logout'] button")
        page.wait_for_url(re.compile(r".*/staff/login$"))
        # The other account has no passkey: its second step offers none, and the owner's key,
        # pushed at the endpoint anyway, is refused.
        password_step(page, base, other.email, other_password)
        assert page.query_selector("button[data-passkey]") is None
        answer = page.evaluate(
            """async () => {
                const token = document.querySelector('input[name=csrf_token]').value;
                const r = await fetch('/staff/mfa/passkey/options', {method: 'POST',
                    headers: {'X-CSRFToken': token, 'Content-Type': 'application/json'},
                    body: '{}'});
                return r.status;
            }"""
        )
        assert answer == 400
        assert page.url.endswith("/staff/mfa")
    finally:
        context.close()


def test_the_last_second_factor_cannot_be_removed(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, REQUIRE_MFA=False)
    with database(app) as db:
        user, password, _ = make_staff(db, "viewer", with_totp=False)
        db.add(
            Passkey(user_id=user.id, credential_id=b"\x01" * 16, public_key=b"k", name="Sleutel")
        )
        db.commit()
        key_id = db.scalar(select(Passkey.id))
    client = sign_in(app.test_client(), user.email, password)
    answer = post_form(client, f"/staff/security/passkeys/{key_id}/remove", {}, "/staff/security")
    assert answer.status_code == 302
    page = get(client, "/staff/security").get_data(as_text=True)
    assert "Dit is uw enige tweede factor" in text_of(page)
    with database(app) as db:
        assert db.scalar(select(func.count(Passkey.id))) == 1
        assert db.get(StaffUser, user.id).totp_secret is None
    app.extensions["db_engine"].dispose()


def test_a_second_factor_reset_removes_the_passkeys_too(app, db):
    from survey.accounts.users import update_user

    user = make_staff(db, "viewer")[0]
    admin = make_staff(db, "admin")[0]
    db.add(Passkey(user_id=user.id, credential_id=b"\x04" * 16, public_key=b"k", name="Kwijt"))
    db.commit()
    update_user(db, user, "reset_mfa", by=admin)  # the phone with both was lost
    db.commit()
    assert db.scalar(select(func.count(Passkey.id))) == 0
    assert db.get(StaffUser, user.id).totp_secret is None


def test_a_ceremonys_challenge_is_answered_once(app, db):
    from datetime import timedelta

    from survey.accounts.passkeys import PasskeyRefused, keep_challenge, take_challenge
    from survey.models import utcnow

    user = make_staff(db, "viewer")[0]
    keep_challenge(user, b"uitdaging-1234567890", utcnow())
    db.commit()
    assert take_challenge(db, user, utcnow()) == b"uitdaging-1234567890"
    db.commit()
    with pytest.raises(PasskeyRefused):  # the same answer again (a replayed request)
        take_challenge(db, user, utcnow())
    keep_challenge(user, b"te-oud-1234567890", utcnow() - timedelta(minutes=6))
    db.commit()
    with pytest.raises(PasskeyRefused):  # older than five minutes
        take_challenge(db, user, utcnow())
