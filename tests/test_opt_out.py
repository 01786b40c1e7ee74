"""Opting out of mail, through the real paths: CSV import, `send`, the link in a received email,
the confirm page and its POST with the page's CSRF token (DESIGN §3, §6).

A family that opts out gets no further mail at that address — no reminder, no invitation from a
later import, in whatever letter case the address comes back — while the address itself is only
remembered as a hash. Opting out is about mail: the survey link keeps working.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from survey.db import get_session
from survey.invitations import find_by_token, new_token
from survey.models import Episode, Invitation, MailSuppression, OutboxMessage, Response, utcnow
from survey.optout import address_hash
from tests.conftest import PUBLIC_BASE_URL, make_test_app
from tests.pages import csrf_token, links_in, parts, text_of
from tests.servers import RecordingHandler, smtp_server

HEADER = (
    "episode_id,end_date,team,municipality,care_type,youth_age,youth_email,parent_email,language"
)
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
) -> dict:
    """One row of the episode export."""
    return {
        "episode_id": episode_id,
        "end_date": f"{ended:%Y-%m-%d}",
        "team": f"Team {town}",
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


# -- the emails ---------------------------------------------------------------------------------


def test_every_email_has_one_opt_out_link_and_loads_nothing_remote(invited):
    _, reminders = invited.send(D0 + timedelta(days=7))
    assert len(reminders) == 6
    messages = [r.message for r in invited.handler.received]
    subjects = {m["Subject"] for m in messages}
    # Invitation and reminder, in Dutch and in English.
    assert subjects == {
        "Hoe was de hulp van MetMaya?",
        "Herinnering: hoe was de hulp van MetMaya?",
        "Your experience with MetMaya",
        "Reminder: your experience with MetMaya",
    }, subjects
    tokens_by_recipient: dict[str, set[str]] = {}
    for message in messages:
        bodies = parts(message)
        assert set(bodies) == {"plain", "html"}
        for subtype, body in bodies.items():
            opt_out = [u for u in links_in(body) if "/afmelden/" in u]
            survey = [u for u in links_in(body) if "/s/" in u]
            assert len(opt_out) == 1, (subtype, opt_out)
            assert body.count("/afmelden/") == 1, subtype
            match = OPT_OUT_LINK.fullmatch(opt_out[0])
            assert match, opt_out[0]
            # The opt-out link belongs to this very invitation: the same token as its survey link.
            assert SURVEY_LINK.fullmatch(survey[0]).group(1) == match.group(1)
            assert sorted(links_in(body)) == sorted(survey + opt_out)
            tokens_by_recipient.setdefault(message["To"].addresses[0].addr_spec, set()).add(
                match.group(1)
            )
        html = bodies["html"].lower()
        for remote in REMOTE_RESOURCES:
            assert remote not in html, remote
    # Each invitation has its own token; its reminder repeats it.
    assert len(tokens_by_recipient[OPTED]) == 2  # two trajectories, two invitations
    del tokens_by_recipient[OPTED]
    assert {len(tokens) for tokens in tokens_by_recipient.values()} == {1}


# -- the confirm page -----------------------------------------------------------------------------


def test_opening_the_opt_out_link_changes_nothing(invited):
    client = invited.app.test_client()
    path = invited.opt_out_path(OPTED, episode="OPT1")
    for _ in range(2):
        page = client.get(path)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert html.count('<form method="post"') == 1
        assert '<button type="submit"' in html
        assert "Ja, meld mij af" in text_of(html)
        assert csrf_token(html)
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "no-store" in page.headers["Cache-Control"]
    assert invited.invitation("OPT1").opted_out_at is None
    assert invited.invitation("OPT1").opened_at is None  # not the survey: not the funnel's "opened"
    assert invited.suppression_rows() == []
    assert invited.reminder_status("OPT1") == "pending"
    assert invited.reminder_status("OPT4") == "pending"


def test_post_without_or_with_a_wrong_csrf_token_changes_nothing(invited):
    client = invited.app.test_client()
    path = invited.opt_out_path(OPTED, episode="OPT1")
    client.get(path)  # a session cookie exists, as in a browser that showed the page
    for data in ({}, {"csrf_token": "not-the-token"}):
        refused = client.post(path, data=data)
        assert refused.status_code == 400
        assert "Probeer het nog een keer" in text_of(refused.get_data(as_text=True))
    assert invited.invitation("OPT1").opted_out_at is None
    assert invited.suppression_rows() == []
    assert invited.reminder_status("OPT1") == "pending"


def test_confirmed_opt_out_is_stored_as_a_hash_and_stops_the_reminder(invited):
    client = invited.app.test_client()
    path = invited.opt_out_path(OPTED, episode="OPT1")
    page = client.get(path).get_data(as_text=True)
    done = client.post(path, data={"csrf_token": csrf_token(page)})
    assert done.status_code == 200
    assert "afgemeld" in text_of(done.get_data(as_text=True))

    for episode in ("OPT1", "OPT4"):  # every invitation to the address, not only the clicked one
        assert invited.invitation(episode).opted_out_at is not None
        assert invited.reminder_status(episode) == "cancelled"
    assert invited.invitation("OPT1", "youth").opted_out_at is None  # the youth's own address
    assert invited.reminder_status("OPT1", "youth") == "pending"
    with invited.app.app_context():
        hashes = get_session().scalars(select(MailSuppression.address_hash)).all()
    assert hashes == [address_hash(OPTED)]
    for row in invited.suppression_rows():
        for value in row:
            assert "@" not in str(value) and "ouder" not in str(value).lower()

    output, arrived = invited.send(D0 + timedelta(days=7))
    assert sorted(recipients_of(arrived)) == [
        "ander@example.org",
        "jongere@example.org",
        "parent@example.org",
        "youth@example.org",
    ]
    assert "Reminders delivered:        4" in output, output


def test_opted_out_address_gets_no_mail_from_later_imports(mailroom):
    # A trajectory that is not due yet, already imported, for the same parent (other letter case).
    later = trajectory("OPT5", "Soest", ended=D0 + timedelta(days=2), parent="OUDER@Example.org")
    mailroom.import_rows([*BASE_ROWS, later])
    mailroom.send(D0)
    client = mailroom.app.test_client()
    path = mailroom.opt_out_path(OPTED, episode="OPT1")
    page = client.get(path).get_data(as_text=True)
    assert client.post(path, data={"csrf_token": csrf_token(page)}).status_code == 200

    again = mailroom.import_rows([*BASE_ROWS, later], name="again.csv")
    assert "Invitations created: 0" in again, again
    yesterday = D0 - timedelta(days=1)
    new_rows = [
        trajectory(
            "OPT6",
            "Baarn",
            ended=yesterday,
            age=17,
            youth="nieuw@example.org",
            parent="Ouder@Example.ORG",
        ),
        trajectory(
            "OPT7", "Baarn", ended=yesterday, age=13, youth="OUDER@EXAMPLE.ORG", language="en"
        ),
    ]
    mailroom.import_rows(new_rows, name="new.csv")
    for episode, group in (("OPT6", "parent"), ("OPT7", "youth")):
        stored = mailroom.invitation(episode, group)
        assert stored.email is None
        assert stored.opted_out_at is not None

    output, arrived = mailroom.send(D0 + timedelta(days=2))
    assert recipients_of(arrived) == ["nieuw@example.org"]  # the one new, not opted-out address
    assert "Delivered:                  1" in output, output
    delayed = mailroom.invitation("OPT5")
    # Never invited and marked opted out (whether its address is dropped now or by the purge).
    assert delayed.opted_out_at is not None
    assert delayed.token_hash is None and delayed.invited_at is None
    with mailroom.app.app_context():
        assert get_session().scalar(select(func.count()).select_from(MailSuppression)) == 1
    _, later_reminders = mailroom.send(D0 + timedelta(days=9))
    assert same_address(recipients_of(later_reminders), OPTED) == []
    assert all(same_address(r.rcpt_tos, OPTED) == [] for r in mailroom.handler.received[6:])


def test_opt_out_also_stops_reminders_to_the_address_in_other_letter_case(mailroom):
    """One address is one person whatever its spelling: a sibling's invitation already sent to
    `Ouder@example.org` must not get its reminder either (addresses are stored in lower case)."""
    sibling = trajectory("OPT8", "Baarn", parent="Ouder@example.org")
    mailroom.import_rows([*BASE_ROWS, sibling])
    mailroom.send(D0)
    episodes = {mailroom.episode_of(m) for m in mailroom.messages_to(OPTED)}
    assert {"OPT1", "OPT8"} <= episodes  # both invitations went to the one address
    client = mailroom.app.test_client()
    path = mailroom.opt_out_path(OPTED, episode="OPT1")
    page = client.get(path).get_data(as_text=True)
    assert client.post(path, data={"csrf_token": csrf_token(page)}).status_code == 200

    _, arrived = mailroom.send(D0 + timedelta(days=7))
    assert same_address(recipients_of(arrived), OPTED) == []
    assert mailroom.reminder_status("OPT8") == "cancelled"


# -- edge cases -----------------------------------------------------------------------------------


def test_opting_out_works_after_expiry_and_twice(invited):
    app = invited.app
    app.config["CLOCK"] = lambda: utcnow() + timedelta(days=29)  # past EXPIRE_AFTER_DAYS (28)
    client = app.test_client()
    path = invited.opt_out_path("ander@example.org")
    token = path.rsplit("/", 1)[1]
    assert client.get(f"/s/{token}").status_code == 410  # the survey link has expired

    page = client.get(path)
    assert page.status_code == 200
    done = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert done.status_code == 200
    assert "afgemeld" in text_of(done.get_data(as_text=True))
    first = invited.invitation("OPT3").opted_out_at
    assert first is not None

    # Twice: the page says so again, nothing else changes.
    again = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert again.status_code == 200
    assert "afgemeld" in text_of(again.get_data(as_text=True))
    shown = client.get(path)
    assert shown.status_code == 200
    assert "afgemeld" in text_of(shown.get_data(as_text=True))
    assert invited.invitation("OPT3").opted_out_at == first
    assert [row[0] for row in invited.suppression_rows()] == [address_hash("ander@example.org")]


def test_unknown_opt_out_link_shows_the_kind_not_found_page(invited):
    client = invited.app.test_client()
    for token in (new_token(), "abc", "x" * 44, "%00"):
        for response in (
            client.get(f"/afmelden/{token}"),
            client.post(f"/afmelden/{token}", data={"csrf_token": "whatever"}),
        ):
            assert response.status_code == 404, token
            assert "Deze link werkt niet" in text_of(response.get_data(as_text=True))
    assert invited.suppression_rows() == []


def test_survey_can_still_be_answered_after_opting_out(invited):
    client = invited.app.test_client()
    path = invited.opt_out_path("parent@example.org")
    page = client.get(path).get_data(as_text=True)
    done = client.post(path, data={"csrf_token": csrf_token(page)})
    assert "unsubscribed" in text_of(done.get_data(as_text=True))  # an English family

    survey = f"/s/{path.rsplit('/', 1)[1]}"
    form = client.get(survey)
    assert form.status_code == 200
    posted = client.post(
        survey,
        data={
            "csrf_token": csrf_token(form.get_data(as_text=True)),
            "self_direction": "6",
            "usefulness": "9",
        },
    )
    assert posted.status_code == 302, posted.get_data(as_text=True)
    answered = invited.invitation("OPT2")
    assert answered.responded_at is not None and answered.opted_out_at is not None
    with invited.app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Response)) == 1
    _, arrived = invited.send(D0 + timedelta(days=7))
    assert "parent@example.org" not in recipients_of(arrived)
