"""SMTP trouble never loses or doubles a message: outages, 4xx, 5xx and a server that hangs."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select

from survey.db import get_session
from survey.invitations.operations import create_due_invitation_messages
from survey.mail.messages import queue_invitation_messages
from survey.mail.outbox import deliver_outbox
from survey.mail.transports import make_transport
from survey.models import Invitation, OutboxMessage, utcnow
from tests.conftest import make_test_app
from tests.factories import make_invitation
from tests.servers import RecordingHandler, free_port, smtp_server

MESSAGES = 30


def queue_invitations(app, count: int, emails=None) -> datetime:
    """Create `count` due invitations and queue their messages; return the queueing time."""
    with app.app_context():
        session = get_session()
        for n in range(count):
            email = emails[n] if emails else f"gezin{n}@example.org"
            make_invitation(session, email=email)
        session.commit()
        now = utcnow()
        result = create_due_invitation_messages(
            session, app.config, now.date(), queue_invitation_messages
        )
        assert result.created == count
    return now


def deliver(app, at: datetime):
    with app.app_context():
        return deliver_outbox(get_session(), make_transport(app.config), app.config, now=lambda: at)


def invitation_messages(app) -> list[OutboxMessage]:
    with app.app_context():
        return list(
            get_session().scalars(select(OutboxMessage).where(OutboxMessage.kind == "invitation"))
        )


def test_smtp_down_for_a_day_then_every_message_arrives_once(database_url, tmp_path):
    port = free_port()  # nothing listens here yet: connections are refused
    app = make_test_app(database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    start = queue_invitations(app, MESSAGES)
    for hour in range(24):  # an operator's hourly cron during the outage
        result = deliver(app, start + timedelta(hours=hour, minutes=1))
        assert result.delivered == 0 and result.bounced == 0 and result.failed == 0
    assert {m.status for m in invitation_messages(app)} == {"pending"}
    tried = [m for m in invitation_messages(app) if m.attempts]
    # Each hourly pass stops at the first refused connection instead of trying all 30 in vain.
    assert sum(m.attempts for m in tried) == 24
    assert all("ConnectionRefusedError" in (m.last_error or "") for m in tried)

    with smtp_server(port=port) as (_, handler):
        result = deliver(app, start + timedelta(hours=25))
        again = deliver(app, start + timedelta(hours=26))
    assert result.delivered == MESSAGES
    assert again.delivered == 0
    ids = Counter(str(r.message["Message-ID"]) for r in handler.received)
    assert len(ids) == MESSAGES and set(ids.values()) == {1}
    assert ids.keys() == {m.message_id for m in invitation_messages(app)}
    with app.app_context():
        invitations = get_session().scalars(select(Invitation)).all()
        assert all(i.sent_at is not None and i.bounced_at is None for i in invitations)
    app.extensions["db_engine"].dispose()


class FlakyHandler(RecordingHandler):
    """Answers 451 (try again later) to the first attempt per recipient, 550 to 'weg@' always."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("weg@"):
            return "550 5.1.1 No such user"
        if address not in self.seen:
            self.seen.add(address)
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_temporary_refusals_are_retried_and_unknown_addresses_bounce(database_url, tmp_path):
    with smtp_server(FlakyHandler()) as (controller, handler):
        app = make_test_app(
            database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port
        )
        emails = ["een@example.org", "weg@example.org", "twee@example.org"]
        start = queue_invitations(app, 3, emails)
        first = deliver(app, start + timedelta(seconds=1))
        assert (first.delivered, first.retried, first.bounced) == (0, 2, 1)
        too_soon = deliver(app, start + timedelta(seconds=30))  # backoff: not yet
        assert (too_soon.delivered, too_soon.retried) == (0, 0)
        later = deliver(app, start + timedelta(minutes=2))
        assert later.delivered == 2
        # A week later: the reminders go to the two who did not answer, not to the bounce.
        week = deliver(app, start + timedelta(days=8))
        assert (week.reminders, week.cancelled) == (2, 1)
    recipients = [r.rcpt_tos[0] for r in handler.received]
    assert sorted(recipients) == ["een@example.org"] * 2 + ["twee@example.org"] * 2
    with app.app_context():
        session = get_session()
        bounced = session.scalars(
            select(Invitation).where(Invitation.email == "weg@example.org")
        ).one()
        assert bounced.bounced_at is not None and bounced.sent_at is None
        assert bounced.reminded_at is None
        statuses = dict(
            session.execute(
                select(OutboxMessage.recipient, OutboxMessage.status).where(
                    OutboxMessage.kind == "invitation"
                )
            ).all()
        )
        assert statuses == {
            "een@example.org": "sent",
            "weg@example.org": "bounced",
            "twee@example.org": "sent",
        }
    app.extensions["db_engine"].dispose()


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def test_server_that_never_answers_times_out_and_is_retried(database_url, tmp_path):
    with silent_server() as port:
        app = make_test_app(
            database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_TIMEOUT=1
        )
        start = queue_invitations(app, 5)
        outcome: dict[str, object] = {}
        began = time.monotonic()
        at = start + timedelta(seconds=1)
        worker = threading.Thread(target=lambda: outcome.update(result=deliver(app, at)))
        worker.start()
        worker.join(timeout=20)
        assert not worker.is_alive(), "delivery hung on a silent server"
        elapsed = time.monotonic() - began
    result = outcome["result"]
    assert result.retried == 1 and result.delivered == 0
    assert elapsed < 10  # one timeout, not one per message
    messages = invitation_messages(app)
    assert {m.status for m in messages} == {"pending"}
    tried = [m for m in messages if m.attempts]
    assert len(tried) == 1 and tried[0].next_attempt_at > start
    assert all(m.lease_owner is None for m in messages)  # the rest were released
    app.extensions["db_engine"].dispose()


