"""The admin pages at work through real POSTs: importing trajectories and sending invitations.

Pages are read with BeautifulSoup: each figure is checked in the element that shows it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import func, select

from survey.models import Invitation
from tests.admin_pages import (
    GOOD_CSV,
    YESTERDAY,
    _admin,
    audit_events,
    counts,
    error_rows,
    outbox_numbers,
    post_page,
    summary_lines,
    upload,
)
from tests.factories import EPISODE_CSV_HEADER
from tests.staff_helpers import (
    database,
    fast_hashing,  # noqa: F401  (the fixture)
    get,
    signed_in_client,
)


def test_import_with_three_bad_rows_lists_each_by_line_and_column_and_saves_nothing(
    app: Flask,
) -> None:
    admin = _admin(app)
    content = (
        f"{EPISODE_CSV_HEADER}\n"
        f"G1,{YESTERDAY},Team Soest,Soest,Begeleiding,15,,ouder@example.org,nl\n"
        f"B1,31-02-2026,Team Soest,Soest,Begeleiding,15,,ouder1@example.org,nl\n"
        f"B2,{YESTERDAY},Team Soest,Soest,Begeleiding,99,,ouder2@example.org,nl\n"
        f"B3,{YESTERDAY},Team Soest,Soest,Begeleiding,15,,ouder3@example.org,de\n"
    )
    answer = upload(admin, content)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    problems = error_rows(page)
    assert [(line, column) for line, column, _ in problems] == [
        ("3", "end_date"),
        ("4", "youth_age"),
        ("5", "language"),
    ]
    assert all(problem for _, _, problem in problems)
    assert counts(app) == (0, 0)
    assert "import" not in {event.action for event in audit_events(app)}


def test_good_import_shows_the_summary_creates_invitations_and_is_audited(app: Flask) -> None:
    admin, user = signed_in_client(app, None, "admin")
    answer = upload(admin, GOOD_CSV)
    assert answer.status_code == 200
    summary = summary_lines(answer.text)
    assert summary["Rows read"] == "2"
    assert summary["Episodes"].startswith("2 new,")
    assert summary["Invitations created"].startswith("3 ")
    assert counts(app) == (2, 3)
    imports = [event for event in audit_events(app) if event.action == "import"]
    assert [(event.actor_id, event.actor_email, event.ip) for event in imports] == [
        (user.id, user.email, "127.0.0.1")
    ]


def test_send_now_queues_and_delivers_the_invitations_as_files(app: Flask) -> None:
    admin = _admin(app)
    assert upload(admin, GOOD_CSV).status_code == 200
    answer = post_page(admin, "/staff/admin/send", {}, page="/staff/admin/outbox")
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/staff/admin/outbox"
    outbox = Path(app.config["MAIL_FILE_DIR"])
    assert len(list(outbox.glob("**/*.eml"))) == 3
    with database(app) as db:
        assert db.scalar(select(func.count(Invitation.id)).where(Invitation.sent_at.is_(None))) == 0
    assert [event.action for event in audit_events(app)].count("send") == 1
    assert outbox_numbers(get(admin, "/staff/admin/outbox").text)[("invitation", "sent")] == "3"
