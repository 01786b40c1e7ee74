"""An address that opted out gets no further mail: not from later imports, and in whatever letter
case it comes back (addresses are compared in lower case; DESIGN §3, §6).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from survey.db import get_session
from survey.models import MailSuppression
from tests.mailroom import (
    BASE_ROWS,
    D0,
    OPTED,
    recipients_of,
    same_address,
    trajectory,
)
from tests.pages import csrf_token


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
