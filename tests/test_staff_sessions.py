"""Staff sessions and the second factor through the real pages: renewed at sign-in, ended by
sign-out, time-outs and password changes; TOTP codes used once, set up and reset.
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from survey.accounts.secrets import unseal
from survey.accounts.users import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT
from survey.models import StaffSession, StaffUser, utcnow
from tests.pages import field_error, soup, text_of
from tests.security_helpers import (
    COOKIE,
    NEW_PASSWORD,
    audit_events,
    goes_to,
)
from tests.staff_helpers import (
    HOME_URL,
    LOGIN_URL,
    MFA_URL,
    TEST_CIPHER,
    current_step,
    enrolment_page,
    enrolment_secret,
    follow_link,
    get,
    mailed_links,
    make_staff,
    post_form,
    sign_in,
    signed_in_client,
    submit_code,
    submit_password,
    totp_code,
)

# -- 2. sessions and the second factor ---------------------------------------------------------


def cookie(client) -> str:
    found = client.get_cookie(COOKIE)
    assert found is not None, "no session cookie"
    return found.value


def session_contents(app, value: str) -> dict:
    return dict(app.session_interface.get_signing_serializer(app).loads(value))


def sessions_of(db, user: StaffUser) -> int:
    db.rollback()
    db.expire_all()
    return db.scalar(select(func.count()).where(StaffSession.user_id == user.id))


def test_session_cookie_is_renewed_at_sign_in(app, client, db):
    user, password, secret = make_staff(db, "viewer")
    get(client, LOGIN_URL)
    before = cookie(client)
    anonymous = session_contents(app, before)
    assert "csrf_token" in anonymous and "_user_id" not in anonymous
    sign_in(client, user.email, password, secret)
    after = cookie(client)
    assert after != before
    signed_in = session_contents(app, after)
    assert signed_in.get("_user_id")
    # Nothing planted in the anonymous session (here: its CSRF secret) survives the sign-in.
    assert signed_in.get("csrf_token") != anonymous["csrf_token"]
    assert "pending_user" not in signed_in


def test_a_copied_cookie_stops_working_at_sign_out(app, client, db):
    user, password, secret = make_staff(db, "viewer")
    sign_in(client, user.email, password, secret)
    stolen = cookie(client)
    thief = app.test_client()
    thief.set_cookie(COOKIE, stolen)
    assert get(thief, HOME_URL).status_code == 200  # the copy works while the session lives

    assert goes_to(post_form(client, "/staff/logout", {}, page_url=HOME_URL), LOGIN_URL)
    replay = app.test_client()
    replay.set_cookie(COOKIE, stolen)
    assert goes_to(get(replay, HOME_URL), LOGIN_URL)
    assert goes_to(get(thief, HOME_URL), LOGIN_URL)
    assert sessions_of(db, user) == 0


@pytest.mark.parametrize(
    ("column", "age", "still_signed_in"),
    [
        ("last_seen_at", IDLE_TIMEOUT - timedelta(minutes=1), True),
        ("last_seen_at", IDLE_TIMEOUT + timedelta(minutes=1), False),
        ("created_at", ABSOLUTE_TIMEOUT - timedelta(minutes=1), True),
        ("created_at", ABSOLUTE_TIMEOUT + timedelta(minutes=1), False),
    ],
)
def test_idle_and_absolute_timeouts_end_the_session(client, db, column, age, still_signed_in):
    user, password, secret = make_staff(db, "viewer")
    sign_in(client, user.email, password, secret)
    db.execute(
        update(StaffSession).where(StaffSession.user_id == user.id).values({column: utcnow() - age})
    )
    db.commit()
    answer = get(client, HOME_URL)
    if still_signed_in:
        assert answer.status_code == 200
        assert sessions_of(db, user) == 1
    else:
        assert goes_to(answer, LOGIN_URL)
        assert sessions_of(db, user) == 0


def test_a_totp_code_works_once(client, db):
    user, password, secret = make_staff(db, "viewer")
    step = current_step()
    code = totp_code(secret, step)
    assert goes_to(submit_password(client, user.email, password), MFA_URL)
    assert goes_to(submit_code(client, code), HOME_URL)
    assert goes_to(post_form(client, "/staff/logout", {}, page_url=HOME_URL), LOGIN_URL)

    assert goes_to(submit_password(client, user.email, password), MFA_URL)
    replayed = submit_code(client, code)
    assert replayed.status_code == 400
    assert field_error(replayed.get_data(as_text=True), "code") == (
        "Fout: Deze code klopt niet. Wacht op een nieuwe code en probeer het opnieuw."
    )
    assert goes_to(get(client, HOME_URL), LOGIN_URL)
    assert goes_to(submit_code(client, totp_code(secret, step + 1)), HOME_URL)
    assert len(audit_events(db, "sign-in")) == 2


def test_a_wrong_code_is_refused_and_audited(client, db):
    user, password, secret = make_staff(db, "viewer")
    step = current_step()
    valid = {totp_code(secret, s) for s in range(step - 2, step + 3)}
    wrong = next(c for c in (f"{n}" * 6 for n in range(10)) if c not in valid)
    assert goes_to(submit_password(client, user.email, password), MFA_URL)
    answer = submit_code(client, wrong)
    assert answer.status_code == 400
    assert field_error(answer.get_data(as_text=True), "code")
    assert goes_to(get(client, HOME_URL), LOGIN_URL)
    events = audit_events(db, "sign-in failed")
    assert [(e.actor_email, e.detail) for e in events] == [(user.email, "wrong code")]
    assert audit_events(db, "sign-in") == []


def test_the_second_step_cannot_be_skipped(app, client, db):
    user, password, _ = make_staff(db, "admin")
    assert goes_to(submit_password(client, user.email, password), MFA_URL)
    for path in (HOME_URL, "/staff/admin/users", "/staff/admin/audit", "/staff/password"):
        assert goes_to(get(client, path), LOGIN_URL), path
    assert "_user_id" not in session_contents(app, cookie(client))
    assert get(client, MFA_URL).status_code == 200  # still waiting for the code
    assert sessions_of(db, user) == 0


def test_setting_up_the_authenticator_shows_a_qr_code_and_the_key(client, db):
    user, password, _ = make_staff(db, "quality", with_totp=False)
    page = enrolment_page(client, user.email, password)
    qr = soup(page).find("img", class_="qr")
    assert qr and qr["src"].startswith("data:image/svg+xml;base64,"), "no QR code image"
    svg = base64.b64decode(qr["src"].removeprefix("data:image/svg+xml;base64,")).decode("utf-8")
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg[:300], svg[:300]
    secret = enrolment_secret(page)
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert enrolment_secret(get(client, MFA_URL).get_data(as_text=True)) == secret
    db.expire_all()
    assert db.get(StaffUser, user.id).totp_secret is None  # not before the code proves it

    assert goes_to(submit_code(client, totp_code(secret)), HOME_URL)
    db.rollback()
    db.expire_all()
    stored = db.get(StaffUser, user.id).totp_secret
    assert secret not in stored and unseal(stored, TEST_CIPHER) == secret  # sealed at rest
    assert [e.actor_email for e in audit_events(db, "mfa set up")] == [user.email]


def test_admin_reset_of_the_authenticator_means_setting_it_up_again(app, db):
    admin_client, _ = signed_in_client(app, db, "admin")
    user, password, old_secret = make_staff(db, "viewer")
    user_client = sign_in(app.test_client(), user.email, password, old_secret)
    answer = post_form(
        admin_client,
        f"/staff/admin/users/{user.id}",
        {"action": "reset_mfa", "role": "viewer"},
        page_url="/staff/admin/users",
    )
    assert goes_to(answer, "/staff/admin/users")
    assert goes_to(get(user_client, HOME_URL), LOGIN_URL)
    assert len(audit_events(db, "user reset mfa")) == 1

    # Whoever knows the password cannot register an authenticator with it alone: the set-up
    # needs the link that goes to the account's own address.
    thief = app.test_client()
    assert goes_to(submit_password(thief, user.email, password), MFA_URL)
    told = get(thief, MFA_URL).get_data(as_text=True)
    assert "img" not in str(soup(told).find("main")) and '<code class="secret">' not in told
    assert "link gestuurd naar het e-mailadres van uw account" in text_of(told)
    assert len(mailed_links(app, user.email)) == 1
    assert get(thief, MFA_URL).headers["Location"].endswith(LOGIN_URL)  # nothing pending
    # A second try within minutes sends no second mail.
    submit_password(thief, user.email, password)
    get(thief, MFA_URL)
    assert len(mailed_links(app, user.email)) == 1

    again = app.test_client()
    page = enrolment_page(again, user.email, password)
    assert 'src="data:image/svg+xml;base64,' in page
    new_secret = enrolment_secret(page)
    assert new_secret != old_secret
    assert submit_code(again, totp_code(old_secret)).status_code == 400
    assert goes_to(submit_code(again, totp_code(new_secret)), HOME_URL)
    # The link is used up: opened again, it says so.
    used = follow_link(app.test_client(), mailed_links(app, user.email)[-1])
    assert used.status_code == 410
    assert "Deze link is al gebruikt" in text_of(used.get_data(as_text=True))


def test_changing_the_password_ends_the_other_sessions(app, db):
    user, password, secret = make_staff(db, "viewer")
    laptop = sign_in(app.test_client(), user.email, password, secret)
    phone = sign_in(app.test_client(), user.email, password, secret)
    assert sessions_of(db, user) == 2
    answer = post_form(laptop, "/staff/password", {"current": password, "new": NEW_PASSWORD})
    assert goes_to(answer, LOGIN_URL)
    assert goes_to(get(phone, HOME_URL), LOGIN_URL)
    assert goes_to(get(laptop, HOME_URL), LOGIN_URL)
    assert sessions_of(db, user) == 0
    assert submit_password(app.test_client(), user.email, password).status_code == 401
    sign_in(app.test_client(), user.email, NEW_PASSWORD, secret)
