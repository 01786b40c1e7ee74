"""Mail benchmark: delivering invitations from the outbox against a raw smtplib loop.

Both send to the same local aiosmtpd sink, which runs in a process of its own as a relay would
(it accepts, counts and discards). Product: `deliver_outbox` with the SMTP transport — claim
with a lease, build the MIME message, send over one reused connection, mark sent — for
`messages` invitations queued through the real path, at a clock on which their reminders are
not yet due. Baseline: the same messages, already flattened to bytes, sent with
`smtplib.SMTP.sendmail` in a loop over one connection: the bare limit of the sink and the
protocol.

    python -m bench.mail DATABASE_URL --messages 20000
    python -m bench.mail DATABASE_URL --messages 20000 --plain mime   # without one fast path

`--plain NAME` times the product with one of its hand-written fast paths swapped for the plain
library path (`bench.mail_plain`), recorded as `mail-plain-NAME/...`: what each one gains.
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import socket
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from functools import partial

from sqlalchemy import create_engine, select

from bench.common import BENCH_MFA_KEY, BENCH_SECRET_KEY, process_peak_mb, record, seconds
from bench.mail_plain import VARIANTS, plain

TODAY = date(2026, 11, 25)
AT = datetime.combine(TODAY + timedelta(days=1), datetime.min.time()).replace(hour=12)


def _serve_sink(port: int, received, ready) -> None:
    """The sink process: an aiosmtpd server that counts every accepted message."""
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope) -> str:
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_app(url: str, port: int, folder: str):
    from survey import create_app

    return create_app(
        {
            "TESTING": False,
            "SECRET_KEY": BENCH_SECRET_KEY,
            "MFA_ENCRYPTION_KEY": BENCH_MFA_KEY,
            "DATABASE_URL": url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": port,
            "PUBLIC_BASE_URL": "https://bench.test",
            "MAIL_FILE_DIR": folder,
            "MAIL_FROM": "Ervaringswijzer <noreply@bench.example.org>",
        }
    )


def queue(app, messages: int) -> None:
    """`messages` episodes with a parent address, invited through the real path (not sent)."""
    from survey.db import Base, get_engine, get_session
    from survey.invitations.operations import create_due_invitation_messages
    from survey.mail.messages import queue_invitation_messages
    from survey.models import Episode, Invitation, Provider

    with app.app_context():
        Base.metadata.drop_all(get_engine())
        Base.metadata.create_all(get_engine())
        session = get_session()
        provider = Provider(slug="bench", name="Bench")
        for start in range(0, messages, 5000):
            for n in range(start, min(messages, start + 5000)):
                episode = Episode(
                    external_id=f"M{n}",
                    end_date=TODAY - timedelta(days=1),
                    team="Team",
                    municipality="Gemeente",
                    care_type="Begeleiding",
                    youth_age=9,
                    provider=provider,
                )
                episode.invitations.append(
                    Invitation(respondent_group="parent", email=f"ouder{n}@example.org")
                )
                session.add(episode)
            session.commit()
        create_due_invitation_messages(session, app.config, TODAY, queue_invitation_messages)
        session.commit()


def product(app) -> int:
    """One delivery pass at AT: the invitations are due, their reminders are not."""
    from survey.db import get_session
    from survey.mail.outbox import deliver_outbox
    from survey.mail.transports import make_transport

    with app.app_context():
        result = deliver_outbox(
            get_session(), make_transport(app.config), app.config, now=lambda: AT
        )
        assert result.reminders == 0, "reminders were due: the benchmark's clock is wrong"
        return result.delivered


def stored_messages(app) -> list[tuple[str, str, bytes]]:
    """Sender, recipient and bytes of every invitation message, as the product would send it."""
    from survey.db import get_session
    from survey.mail.messages import build_mail
    from survey.models import OutboxMessage

    with app.app_context():
        rows = (
            get_session()
            .scalars(select(OutboxMessage).where(OutboxMessage.kind == "invitation"))
            .all()
        )
        sender = app.config["MAIL_FROM"]
        mails = [build_mail(row, sender, AT) for row in rows]
        return [(mail.sender, mail.recipient, mail.data) for mail in mails]


def baseline(port: int, messages: list[tuple[str, str, bytes]]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for sender, recipient, body in messages:
            smtp.sendmail(sender, [recipient], body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="")
    parser.add_argument("--plain", choices=VARIANTS, help="swap out one fast path (or all)")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.INFO)
    port = free_port()
    received, ready = multiprocessing.Value("l", 0), multiprocessing.Event()
    sink = multiprocessing.Process(target=_serve_sink, args=(port, received, ready), daemon=True)
    sink.start()
    ready.wait(30)
    try:
        with tempfile.TemporaryDirectory() as folder:
            app = make_app(args.url, port, folder)
            product_times, baseline_times = [], []
            for _ in range(args.runs):
                # Product and baseline alternate, so drift on this shared machine hits both.
                queue(app, args.messages)
                messages = stored_messages(app)
                assert len(messages) == args.messages
                before = received.value
                with plain(args.plain):
                    product_times.append(seconds(lambda: product(app)))
                assert received.value - before == args.messages, received.value - before
                baseline_times.append(seconds(partial(baseline, port, messages)))
                assert received.value - before == 2 * args.messages
            made, base = statistics.median(product_times), statistics.median(baseline_times)
            backend = create_engine(args.url).dialect.name
            app.extensions["db_engine"].dispose()
    finally:
        sink.terminate()
        sink.join()
    record(
        f"mail-plain-{args.plain}{args.label}" if args.plain else f"mail{args.label}",
        ratio=base / made,  # throughput ratio: product messages/s over baseline messages/s
        target="(what the fast path gains)" if args.plain else ">= 0.5",
        baseline_s=base,
        product_s=made,
        messages=args.messages,
        peak_mb=process_peak_mb(),  # this process: queueing, the product and the baseline
        backend=backend,
    )


if __name__ == "__main__":
    sys.exit(main())
