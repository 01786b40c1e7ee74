"""The mail room of the opt-out tests: the app wired to a real SMTP server, driven like an
operator (CSV import, `send`) and a family (the links in a received email) would.

`mailroom` and `invited` are fixtures (registered in tests/conftest.py): an empty mail room, and
one with BASE_ROWS imported and their invitations sent today.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text

from survey.db import get_session
from survey.invitations.operations import find_by_token
from survey.models import Episode, Invitation, OutboxMessage
from tests.conftest import PUBLIC_BASE_URL, make_test_app
from tests.factories import EPISODE_CSV_HEADER
from tests.pages import links_in, parts
from tests.servers import RecordingHandler, smtp_server

HEADER = EPISODE_CSV_HEADER
TOKEN = r"[A-Za-z0-9_-]{43}"
SURVEY_LINK = re.compile(re.escape(PUBLIC_BASE_URL) + rf"/s/({TOKEN})")
OPT_OUT_LINK = re.compile(re.escape(PUBLIC_BASE_URL) + rf"/afmelden/({TOKEN})")
D0 = date.today()
ENDED = D0 - timedelta(days=3)
OPTED = "ouder@example.org"
# What would make a mail client load something (a tracking pixel, a remote stylesheet...).
REMOTE_RESOURCES = ("<img", "src=", "<link", "<script", "url(", "@import", "background=", "<iframe")


def trajectory(
    episode_id: str,
    town: str,
    *,
    ended: date = ENDED,
    age: int | None = None,
    youth: str = "",
    parent: str = "",
    language: str = "nl",
    team: str = "",
) -> dict:
    """One row of the episode export (team: 'Team <town>' unless given)."""
    return {
        "episode_id": episode_id,
        "end_date": f"{ended:%Y-%m-%d}",
        "team": team or f"Team {town}",
        "municipality": town,
        "care_type": "Begeleiding",
        "youth_age": "" if age is None else str(age),
        "youth_email": youth,
        "parent_email": parent,
        "language": language,
    }


# Both groups, Dutch and English. OPT4 is a sibling's trajectory: the same parent, with the same
# address, in a separate episode.
BASE_ROWS = [
    trajectory("OPT1", "Leusden", age=15, youth="jongere@example.org", parent=OPTED),
    trajectory(
        "OPT2",
        "Soest",
        age=16,
        youth="youth@example.org",
        parent="parent@example.org",
        language="en",
    ),
    trajectory("OPT3", "Soest", parent="ander@example.org"),
    trajectory("OPT4", "Leusden", parent=OPTED),
]


@dataclass
class Mailroom:
    """The app wired to a real SMTP server, driven like an operator and a family would."""

    app: Flask
    handler: RecordingHandler
    tmp_path: Path

    def import_rows(self, rows, name: str = "export.csv") -> str:
        path = self.tmp_path / name
        columns = HEADER.split(",")
        lines = [HEADER] + [",".join(row[column] for column in columns) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = self.app.test_cli_runner().invoke(args=["import-episodes", str(path)])
        assert result.exit_code == 0, result.output
        return result.output

    def send(self, day: date) -> tuple[str, list]:
        """One `send --today day`; returns its output and the messages that arrived during it."""
        before = len(self.handler.received)
        result = self.app.test_cli_runner().invoke(args=["send", "--today", day.isoformat()])
        assert result.exit_code == 0, result.output
        return result.output, self.handler.received[before:]

    def messages_to(self, address: str) -> list:
        return [r.message for r in self.handler.received if r.rcpt_tos == [address]]

    def opt_out_path(self, address: str, episode: str | None = None) -> str:
        """The opt-out link in the (only, or `episode`'s) invitation to `address`, as a path."""
        messages = [
            m
            for m in self.messages_to(address)
            if not m["Subject"].startswith(("Herinnering", "Reminder"))
        ]
        if episode is not None:
            messages = [m for m in messages if self.episode_of(m) == episode]
        assert len(messages) == 1, [m["Subject"] for m in messages]
        links = [u for u in links_in(parts(messages[0])["plain"]) if OPT_OUT_LINK.fullmatch(u)]
        assert len(links) == 1
        return links[0].removeprefix(PUBLIC_BASE_URL)

    def episode_of(self, message) -> str:
        """The episode a received message belongs to (via the hash of its token)."""
        token = SURVEY_LINK.search(parts(message)["plain"]).group(1)
        with self.app.app_context():
            return find_by_token(get_session(), token).episode.external_id

    def invitation(self, external_id: str, group: str = "parent") -> Invitation:
        with self.app.app_context():
            session = get_session()
            return session.scalars(
                select(Invitation)
                .join(Invitation.episode)
                .where(Invitation.respondent_group == group, Episode.external_id == external_id)
            ).one()

    def reminder_status(self, external_id: str, group: str = "parent") -> str:
        invitation_id = self.invitation(external_id, group).id
        with self.app.app_context():
            return get_session().scalar(
                select(OutboxMessage.status).where(
                    OutboxMessage.invitation_id == invitation_id,
                    OutboxMessage.kind == "reminder",
                )
            )

    def suppression_rows(self) -> list[tuple]:
        with self.app.app_context():
            rows = get_session().execute(text("SELECT * FROM mail_suppression"))
            return [tuple(row) for row in rows]


@pytest.fixture
def mailroom(database_url: str, tmp_path: Path) -> Iterator[Mailroom]:
    with smtp_server() as (controller, handler):
        app = make_test_app(
            database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port
        )
        yield Mailroom(app, handler, tmp_path)
        app.extensions["db_engine"].dispose()


@pytest.fixture
def invited(mailroom: Mailroom) -> Mailroom:
    """BASE_ROWS imported and their invitations sent today."""
    mailroom.import_rows(BASE_ROWS)
    output, arrived = mailroom.send(D0)
    assert "Delivered:                  6" in output, output
    assert len(arrived) == 6
    return mailroom


def same_address(recipients, address: str) -> list[str]:
    return [r for r in recipients if r.lower() == address.lower()]


def recipients_of(arrived) -> list[str]:
    return [address for received in arrived for address in received.rcpt_tos]
