"""Staff accounts: made on the admin page and with `ervaringswijzer users create`, changed, ended.

Requests go through `tests.staff_helpers` (a fresh application context per request).
"""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY
from flask import Flask
from sqlalchemy import func, select

from survey.accounts import passwords
from survey.models import AuditEvent, StaffSession, StaffUser
from tests.admin_pages import (
    STRONG_PASSWORD,
    _admin,
    audit_events,
    new_account,
    update,
)
from tests.pages import field_error
from tests.staff_helpers import (
    HOME_URL,
    MFA_URL,
    database,
    enrolment_page,
    enrolment_secret,
    fast_hashing,  # noqa: F401  (the fixture)
    follow_link,
    get,
    login_redirect,
    mailed_links,
    make_staff,
    post_form,
    sign_in,
    signed_in_client,
    submit_code,
    submit_password,
    totp_code,
)

PRODUCTION_HASHER = passwords._hasher  # before `fast_hashing` swaps it


def test_admin_creates_an_account_that_can_sign_in(app: Flask) -> None:
    admin = _admin(app)
    answer = new_account(admin, "Nieuw.Lid@Example.org")
    assert answer.status_code == 302
    with database(app) as db:
        user = db.scalars(select(StaffUser).where(StaffUser.email == "nieuw.lid@example.org")).one()
        assert (user.role, user.active, user.totp_secret) == ("quality", True, None)
        assert user.password_hash.startswith("$argon2id$")  # a hash of nothing anyone knows
    assert "nieuw.lid@example.org" in get(admin, "/staff/admin/users").text
    created = [event for event in audit_events(app) if event.action == "user created"]
    assert [(event.object_type, event.object_id) for event in created] == [("user", str(user.id))]
    # The invitation mailed to the address: the colleague chooses the password, then enrols.
    [link] = mailed_links(app, "nieuw.lid@example.org")
    colleague = app.test_client()
    follow_link(colleague, link)
    chosen = post_form(
        colleague,
        "/staff/account/password",
        {"new": STRONG_PASSWORD, "repeat": STRONG_PASSWORD},
    )
    assert chosen.headers["Location"].endswith(MFA_URL)
    secret = enrolment_secret(get(colleague, MFA_URL).text)
    assert submit_code(colleague, totp_code(secret)).headers["Location"].endswith(HOME_URL)
    sign_in(app.test_client(), "nieuw.lid@example.org", STRONG_PASSWORD, secret)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("kort maar 1", "Gebruik minstens 12 tekens."),
        ("qwerty123456", "Dit wachtwoord wordt te vaak gebruikt. Kies een ander wachtwoord."),
        ("x" * 129, "Gebruik hoogstens 128 tekens."),
    ],
    ids=["too-short", "common", "too-long"],
)
def test_weak_password_is_refused_next_to_the_field(app: Flask, password: str, message: str):
    admin = _admin(app)
    assert new_account(admin, "nieuw@example.org").status_code == 302
    colleague = app.test_client()
    follow_link(colleague, mailed_links(app, "nieuw@example.org")[0])
    data = {"new": password, "repeat": password}
    answer = post_form(colleague, "/staff/account/password", data)
    assert answer.status_code == 400
    assert field_error(answer.text, "new") == f"Fout: {message}"
    # Nothing was used up: the right password still goes through.
    strong = {"new": STRONG_PASSWORD, "repeat": STRONG_PASSWORD}
    assert post_form(colleague, "/staff/account/password", strong).status_code == 302


def test_duplicate_email_is_refused_next_to_the_field(app: Flask) -> None:
    admin, user = signed_in_client(app, None, "admin")
    answer = new_account(admin, user.email.upper())
    assert answer.status_code == 400
    assert "Er is al een account met dit e-mailadres." in (field_error(answer.text, "email") or "")
    with database(app) as db:
        assert db.scalar(select(func.count(StaffUser.id))) == 1