def test_links_come_from_public_base_url_whatever_the_request_host(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path)
    with app.app_context():
        make_invitation(get_session(), email="gezin@example.org")
        get_session().commit()
    with smtp_server() as (controller, handler):
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
        # As the admin page of the staff issue will: sending inside a request with a forged Host.
        with app.test_request_context("/", base_url="http://evil.example:8080"):
            from survey.mail.worker import send_once

            result = send_once(get_session(), app.config, utcnow().date())
        assert result.delivery.delivered == 1
        body = handler.received[0].message.get_body(("plain",)).get_content()
    assert "evil.example" not in body
    assert "https://ervaringswijzer.test/s/" in body
    assert "https://ervaringswijzer.test/afmelden/" in body
    app.extensions["db_engine"].dispose()


def test_message_whose_link_expired_during_an_outage_is_given_up_not_bounced(
    database_url, tmp_path
):
    app = make_test_app(database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())
    start = queue_invitations(app, 1)
    result = deliver(app, start + timedelta(days=29))  # the link expired on day 28
    assert (result.failed, result.bounced, result.retried) == (1, 0, 0)
    with app.app_context():
        invitation = get_session().scalars(select(Invitation)).one()
        assert invitation.bounced_at is None and invitation.sent_at is None
    app.extensions["db_engine"].dispose()


class ExplodingTransport:
    """A transport with a bug: every send raises something that is not a mail error."""

    def send(self, mail) -> None:
        raise RuntimeError("a bug in the transport")

    def close(self) -> None:
        pass


def pooled_commit_settings(app) -> list[str]:
    """synchronous_commit on as many pooled connections as a few requests at once would take."""
    engine = app.extensions["db_engine"]
    with engine.connect() as a, engine.connect() as b, engine.connect() as c:
        return [x.exec_driver_sql("SHOW synchronous_commit").scalar() for x in (a, b, c)]


def test_a_delivery_pass_holds_one_connection_and_hands_the_pool_back_as_it_was(
    database_url, tmp_path
):
    # One checkout for the whole pass, not one (and a ping) per committed message; and the
    # pass's relaxed commit durability never reaches an answer or an import on the same pool.
    with smtp_server() as (controller, handler):
        app = make_test_app(
            database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port
        )
        start = queue_invitations(app, 12)
        engine = app.extensions["db_engine"]
        checkouts: list[int] = []
        event.listen(engine, "checkout", lambda *_: checkouts.append(1))
        result = deliver(app, start + timedelta(seconds=1))
        assert result.delivered == 12 and len(handler.received) == 12
        assert len(checkouts) == 1
    postgresql = engine.dialect.name == "postgresql"
    if postgresql:
        assert pooled_commit_settings(app) == ["on"] * 3

    # A pass that fails half-way throws its connection away and records nothing as sent.
    more = queue_invitations(app, 2)
    with app.app_context(), pytest.raises(RuntimeError, match="a bug in the transport"):
        deliver_outbox(
            get_session(), ExplodingTransport(), app.config, now=lambda: more + timedelta(1)
        )
    if postgresql:
        assert pooled_commit_settings(app) == ["on"] * 3
    statuses = Counter(m.status for m in invitation_messages(app))
    assert statuses == {"sent": 12, "pending": 2}
    app.extensions["db_engine"].dispose()
