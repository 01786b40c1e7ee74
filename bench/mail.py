"""Mail benchmark: delivering invitations from the outbox against a raw smtplib loop.

Both send to the same local aiosmtpd sink (it accepts and discards). Product: `deliver_outbox`
with the SMTP transport — claim with a lease, send over one reused connection, mark sent, for
`messages` invitations queued through the real path. Baseline: the same messages (their stored
bytes) sent with `smtplib.SMTP.sendmail` in a loop over one connection: the bare limit of the
sink and the protocol.

    python -m bench.mail DATABASE_URL --messages 20000
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import sys
import tempfile
from datetime import date, timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select

from bench.common import median_seconds, record


class Sink:
    """An SMTP handler that accepts every message and keeps only a count."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_app(url: str, port: int, folder: str):
    from survey import create_app

    return create_app(
        {
            "TESTING": False,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": port,
            "PUBLIC_BASE_URL": "https://bench.test",
            "MAIL_FILE_DIR": folder,
            "MAIL_FROM": "Ervaringswijzer <noreply@bench.example.org>",
        }
    )


def queue(app, messages: int, today: date) -> None:
    """`messages` episodes with a parent address, invited through the real path (not sent)."""
    from survey.db import Base, get_engine, get_session
    from survey.invitations import clock, create_due_invitation_messages
    from survey.mail import queue_invitation_messages
    from survey.models import Episode, Invitation

    with app.app_context():
        Base.metadata.drop_all(get_engine())
        Base.metadata.create_all(get_engine())
        session = get_session()
        for start in range(0, messages, 5000):
            for n in range(start, min(messages, start + 5000)):
                episode = Episode(
                    external_id=f"M{n}",
                    end_date=today - timedelta(days=1),
                    team="Team",
                    municipality="Gemeente",
                    care_type="Begeleiding",
                    youth_age=9,
                )
                episode.invitations.append(
                    Invitation(respondent_group="parent", email=f"ouder{n}@example.org")
                )
                session.add(episode)
            session.commit()
        create_due_invitation_messages(session, app.config, today, queue_invitation_messages)
        session.commit()
        assert clock(today)


def product(app, today: date) -> int:
    from survey.db import get_session
    from survey.invitations import clock
    from survey.mail import deliver_outbox
    from survey.transports import make_transport

    with app.app_context():
        app.config["CLOCK"] = clock(today)
        result = deliver_outbox(get_session(), make_transport(app.config), app.config)
        return result.delivered


def stored_messages(app) -> list:
    """The invitation messages of the outbox as `build_email` makes them (the same bytes)."""
    from datetime import datetime

    from survey.db import get_session
    from survey.mail import build_email
    from survey.models import OutboxMessage

    with app.app_context():
        rows = (
            get_session()
            .scalars(select(OutboxMessage).where(OutboxMessage.kind == "invitation"))
            .all()
        )
        now = datetime(2026, 11, 25, 9)
        return [build_email(row, app.config["MAIL_FROM"], now) for row in rows]


def baseline(port: int, messages: list) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for message in messages:
            smtp.send_message(message)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.INFO)
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    today = date(2026, 11, 25)
    try:
        with tempfile.TemporaryDirectory() as folder:
            app = make_app(args.url, port, folder)
            delivered: list[int] = []
            made = median_seconds(
                lambda: delivered.append(product(app, today)),
                args.runs,
                lambda: queue(app, args.messages, today),
            )
            assert delivered == [args.messages] * args.runs, delivered
            queue(app, args.messages, today)  # a fresh outbox to take the messages from
            messages = stored_messages(app)
            assert len(messages) == args.messages
            before = sink.received
            base = median_seconds(lambda: baseline(port, messages), args.runs)
            assert sink.received - before == args.messages * args.runs
            backend = create_engine(args.url).dialect.name
            app.extensions["db_engine"].dispose()
    finally:
        controller.stop()
    record(
        f"mail{args.label}",
        ratio=base / made,  # throughput ratio: product messages/s over baseline messages/s
        target=">= 0.5",
        baseline_s=base,
        product_s=made,
        messages=args.messages,
        backend=backend,
    )


if __name__ == "__main__":
    sys.exit(main())