def test_role_change_takes_effect_and_ends_the_users_sessions(app: Flask) -> None:
    admin = _admin(app)
    with database(app) as db:
        user, password, secret = make_staff(db, "viewer")
    colleague = sign_in(app.test_client(), user.email, password, secret)
    assert get(colleague, "/staff/admin/users").status_code == 403
    assert update(admin, user.id, "set_role", "admin").status_code == 302
    assert login_redirect(get(colleague, HOME_URL))
    sign_in(colleague, user.email, password, secret)
    assert get(colleague, "/staff/admin/users").status_code == 200


def test_deactivation_ends_the_users_sessions_and_sign_in(app: Flask) -> None:
    admin = _admin(app)
    with database(app) as db:
        user, password, secret = make_staff(db, "quality")
    colleague = sign_in(app.test_client(), user.email, password, secret)
    assert get(colleague, HOME_URL).status_code == 200
    assert update(admin, user.id, "deactivate").status_code == 302
    assert login_redirect(get(colleague, HOME_URL))
    with database(app) as db:
        assert db.scalar(select(func.count()).where(StaffSession.user_id == user.id)) == 0
    assert submit_password(app.test_client(), user.email, password).status_code == 401


def test_mfa_reset_makes_the_user_enrol_again(app: Flask) -> None:
    admin = _admin(app)
    with database(app) as db:
        user, password, secret = make_staff(db, "communications")
    colleague = sign_in(app.test_client(), user.email, password, secret)
    assert update(admin, user.id, "reset_mfa").status_code == 302
    assert login_redirect(get(colleague, HOME_URL))
    with database(app) as db:
        assert db.get(StaffUser, user.id).totp_secret is None
    fresh = app.test_client()
    assert '<code class="secret">' in enrolment_page(fresh, user.email, password)


# -- `ervaringswijzer users create` ---------------------------------------------------------------


def create_on_command_line(runner, email: str, password: str, role: str = "quality"):
    args = ["users", "create", email, "--role", role, "--password-stdin"]
    return runner.invoke(args=args, input=f"{password}\n")


def test_users_create_makes_an_account_with_an_argon2id_hash(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(passwords, "_hasher", PRODUCTION_HASHER)
    result = create_on_command_line(runner, "Kwaliteit@Example.org", STRONG_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "kwaliteit@example.org" in result.output
    with database(app) as db:
        user = db.scalars(select(StaffUser)).one()
        created = db.scalars(select(AuditEvent).where(AuditEvent.action == "user created")).one()
    assert (user.email, user.role, user.active) == ("kwaliteit@example.org", "quality", True)
    assert user.password_hash.startswith("$argon2id$")
    # argon2-cffi's default profile (RFC 9106, low memory: t=3, m=64 MiB, p=4).
    assert extract_parameters(user.password_hash) == RFC_9106_LOW_MEMORY
    assert STRONG_PASSWORD not in user.password_hash
    assert (created.object_type, created.object_id) == ("user", str(user.id))
    sign_in(app.test_client(), "kwaliteit@example.org", STRONG_PASSWORD)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("nieuw@example.org", "elf tekens!", "Password refused: use at least 12 characters."),
        ("nieuw@example.org", "a" * 129, "Password refused: use at most 128 characters."),
        ("nieuw@example.org", "Qwerty123456", "Password refused: it is on the list"),
        ("geen adres", STRONG_PASSWORD, "Account refused: not a valid email address."),
        ("BESTAAND@example.org", STRONG_PASSWORD, "Account refused: the account exists."),
    ],
    ids=["11-chars", "129-chars", "common", "bad-email", "duplicate"],
)
def test_users_create_refuses_with_exit_code_1_and_a_clear_message(
    app: Flask, runner, email: str, password: str, message: str
) -> None:
    assert create_on_command_line(runner, "bestaand@example.org", STRONG_PASSWORD).exit_code == 0
    result = create_on_command_line(runner, email, password)
    assert result.exit_code == 1
    assert message in result.stderr
    assert password not in result.output
    with database(app) as db:
        assert db.scalar(select(func.count(StaffUser.id))) == 1
