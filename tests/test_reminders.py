"""Reminders and expiry over 40 simulated days, delivered to a real SMTP server.

200 invitations go out on day 0; families answer on a mix of days (or never). Every day the
operator runs `send --today`, then that day's families answer through the real form. Everyone who
had not answered by day 7 gets exactly one reminder, on day 7; nobody else gets one; answers after
the link expired (day 28) are refused and store nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from survey.db import get_session
from survey.invitations.operations import clock
from survey.models import Invitation, Response
from tests.conftest import PUBLIC_BASE_URL, make_test_app
from tests.factories import EPISODE_CSV_HEADER
from tests.pages import csrf_token, links_in, parts
from tests.servers import smtp_server

FAMILIES = 200
DAYS = 40
REMINDER_DAY = 7
EXPIRY_DAY = 28
HEADER = EPISODE_CSV_HEADER


def answering_day(n: int) -> int | None:
    """A spread of behaviour: never (1 in 5), early, on the reminder day, late, too late."""
    if n % 5 == 0:
        return None
    return (n * 7) % 36  # 0..35: before, on and after the reminder day, and after expiry


def write_export(tmp_path: Path, ended: date) -> Path:
    rows = [HEADER]
    for n in range(FAMILIES):
        language = "en" if n % 9 == 0 else "nl"
        rows.append(
            f"R{n},{ended:%Y-%m-%d},Team Soest,Soest,Begeleiding,,,gezin{n}@example.org,{language}"
        )
    path = tmp_path / "export.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def survey_path(message) -> str:
    link = next(u for u in links_in(parts(message)["plain"]) if "/s/" in u)
    return link.removeprefix(PUBLIC_BASE_URL)


def test_forty_days_of_reminders_and_expiry(database_url, tmp_path):
    start = date.today()
    day_holder = {"today": start}
    with smtp_server() as (controller, handler):
        app = make_test_app(
            database_url,
            tmp_path,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=controller.port,
            CLOCK=lambda: clock(day_holder["today"]),
        )
        runner = app.test_cli_runner()
        client = app.test_client()
        imported = runner.invoke(args=["import-episodes", str(write_export(tmp_path, start))])
        assert imported.exit_code == 0, imported.output

        received: dict[str, list[tuple[int, str]]] = {}  # recipient -> [(day, subject)]
        links: dict[int, str] = {}
        outcomes: dict[int, int] = {}
        for day in range(DAYS):
            today = start + timedelta(days=day)
            day_holder["today"] = today
            before = len(handler.received)
            sent = runner.invoke(args=["send", "--today", today.isoformat()])
            assert sent.exit_code == 0, sent.output
            for item in handler.received[before:]:
                recipient = item.rcpt_tos[0]
                received.setdefault(recipient, []).append((day, str(item.message["Subject"])))
                family = int(recipient.removeprefix("gezin").split("@")[0])
                links.setdefault(family, survey_path(item.message))
            for family in range(FAMILIES):
                if answering_day(family) != day:
                    continue
                path = links[family]
                page = client.get(path)
                token = csrf_token(page.get_data(as_text=True)) if page.status_code == 200 else ""
                answer = client.post(
                    path, data={"csrf_token": token, "self_direction": "7", "usefulness": "8"}
                )
                outcomes[family] = answer.status_code
        app_session_check(app, outcomes)
        app.extensions["db_engine"].dispose()

    for family in range(FAMILIES):
        messages = received[f"gezin{family}@example.org"]
        invitations = [
            (d, s) for d, s in messages if "Herinnering" not in s and "Reminder" not in s
        ]
        reminders = [(d, s) for d, s in messages if ("Herinnering" in s or "Reminder" in s)]
        assert [d for d, _ in invitations] == [0], (family, messages)
        answered_before_reminder = (
            answering_day(family) is not None and answering_day(family) < REMINDER_DAY
        )
        expected = [] if answered_before_reminder else [REMINDER_DAY]
        assert [d for d, _ in reminders] == expected, (family, messages)
        if reminders and family % 9 == 0:
            assert reminders[0][1].startswith("Reminder:")

    for family, status in outcomes.items():
        assert status == (302 if answering_day(family) < EXPIRY_DAY else 410), family


def app_session_check(app, outcomes: dict[int, int]) -> None:
    """The database agrees with what the families saw."""
    answered = [f for f, d in ((f, answering_day(f)) for f in outcomes) if d < EXPIRY_DAY]
    with app.app_context():
        session = get_session()
        assert session.scalar(select(func.count(Response.id))) == len(answered)
        reminded = session.scalar(
            select(func.count(Invitation.id)).where(Invitation.reminded_at.is_not(None))
        )
        expected = sum(
            1
            for f in range(FAMILIES)
            if answering_day(f) is None or answering_day(f) >= REMINDER_DAY
        )
        assert reminded == expected
