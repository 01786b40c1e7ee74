"""The audit log: who did what to which object from where, and never a secret or free text.

Pages are read with BeautifulSoup: the audit log's table cell by cell.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from survey.db import get_engine
from survey.models import AuditEvent
from tests.admin_pages import (
    GOOD_CSV,
    STRONG_PASSWORD,
    _admin,
    audit_rows,
    new_account,
    post_page,
    update,
    upload,
)
from tests.factories import make_invited
from tests.pages import csrf_token
from tests.staff_helpers import (
    database,
    fast_hashing,  # noqa: F401  (the fixture)
    get,
    make_staff,
    request,
    sign_in,
    signed_in_client,
    submit_password,
)


def test_audit_log_page_shows_who_did_what_to_which_object_from_where(app: Flask) -> None:
    admin, me = signed_in_client(app, None, "admin")
    with database(app) as db:
        user = make_staff(db, "viewer")[0]
    assert upload(admin, GOOD_CSV).status_code == 200
    assert post_page(admin, "/staff/admin/send", {}, page="/staff/admin/outbox").status_code == 302
    assert new_account(admin, "nieuw@example.org").status_code == 302
    for action in ("set_role", "reset_mfa", "deactivate"):
        assert update(admin, user.id, action, "quality").status_code == 302
    rows = audit_rows(get(admin, "/staff/admin/audit").text)
    seen = {row[2]: row for row in rows}
    for action in ("import", "send", "user created", "user set role", "user reset mfa"):
        assert action in seen, (action, rows)
        assert seen[action][1] == me.email
        assert seen[action][4] == "127.0.0.1"
    for action in ("user set role", "user reset mfa", "user deactivate"):
        assert seen[action][3] == f"user {user.id}"
    assert seen["sign-in"][1] == me.email


def test_audit_events_never_hold_a_password_token_secret_or_free_text(app: Flask) -> None:
    admin = _admin(app)
    secrets_seen: list[str] = [STRONG_PASSWORD, "fout wachtwoord 123", "onbekend@example.org"]
    with database(app) as db:
        user, password, secret = make_staff(db, "quality")
        _, survey_token = make_invited(db, email="familie@example.org")
    secrets_seen += [password, secret, survey_token, "familie@example.org"]
    # A wrong password, an unknown account, a wrong code.
    submit_password(app.test_client(), user.email, "fout wachtwoord 123")
    submit_password(app.test_client(), "onbekend@example.org", password)
    # Staff work: an account, an import, sending, a password change, an MFA reset.
    assert new_account(admin, "nieuw@example.org").status_code == 302
    assert upload(admin, GOOD_CSV).status_code == 200
    assert post_page(admin, "/staff/admin/send", {}, page="/staff/admin/outbox").status_code == 302
    colleague = sign_in(app.test_client(), user.email, password, secret)
    cookie = colleague.get_cookie(app.config["SESSION_COOKIE_NAME"])
    session = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    secrets_seen.append(session["_user_id"])  # the raw server-side session id
    change = {"current": password, "new": "nog een ander wachtwoord 55"}
    assert post_page(colleague, "/staff/password", change).status_code == 302
    secrets_seen.append("nog een ander wachtwoord 55")
    # A family answers, with a comment.
    comment = "Mijn begeleider Sanne luisterde echt naar mij"
    family = app.test_client()
    answers = {"self_direction": "9", "usefulness": "8", "comment": comment}
    answers["csrf_token"] = csrf_token(get(family, f"/s/{survey_token}").text)
    assert request(family, "POST", f"/s/{survey_token}", data=answers).status_code == 302
    secrets_seen.append(comment)
    for outgoing in Path(app.config["MAIL_FILE_DIR"]).glob("**/*.eml"):
        secrets_seen += re.findall(r"/s/([A-Za-z0-9_-]{20,})", outgoing.read_text())

    with app.app_context(), get_engine().connect() as connection:
        rows = connection.execute(AuditEvent.__table__.select()).all()
    assert len(rows) >= 8
    cells = [str(cell).lower() for row in rows for cell in row if cell is not None]
    for secret_value in secrets_seen:
        leaked = [cell for cell in cells if secret_value.lower() in cell]
        assert not leaked, f"{secret_value!r} stored in the audit log: {leaked}"
