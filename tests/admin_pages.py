"""Helpers for the admin pages: importing, sending, accounts and the audit log, through real POSTs.

Requests go through `tests.staff_helpers` (a fresh application context per request); pages are
read with BeautifulSoup (`tests.pages`).
"""

from __future__ import annotations

import io
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from survey.models import AuditEvent, Episode, Invitation
from tests.factories import EPISODE_CSV_HEADER
from tests.pages import csrf_token, one, table_rows
from tests.staff_helpers import database, get, request, signed_in_client

STRONG_PASSWORD = "een heel ander lang wachtwoord 77"
YESTERDAY = date.today() - timedelta(days=1)
GOOD_CSV = (
    f"{EPISODE_CSV_HEADER}\n"
    f"E1,{YESTERDAY},Team Soest,Soest,Begeleiding,15,jongere@example.org,ouder@example.org,nl\n"
    f"E2,{YESTERDAY},Team Leusden,Leusden,Behandeling,,,ouder2@example.org,en\n"
)


def _admin(app: Flask) -> FlaskClient:
    """A client signed in as a new admin."""
    return signed_in_client(app, None, "admin")[0]


def post_page(client: FlaskClient, url: str, data: dict[str, object], page: str | None = None):
    """POST `data` with the CSRF token of the form at `page` (default `url`), as a browser does."""
    token = csrf_token(get(client, page or url).text)
    return request(client, "POST", url, data={**data, "csrf_token": token})


def upload(client: FlaskClient, content: str):
    file = (io.BytesIO(content.encode("utf-8")), "episodes.csv")
    return post_page(client, "/staff/admin/import", {"file": file})


def error_rows(page: str) -> list[tuple[str, str, str]]:
    """(line, column, problem) of every row in the import's table of problems."""
    rows = table_rows(page, "table.errors")
    assert rows, "no table of problems on the page"
    return [(line, column, problem) for line, column, problem in rows]


def summary_lines(page: str) -> dict[str, str]:
    """The lines of the import's summary (`Label: figures`), by label."""
    summary = one(page, "pre.summary").get_text()
    lines = [line.partition(":") for line in summary.splitlines() if line.strip()]
    return {label.strip(): figures.strip() for label, _, figures in lines}


def outbox_numbers(page: str) -> dict[tuple[str, str], str]:
    """The outbox page's table: the Number cell of each row, by (kind, status)."""
    return {(row[0], row[1]): row[2] for row in table_rows(page) if len(row) == 3}


def audit_events(app: Flask) -> list[AuditEvent]:
    with database(app) as db:
        return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def counts(app: Flask) -> tuple[int, int]:
    with database(app) as db:
        return (
            db.scalar(select(func.count(Episode.id))),
            db.scalar(select(func.count(Invitation.id))),
        )


def new_account(client: FlaskClient, email: str, role: str = "quality"):
    """The accounts page's form: the account is made and its invitation mailed."""
    data = {"email": email, "role": role}
    return post_page(client, "/staff/admin/users", data)


def update(admin: FlaskClient, user_id: int, action: str, role: str = "viewer"):
    data = {"action": action, "role": role}
    return post_page(admin, f"/staff/admin/users/{user_id}", data, page="/staff/admin/users")


def audit_rows(page: str) -> list[list[str]]:
    """The cells of every row of the audit log's table (when, who, what, object, IP, details)."""
    one(page, "tbody")
    return table_rows(page)
