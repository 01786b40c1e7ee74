"""Invitations, forgotten passwords and second-factor links through real emails (issue 20).

The app talks SMTP to a real server (aiosmtpd on a free port); every link is taken from the
message that server received, and opened through the real pages with their CSRF tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from survey.accounts.links import LIFETIMES
from survey.accounts.users import update_user
from survey.enums import LinkPurpose
from survey.models import AccountLink, AuditEvent, StaffSession, StaffUser
from tests.conftest import make_test_app
from tests.pages import csrf_token, field_error, soup, text_of
from tests.security_helpers import audit_events, goes_to
from tests.servers import smtp_server
from tests.staff_helpers import (
    HOME_URL,
    LOGIN_URL,
    MFA_URL,
    database,
    enrolment_secret,
    get,
    make_staff,
    post_form,
    request,
    sign_in,
    signed_in_client,
    submit_code,
    submit_password,
    totp_code,
)

NEW_PASSWORD = "fietsen langs de Eem in de herfst"
LINK = re.compile(r"https://ervaringswijzer\.test/staff/link/[A-Za-z0-9_-]+")


@pytest.fixture
def mailed(database_url, tmp_path) -> Iterator[tuple]:
    """(app, handler): the app sends through a real SMTP server; handler.received holds it."""
    with smtp_server() as (controller, handler):
        app = make_test_app(
            database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port
        )
        yield app, handler
        app.extensions["db_engine"].dispose()


def links_to(handler, address: str) -> list[str]:
    """The account links in the messages the SMTP server received for `address`."""
    found = []
    for received in handler.received:
        if received.rcpt_tos == [address]:
            found += LINK.findall(received.message.get_body(("plain",)).get_content())
    return list(dict.fromkeys(found))  # each message names its link in Dutch and in English


def open_link(client, link: str):
    return get(client, urlsplit(link).path)


PASSWORD_PAGE = "/staff/account/password"


def choose_password(client, password: str, repeat: str | None = None):
    return post_form(client, PASSWORD_PAGE, {"new": password, "repeat": repeat or password})


def post_with_token(client, page: str, data: dict):
    """POST `data` with the CSRF token of `page` as the browser got it earlier (a tab open)."""
    return request(client, "POST", PASSWORD_PAGE, data={"csrf_token": csrf_token(page), **data})


def refusal(answer) -> str:
    return text_of(str(soup(answer.get_data(as_text=True)).find("h1")))


def test_an_invitation_lets_the_colleague_choose_a_password_and_set_up_the_app(mailed):
    app, handler = mailed
    admin, _ = signed_in_client(app, None, "admin")
    answer = post_form(
        admin,
        "/staff/admin/users",
        {"email": "nieuw@zorgaanbieder.example.org", "role": "quality", "municipality": ""},
    )
    assert goes_to(answer, "/staff/admin/users")
    flashed = text_of(get(admin, "/staff/admin/users").get_data(as_text=True))
    assert "Uitnodiging gestuurd naar nieuw@zorgaanbieder.example.org" in flashed
    # The admin's form had no password field; the mail is the only way in.
    form = soup(get(admin, "/staff/admin/users").get_data(as_text=True)).find(
        "form", action="/staff/admin/users"
    )
    assert form.find("input", attrs={"type": "password"}) is None
    [mail] = [r for r in handler.received if r.rcpt_tos == ["nieuw@zorgaanbieder.example.org"]]
    assert "Uw account voor Ervaringswijzer" in str(mail.message["Subject"])
    body = mail.message.get_body(("plain",)).get_content()
    assert "72 uur" in body and "72 hours" in body
    with database(app) as db:
        row = db.scalar(select(AccountLink))
        assert row.expires_at - row.created_at == timedelta(hours=72)  # as the mail says
    [link] = links_to(handler, "nieuw@zorgaanbieder.example.org")

    colleague = app.test_client()
    moved = open_link(colleague, link)
    assert goes_to(moved, "/staff/account/password")  # the token leaves the address bar
    assert moved.headers["Referrer-Policy"] == "no-referrer"
    page = get(colleague, "/staff/account/password").get_data(as_text=True)
    assert "nieuw@zorgaanbieder.example.org" in text_of(page)
    mismatch = choose_password(colleague, NEW_PASSWORD, "iets anders dan het eerste")
    assert mismatch.status_code == 400
    assert field_error(mismatch.get_data(as_text=True), "repeat") == (
        "Fout: De twee wachtwoorden zijn niet hetzelfde."
    )
    weak = choose_password(colleague, "kort")
    assert field_error(weak.get_data(as_text=True), "new") == "Fout: Gebruik minstens 12 tekens."
    assert goes_to(choose_password(colleague, NEW_PASSWORD), MFA_URL)
    secret = enrolment_secret(get(colleague, MFA_URL).get_data(as_text=True))
    assert goes_to(submit_code(colleague, totp_code(secret)), HOME_URL)
    with database(app) as db:
        user = db.scalar(
            select(StaffUser).where(StaffUser.email == "nieuw@zorgaanbieder.example.org")
        )
        assert user.role == "quality" and user.totp_secret is not None
        assert [e.actor_email for e in audit_events(db, "invitation accepted")] == [user.email]
        stored = db.scalars(select(AccountLink.token_hash)).all()
    assert all(link.rsplit("/", 1)[1] not in h for h in stored)  # only hashes are kept

    # Used once: the same link again is refused with a page that says so.
    again = open_link(app.test_client(), link)
    assert again.status_code == 410 and refusal(again) == "Deze link is al gebruikt"
    sign_in(app.test_client(), "nieuw@zorgaanbieder.example.org", NEW_PASSWORD, secret)


def test_the_command_line_invites_by_email_and_never_asks_for_a_password(mailed):
    app, handler = mailed
    result = app.test_cli_runner().invoke(
        args=["users", "create", "Collega@Zorgaanbieder.example.org", "--role", "viewer"]
    )
    assert result.exit_code == 0, result.output
    assert "Invitation sent" in result.output and "Password" not in result.output
    [link] = links_to(handler, "collega@zorgaanbieder.example.org")
    client = app.test_client()
    open_link(client, link)
    assert goes_to(choose_password(client, NEW_PASSWORD), MFA_URL)


def test_an_expired_or_replaced_invitation_and_a_deactivated_account_are_refused(mailed):
    app, handler = mailed
    runner = app.test_cli_runner()
    for name in ("laat", "uit"):
        args = ["users", "create", f"{name}@zorgaanbieder.example.org", "--role", "viewer"]
        assert runner.invoke(args=args).exit_code == 0
    [late] = links_to(handler, "laat@zorgaanbieder.example.org")
    [off] = links_to(handler, "uit@zorgaanbieder.example.org")
    with database(app) as db:
        late_user = db.scalar(select(StaffUser).where(StaffUser.email.startswith("laat")))
        link_row = db.scalar(select(AccountLink).where(AccountLink.user_id == late_user.id))
        link_row.expires_at = link_row.created_at + LIFETIMES[LinkPurpose.INVITATION]
        link_row.created_at -= LIFETIMES[LinkPurpose.INVITATION] + timedelta(minutes=1)
        link_row.expires_at -= LIFETIMES[LinkPurpose.INVITATION] + timedelta(minutes=1)
        db.execute(update(StaffUser).where(StaffUser.email.startswith("uit")).values(active=False))
        db.commit()
    expired = open_link(app.test_client(), late)
    assert expired.status_code == 410 and refusal(expired) == "Deze link is verlopen"
    switched_off = open_link(app.test_client(), off)
    assert switched_off.status_code == 403 and refusal(switched_off) == "Dit account staat uit"
    unknown = open_link(app.test_client(), late[:-6] + "xxxxxx")
    assert unknown.status_code == 404 and refusal(unknown) == "Deze link werkt niet"
    with database(app) as db:
        reasons = [e.detail for e in audit_events(db, "account link refused")]
    assert sorted(reasons) == ["deactivated", "expired", "unknown"]


def test_a_link_opened_in_two_tabs_sets_one_password(mailed):
    app, handler = mailed
    app.test_cli_runner().invoke(
        args=["users", "create", "twee@zorgaanbieder.example.org", "--role", "viewer"]
    )
    [link] = links_to(handler, "twee@zorgaanbieder.example.org")
    first, second = app.test_client(), app.test_client()
    open_link(first, link)
    open_link(second, link)
    second_tab = get(second, PASSWORD_PAGE).get_data(as_text=True)
    assert goes_to(choose_password(first, NEW_PASSWORD), MFA_URL)
    other = "een ander wachtwoord van de tweede tab"
    late = post_with_token(second, second_tab, {"new": other, "repeat": other})
    assert late.status_code == 410
    assert (
        submit_password(
            app.test_client(), "twee@zorgaanbieder.example.org", NEW_PASSWORD
        ).status_code
        == 302
    )


def forgot(client, email: str):
    return post_form(client, "/staff/forgot", {"email": email})


def test_a_forgotten_password_is_reset_by_email_and_ends_every_session(mailed):
    app, handler = mailed
    with database(app) as db:
        user, password, secret = make_staff(db, "quality")
    laptop = sign_in(app.test_client(), user.email, password, secret)
    login_page = get(app.test_client(), LOGIN_URL).get_data(as_text=True)
    assert soup(login_page).find("a", href="/staff/forgot")

    known = forgot(app.test_client(), user.email)
    unknown = forgot(app.test_client(), "niemand@zorgaanbieder.example.org")
    assert known.status_code == unknown.status_code == 200

    def comparable(answer) -> str:
        page = soup(answer.get_data(as_text=True))
        for token in page.find_all("input", attrs={"name": "csrf_token"}):
            token["value"] = "TOKEN"
        return str(page.find("main"))

    assert comparable(known) == comparable(unknown)  # the same answer for both
    assert "Kijk in uw e-mail" in text_of(known.get_data(as_text=True))
    assert links_to(handler, "niemand@zorgaanbieder.example.org") == []
    [mail] = [r for r in handler.received if r.rcpt_tos == [user.email]]
    assert "Nieuw wachtwoord" in str(mail.message["Subject"])
    body = mail.message.get_body(("plain",)).get_content()
    assert "1 uur" in body and "1 hour" in body  # what the mail says is what the link does
    [link] = links_to(handler, user.email)
    with database(app) as db:
        row = db.scalar(select(AccountLink).where(AccountLink.user_id == user.id))
        assert row.expires_at - row.created_at == timedelta(hours=1)

    phone = app.test_client()
    open_link(phone, link)
    assert goes_to(choose_password(phone, NEW_PASSWORD), LOGIN_URL)
    assert goes_to(get(laptop, HOME_URL), LOGIN_URL)  # signed out everywhere
    with database(app) as db:
        assert db.scalar(select(StaffSession).where(StaffSession.user_id == user.id)) is None
        requested = audit_events(db, "password reset requested")
        # The unknown address is audited without the address itself.
        assert [(e.detail, e.actor_email) for e in requested] == [("no active account", None)]
        assert [e.actor_email for e in audit_events(db, "password reset")] == [user.email]
    assert submit_password(app.test_client(), user.email, password).status_code == 401
    sign_in(app.test_client(), user.email, NEW_PASSWORD, secret)  # the second factor stays
    used = open_link(app.test_client(), link)
    assert used.status_code == 410 and refusal(used) == "Deze link is al gebruikt"


def test_reset_requests_send_one_link_per_address_and_are_limited_per_ip(mailed):
    app, handler = mailed
    with database(app) as db:
        user = make_staff(db, "viewer")[0]
    statuses = []
    for n in range(5):  # someone asks again and again, from other addresses
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.9.0.{n + 1}"
        statuses.append(forgot(client, user.email).status_code)
    # The same answer every time (never a refusal that would lock the owner out), one mail.
    assert statuses == [200] * 5
    assert len(links_to(handler, user.email)) == 1
    one_address = app.test_client()
    one_address.environ_base["REMOTE_ADDR"] = "10.9.1.1"
    spray = [
        forgot(one_address, f"iemand{n}@zorgaanbieder.example.org").status_code for n in range(12)
    ]
    assert spray == [200] * 10 + [429] * 2


def test_a_deactivated_account_gets_no_reset_mail_and_its_link_stops_working(mailed):
    app, handler = mailed
    with database(app) as db:
        user = make_staff(db, "viewer")[0]
    forgot(app.test_client(), user.email)
    [link] = links_to(handler, user.email)
    client = app.test_client()
    open_link(client, link)  # opened while the account was active
    tab = get(client, PASSWORD_PAGE).get_data(as_text=True)
    with database(app) as db:  # an admin switches the account off
        admin = make_staff(db, "admin")[0]
        update_user(db, db.get(StaffUser, user.id), "deactivate", by=admin)
        db.commit()
    refused = post_with_token(client, tab, {"new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert refused.status_code == 410
    assert open_link(app.test_client(), link).status_code == 403
    forgot(app.test_client(), user.email)
    assert len(links_to(handler, user.email)) == 1  # nothing new for a switched-off account
    # Switched on again, the old link stays dead: switching off ended it.
    with database(app) as db:
        db.execute(update(StaffUser).where(StaffUser.id == user.id).values(active=True))
        db.commit()
    assert refusal(open_link(app.test_client(), link)) == "Deze link is verlopen"


def test_guessing_links_is_throttled_per_ip(mailed):
    app, _ = mailed
    guesser = app.test_client()
    statuses = [
        open_link(guesser, f"https://x/staff/link/gok{n:04d}").status_code for n in range(32)
    ]
    assert statuses == [404] * 30 + [429] * 2


def test_the_token_of_a_link_never_reaches_a_log_or_the_audit_log(mailed, caplog):
    app, handler = mailed
    app.test_cli_runner().invoke(
        args=["users", "create", "log@zorgaanbieder.example.org", "--role", "viewer"]
    )
    [link] = links_to(handler, "log@zorgaanbieder.example.org")
    token = link.rsplit("/", 1)[1]
    client = app.test_client()
    with caplog.at_level("DEBUG"):
        open_link(client, link)
        choose_password(client, NEW_PASSWORD)
    assert token not in caplog.text
    with database(app) as db:
        for event in db.scalars(select(AuditEvent)):
            assert token not in f"{event.action} {event.detail} {event.object_id}"
    from survey.web.security import redact

    assert (
        redact(f'"GET /staff/link/{token} HTTP/1.1" 302')
        == '"GET /staff/link/[token] HTTP/1.1" 302'
    )


def test_with_the_mail_server_down_the_admin_is_told_and_can_send_again(database_url, tmp_path):
    from tests.servers import free_port

    app = make_test_app(database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())
    admin, _ = signed_in_client(app, None, "admin")
    answer = post_form(
        admin, "/staff/admin/users", {"email": "later@zorgaanbieder.example.org", "role": "viewer"}
    )
    assert goes_to(answer, "/staff/admin/users")
    page = get(admin, "/staff/admin/users").get_data(as_text=True)
    assert "is niet verstuurd" in text_of(page)
    row = next(tr for tr in soup(page).find_all("tr") if "later@" in tr.get_text())
    assert row.find("input", attrs={"name": "action", "value": "invite"}) is not None
    app.extensions["db_engine"].dispose()
